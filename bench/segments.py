"""What a film's segments say about the search's settings, from a work folder kept by
`bench/film.py --keep` (drapto's default run): the data behind vmaf_subsample and
vmaf_overshoot.

    .venv/bin/python bench/segments.py WORK OUTPUT SOURCE

1. Subsampling: libvmaf on every frame of OUTPUT against SOURCE (8 bits, as drapto scores
   an 8-bit source), then per segment the mean of every N-th frame (as drapto picks them)
   against the mean of all.
2. The band: each segment's curve from its recorded final encodes (ln(100 - VMAF) linear
   in CRF, through the two nearest the target; one encode: the film's median slope), then
   the search replayed on those curves for several bands: encodes per segment (weighted by
   frames), mean VMAF excess, and bytes against encodes exactly at the target.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import record_of  # noqa: E402

from drapto import proc, quality  # noqa: E402
from drapto.search import calibration_goal, calibration_indices  # noqa: E402
from drapto.stages.encode import final_subsample  # noqa: E402
from drapto.stages.segments import segment_ids  # noqa: E402

TARGET = 93.0
BYTES_SLOPE = 0.12   # ln(bytes) per CRF step (film.BYTES_SLOPE)


class Curve:
    def __init__(self, crf: float, vmaf: float, slope: float, frames: int):
        self.crf, self.loss, self.slope, self.frames = crf, quality.loss(vmaf), slope, frames

    def vmaf(self, crf: float) -> float:
        return 100 - math.exp(self.loss + self.slope * (crf - self.crf))

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
        c, v = min(((f["crf"], f["vmaf"]) for f in r["search"]["finals"]),
                   key=lambda p: abs(p[1] - TARGET))
        out.append(Curve(c, v, s or median, r["frames"]))
    return out


def search(seg: Curve, first: float, slope: float, goal: quality.Target) -> dict[float, float]:
    """The final encodes the search makes on this curve (quality.next_final's rules)."""
    finals: dict[float, float] = {}
    while (c := quality.next_final(finals, first, slope, goal)) is not None:
        finals[c] = seg.vmaf(c)
    return finals


def replay(segs: list[Curve], goal: quality.Target, calibration: int, start: float
           ) -> tuple[float, float, float]:
    """(encodes per segment, mean excess, bytes against the target's) of a whole film."""
    cal = calibration_indices([s.frames for s in segs], calibration)
    narrow = calibration_goal(goal)
    done: dict[int, dict[float, float]] = {}
    for i in cal:
        done[i] = search(segs[i], quality.predict(start, 0, narrow, quality.DEFAULT_SLOPE),
                         quality.DEFAULT_SLOPE, narrow)
    learned = [quality.solve(done[i], TARGET, quality.DEFAULT_SLOPE) for i in cal]
    crf = statistics.median(c for c, _ in learned)
    slope = statistics.median([s for i, (_, s) in zip(cal, learned, strict=True)
                               if len(done[i]) >= 2] or [quality.DEFAULT_SLOPE])
    for i, seg in enumerate(segs):
        if i not in done:
            done[i] = search(seg, quality.predict(crf, 0, goal, slope), slope, goal)
    frames = sum(s.frames for s in segs)
    encodes = sum(len(done[i]) * s.frames for i, s in enumerate(segs)) / frames
    chosen = [quality.choose(done[i], goal)[0] for i in range(len(segs))]
    excess = statistics.fmean(done[i][c] for i, c in enumerate(chosen)) - TARGET
    spent = sum(math.exp(-BYTES_SLOPE * c) * s.frames for c, s in zip(chosen, segs, strict=True))
    exact = sum(math.exp(-BYTES_SLOPE * min(63.0, s.crossing(TARGET))) * s.frames for s in segs)
    return encodes, excess, spent / exact


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
    ns = ap.parse_args()
    segs = curves(ns.work)
    body = sorted(min(63.0, s.crossing(TARGET)) for s in segs)
    print(f"{len(segs)} segments; CRF at the target: median {statistics.median(body):.1f}, "
          f"middle 90 % {body[len(body) // 20]:.1f}-{body[-len(body) // 20 - 1]:.1f}")
    print("subsampling (libvmaf on every frame, per segment):")
    subsampling(ns.work, ns.output, ns.source)
    print("the band, replayed on the segments' curves (3 calibration segments from CRF 35):")
    for below, above in ((1.0, 1.0), (1.0, 1.5), (1.0, 2.0), (1.0, 3.0)):
        goal = quality.Target(TARGET, below, 10, 63, 3, above)
        encodes, excess, spent = replay(segs, goal, 3, 35)
        print(f"  {goal.band_text()}: {encodes:.2f} final encodes per segment, mean excess "
              f"{excess:+.2f}, bytes {spent:.2f} of encodes exactly at the target")


if __name__ == "__main__":
    main()
