"""What a film's segments say about the search's band, the film's balance and
vmaf_subsample, from a work folder kept by `bench/film.py --keep` (drapto's default run).

    .venv/bin/python bench/segments.py WORK OUTPUT SOURCE [--replay-only]

WORK is the kept work root (work-default) or the input's folder in it.
1. The band and the balance: each segment's curve from its recorded final encodes
   (ln(100 - VMAF) linear in CRF through the encode nearest the target, with the slope of
   the two nearest; one encode: the film's median slope; bytes halving every 6 steps), then
   the default pipeline replayed on those curves by drapto's own code (the calibration
   segments, search.run for each search, search.run_calibration, film.decide_balance)
   for several bands, with and without the balance: final encodes per segment (weighted by
   frames), the film's frame-weighted mean against the target (and that of the first
   encodes), the lowest segment, and bytes against encodes exactly at the target.
2. Subsampling (unless --replay-only): libvmaf on every frame of OUTPUT against SOURCE (8
   bits, as drapto scores an 8-bit source), then per segment the mean of every N-th frame
   (as drapto picks them) against the mean of all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import common

from drapto.media import records
from drapto.quality import decisions as quality
from drapto.quality import film, search
from drapto.quality.policy import Quality
from drapto.quality.segment_run import final_subsample
from drapto.settings import Settings
from drapto.stages.segments import segment_id

# (vmaf_tolerance, vmaf_overshoot, film_tolerance or None: no balance); the default is ±2
# with the balance.
BANDS = ((1.0, 2.0, None), (2.0, 2.0, None), (2.0, 1.0, 0.5), (2.0, 2.0, 0.5),
         (2.0, 3.0, 0.5))


def own_slope(finals: list[dict[str, Any]], target: float) -> float | None:
    """The slope through the two encodes nearest the target, if they give one in bounds."""
    near = sorted(finals, key=lambda f: abs(f["vmaf"] - target))[:2]
    if len(near) < 2:
        return None
    (c0, v0), (c1, v1) = sorted((f["crf"], f["vmaf"]) for f in near)
    if c1 == c0 or v1 == v0:
        return None
    s = (quality.loss(v1) - quality.loss(v0)) / (c1 - c0)
    low, high = quality.SLOPE_BOUNDS
    return s if low < s < high else None


def curves(folder: Path, target: float) -> list[film.Curve]:
    """Each segment's true curve: through its recorded final encode nearest the target, with
    its own slope, else the film's median slope."""
    scenes = json.loads((folder / "scenes.json").read_text())
    finals = [common.record_of(folder, segment_id(s["start"]))["search"]["finals"]
              for s in scenes["segments"]]
    frames = [s["frames"] for s in scenes["segments"]]
    own = [own_slope(f, target) for f in finals]
    median = statistics.median(s for s in own if s is not None)
    out = []
    for i, (fs, s) in enumerate(zip(finals, own)):
        f = min(fs, key=lambda f: abs(f["vmaf"] - target))
        out.append(film.Curve(i, frames[i], {f["crf"]: (f["vmaf"], f["bytes"])}, s or median,
                              f["crf"]))
    return out


def crossing(c: film.Curve, vmaf: float) -> float:
    return quality.solve({crf: v for crf, (v, _) in c.points.items()}, vmaf, c.slope)[0]


def replay(segs: list[film.Curve], q: Quality, count: int, balance: float | None
           ) -> dict[str, float]:
    """The default pipeline on the segments' true curves: the *count* calibration segments
    (the lead from the defaults, the others from it), calibration.json from their records,
    every other segment's search from it, then, with *balance* (film_tolerance), the
    balance's encodes."""
    encodes = [0] * len(segs)

    def searched(i: int, prior: search.Prior) -> records.SegmentRecord:
        def measure(crf: float, final: bool) -> search.Measurement:
            encodes[i] += 1
            return search.Measurement(round(segs[i].vmaf_at(crf), 3),
                                      round(segs[i].bytes_at(crf)))
        state = search.SearchState("replay")
        goal = search.goal_of(q, prior)
        out = search.run(state, prior, goal, True, measure, lambda: None)
        finals = tuple(records.Tried(c, m.vmaf, m.bytes) for c, m in sorted(state.finals.items()))
        found = records.SearchRecord(
            q.target_vmaf, goal.tolerance, goal.above, q.preset, q.search_preset, {},
            out.fast_crf, out.slope, prior.shift, prior, out.predicted, (), finals)
        scored = records.Scored(state.finals[out.crf].vmaf, None, out.reached, q.target_vmaf,
                                q.vmaf_pool, (q.target_vmaf - q.vmaf_tolerance,
                                              q.target_vmaf + q.vmaf_overshoot),
                                None, None, found)
        return records.SegmentRecord(i, segs[i].frames, out.crf, q.preset, None, (), False, (),
                                     state.finals[out.crf].bytes, scored)

    cal = search.calibration_indices([s.frames for s in segs], count)
    lead = search.calibration_lead(cal)
    kept = {} if lead is None else {lead: searched(lead, search.Prior.default(q))}
    for i in cal:
        if i not in kept:
            kept[i] = searched(i, search.Prior.default(q) if lead is None
                               else search.Prior.after_lead(kept[lead], q))
    with tempfile.TemporaryDirectory() as tmp:  # run_calibration reads and writes files
        paths = [Path(tmp) / f"{i}.json" for i in cal]
        for i, path in zip(cal, paths):
            kept[i].write(path)
        search.run_calibration(paths, Path(tmp) / "calibration.json")
        prior = search.Prior.from_calibration(
            records.Calibration.read(Path(tmp) / "calibration.json"), q)
    for i in range(len(segs)):
        if i not in kept:
            kept[i] = searched(i, prior)
    first = film.film_mean([film.Curve.of(r) for r in kept.values()])
    if balance is not None:
        chosen = film.decide_balance([film.Curve.of(r) for r in kept.values()],
                                     q.target_vmaf, balance, q.crf_min, q.crf_max)
        for i, crf in chosen.items():
            kept[i] = searched(i, search.Prior.balancing(crf, film.Curve.of(kept[i]).slope))
    frames = sum(s.frames for s in segs)
    true = [s.vmaf_at(kept[i].crf) for i, s in enumerate(segs)]
    spent = sum(s.bytes_at(kept[i].crf) for i, s in enumerate(segs))
    exact = sum(s.bytes_at(min(q.crf_max, crossing(s, q.target_vmaf))) for s in segs)
    return {"encodes": sum(e * s.frames for e, s in zip(encodes, segs)) / frames,
            "first": first - q.target_vmaf,
            "mean": sum(v * s.frames for v, s in zip(true, segs)) / frames - q.target_vmaf,
            "lowest": min(true), "bytes": spent / exact}


