"""What a film's segments say about the search's settings, from a work folder kept by
`bench/film.py --keep` (drapto's default run): the data behind vmaf_subsample, the band
and film_tolerance.

    .venv/bin/python bench/segments.py WORK OUTPUT SOURCE [--replay-only]

1. Subsampling: libvmaf on every frame of OUTPUT against SOURCE (8 bits, as drapto scores
   an 8-bit source), then per segment the mean of every N-th frame (as drapto picks them)
   against the mean of all.
2. The band and the balance: each segment's curve from its recorded final encodes
   (ln(100 - VMAF) linear in CRF, through the two nearest the target; one encode: the
   film's median slope; bytes halving every 6 steps), then the default pipeline replayed on
   those curves with drapto's own functions for several bands, with and without the film's
   balance: final encodes per segment (weighted by frames), the film's frame-weighted mean
   against the target (and that of the first encodes), the lowest segment, and bytes
   against encodes exactly at the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import record_of  # noqa: E402

from drapto import film, proc, quality, search  # noqa: E402
from drapto.encoding import Quality  # noqa: E402
from drapto.stages.encode import final_subsample  # noqa: E402
from drapto.stages.segments import segment_ids  # noqa: E402

TARGET = 93.0
BYTES_SLOPE = 0.12   # ln(bytes) per CRF step (film.BYTES_SLOPE)


class Curve:
    def __init__(self, crf: float, vmaf: float, slope: float, frames: int, at_bytes: int):
        self.crf, self.loss, self.slope, self.frames = crf, quality.loss(vmaf), slope, frames
        self.at_bytes = at_bytes

    def vmaf(self, crf: float) -> float:
        return 100 - math.exp(self.loss + self.slope * (crf - self.crf))

    def bytes(self, crf: float) -> float:
        return self.at_bytes * math.exp(-BYTES_SLOPE * (crf - self.crf))

    def crossing(self, vmaf: float) -> float:
        return self.crf + (quality.loss(vmaf) - self.loss) / self.slope


def curves(work: Path) -> list[Curve]:
    records = [record_of(work, sid)
               for sid in segment_ids(json.loads((work / "scenes.json").read_text()))]
    own: list[float | None] = []
    for r in records:
        near = sorted(((f["crf"], f["vmaf"]) for f in r["search"]["finals"]),
                      key=lambda p: abs(p[1] - TARGET))[:2]
        s = None
        if len(near) == 2:
            (c0, v0), (c1, v1) = sorted(near)
            if c1 != c0 and v1 != v0:
                s = (quality.loss(v1) - quality.loss(v0)) / (c1 - c0)
        own.append(s if s is not None and 0.01 < s < 0.4 else None)
    median = statistics.median(s for s in own if s is not None)
    out = []
    for r, s in zip(records, own, strict=True):
        c, v, b = min(((f["crf"], f["vmaf"], f["bytes"]) for f in r["search"]["finals"]),
                      key=lambda p: abs(p[1] - TARGET))
        out.append(Curve(c, v, s or median, r["frames"], b))
    return out


def replay(segs: list[Curve], q: Quality, balance: float | None) -> dict[str, float]:
    """The default pipeline replayed on the segments' curves with drapto's own functions
    (search.run, run_calibration, film.decide_balance): the calibration, every other
    segment's search, then, with *balance* (film_tolerance), the balance's re-encodes."""
    encodes = [0] * len(segs)

    def searched(i: int, prior: search.Prior) -> dict[str, Any]:
        def measure(crf: float, final: bool) -> search.Measurement:
            encodes[i] += 1
            return search.Measurement(round(segs[i].vmaf(crf), 3), round(segs[i].bytes(crf)))
        state = search.State("replay")
        out = search.run(state, prior, search.goal_of(q, prior), True, measure, lambda: None)
        return {"start": i, "frames": segs[i].frames, "crf": out.crf, "reached": out.reached,
                "target_vmaf": q.target_vmaf, "vmaf": state.finals[out.crf].vmaf,
                "search": {"target": q.target_vmaf, "fast_crf": out.fast_crf,
                           "slope": out.slope, "finals": [
                               {"crf": c, "vmaf": m.vmaf, "bytes": m.bytes}
                               for c, m in sorted(state.finals.items())]}}

    cal = search.calibration_indices([s.frames for s in segs], 3)
    kept = {i: searched(i, search.Prior.default(q)) for i in cal}
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{i}.json" for i in cal]
        for i, path in zip(cal, paths, strict=True):
            path.write_text(json.dumps(kept[i]))
        search.run_calibration(paths, Path(tmp) / "calibration.json")
        calibration = json.loads((Path(tmp) / "calibration.json").read_text())
    prior = search.Prior.from_calibration(calibration, q)
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
    true = [segs[i].vmaf(kept[i]["crf"]) for i in range(len(segs))]
    spent = sum(segs[i].bytes(kept[i]["crf"]) for i in range(len(segs)))
    exact = sum(s.bytes(min(63.0, s.crossing(TARGET))) for s in segs)
    return {"encodes": sum(e * s.frames for e, s in zip(encodes, segs, strict=True)) / frames,
            "first": first - TARGET,
            "mean": sum(v * s.frames for v, s in zip(true, segs, strict=True)) / frames - TARGET,
            "lowest": min(true), "bytes": spent / exact}


def subsampling(work: Path, output: Path, source: Path) -> None:
    log = work / "every-frame.vmaf.json"
    if not log.exists():
        proc.run(["-v", "error", "-i", str(output), "-i", str(source), "-filter_complex",
                  "[0:v]settb=AVTB,setpts=N,format=yuv420p[d];"
                  "[1:v]settb=AVTB,setpts=N,format=yuv420p[r];"
                  f"[d][r]libvmaf=log_fmt=json:log_path={log.name}:n_threads=2",
                  "-f", "null", "-"], what="VMAF", cwd=work)
    scores = [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]]
    segments = json.loads((work / "scenes.json").read_text())["segments"]
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
    ap.add_argument("work", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("source", type=Path)
    ap.add_argument("--replay-only", action="store_true", help="skip the subsampling pass")
    ns = ap.parse_args()
    segs = curves(ns.work)
    body = sorted(min(63.0, s.crossing(TARGET)) for s in segs)
    print(f"{len(segs)} segments; CRF at the target: median {statistics.median(body):.1f}, "
          f"middle 90 % {body[len(body) // 20]:.1f}-{body[-len(body) // 20 - 1]:.1f}")
    if not ns.replay_only:
        print("subsampling (libvmaf on every frame, per segment):")
        subsampling(ns.work, ns.output, ns.source)
    print("the default pipeline replayed on the segments' curves (3 calibration segments "
          "from CRF 35; bytes against encodes exactly at the target):")
    base = Quality(target_vmaf=TARGET, vmaf_tolerance=2.0, vmaf_overshoot=2.0, crf_min=10,
                   crf_max=63, search_attempts=3, vmaf_pool="mean", search_start_crf=35,
                   preset=6, search_preset=10, search="final", search_sample=0.25,
                   vmaf_subsample=9, vmaf_model="vmaf_v0.6.1", vmaf_scoring="yuv420p")
    for below, above, balance in ((1.0, 2.0, None), (2.0, 2.0, None), (2.0, 1.0, 0.5),
                                  (2.0, 2.0, 0.5), (2.0, 3.0, 0.5)):
        q = dataclasses.replace(base, vmaf_tolerance=below, vmaf_overshoot=above)
        r = replay(segs, q, balance)
        what = "no balance" if balance is None else f"balance ±{balance:g}"
        print(f"  {q.target().band_text()}, {what}: {r['encodes']:.2f} final encodes per "
              f"segment; film mean {r['mean']:+.2f} (first encodes {r['first']:+.2f}); "
              f"lowest segment {r['lowest']:.2f}; bytes {r['bytes']:.2f}")


if __name__ == "__main__":
    main()