def subsampling(folder: Path, output: Path, source: Path) -> None:
    log = folder / "every-frame.vmaf.json"
    scores = [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]] \
        if log.exists() else common.frame_vmaf(output, source, pix_fmt="yuv420p", log=log)
    segments = json.loads((folder / "scenes.json").read_text())["segments"]
    for n in (5, 9, 15, 25):
        errors = []
        for s in segments:
            frames = scores[s["start"]:s["start"] + s["frames"]]
            every = final_subsample(len(frames), n)
            errors.append(abs(statistics.fmean(frames[::every]) - statistics.fmean(frames)))
        errors.sort()
        scored = sum(-(-s["frames"] // final_subsample(s["frames"], n)) for s in segments)
        print(f"  every {n:2d}th frame: {scored} frames scored; off the whole segment by "
              f"{statistics.fmean(errors):.2f} on average, {errors[int(0.95 * len(errors))]:.2f}"
              f" at the 95th percentile, {errors[-1]:.2f} at most")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="the kept work folder of a bench/film.py run")
    ap.add_argument("output", type=Path, help="that run's output (for the subsampling)")
    ap.add_argument("source", type=Path, help="that run's source (for the subsampling)")
    ap.add_argument("--replay-only", action="store_true", help="skip the subsampling pass")
    ap.add_argument("--calibration", default="",
                    help="also replay the default band with these calibration_segments "
                         "(comma-separated)")
    ns = ap.parse_args()
    folder = ns.work if (ns.work / "scenes.json").exists() else common.input_folder(ns.work)
    defaults = Settings()
    base = Quality.of(defaults, records.Probe.read(folder / "probe.json").video)
    segs = curves(folder, base.target_vmaf)
    body = sorted(min(base.crf_max, crossing(s, base.target_vmaf)) for s in segs)
    print(f"{len(segs)} segments; CRF at the target: median {statistics.median(body):.1f}, "
          f"middle 90 % {body[len(body) // 20]:.1f}-{body[-len(body) // 20 - 1]:.1f}")
    print(f"the default pipeline replayed on the segments' curves "
          f"({defaults.calibration_segments} calibration segments from CRF "
          f"{base.search_start_crf:g}; bytes against encodes exactly at the target):")
    for below, above, balance in BANDS:
        q = dataclasses.replace(base, vmaf_tolerance=below, vmaf_overshoot=above)
        r = replay(segs, q, defaults.calibration_segments, balance)
        what = "no balance" if balance is None else f"balance ±{balance:g}"
        print(f"  {q.target().band_text()}, {what}: {r['encodes']:.2f} final encodes per "
              f"segment; film mean {r['mean']:+.2f} (first encodes {r['first']:+.2f}); "
              f"lowest segment {r['lowest']:.2f}; bytes {r['bytes']:.2f}")
    for count in (int(c) for c in ns.calibration.split(",") if c):
        r = replay(segs, base, count, defaults.film_tolerance)
        print(f"  calibration_segments={count}: {r['encodes']:.2f} final encodes per segment; "
              f"film mean {r['mean']:+.2f} (first encodes {r['first']:+.2f}); lowest segment "
              f"{r['lowest']:.2f}; bytes {r['bytes']:.2f}")
    if not ns.replay_only:
        print("subsampling (libvmaf on every frame, per segment):")
        subsampling(folder, ns.output, ns.source)


if __name__ == "__main__":
    main()
