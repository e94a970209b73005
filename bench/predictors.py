"""What could tell a segment's crossing of the target before encoding it: on a finished
film's work folder (``bench/film.py --keep``), each candidate feature's correlation with
the segments' crossings, and how often a first encode from it would land in the band.

    .venv/bin/python bench/predictors.py WORK_FOLDER SOURCE [--si-width 240]

A segment's crossing is where its own final encodes put the target (drapto.quality.solve);
its VMAF at another CRF is read off its encodes (interpolated in ln(100 - VMAF)). The
first encode as run is at the record's ``predicted_crf`` (the calibration's median, or
its nearest); each feature predicts it again from the calibration segments that reached
the target (what calibrate has), keeping the run's offset from their median (the aim).
Features: the source's bytes per frame (scenes.json), the time neighbours' misses (the
segments before and after, as a second wave would know them), FFmpeg's scdet MAFD (in the
scene pass's log already) and siti's spatial information (one more filter in that pass).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import common  # noqa: F401 (this checkout's drapto on the path)

from drapto.media import proc
from drapto.quality import decisions as quality
from drapto.quality.decisions import loss

TARGET, LOW, HIGH = 93.0, 91.0, 95.0


def per_frame(source: Path, vf: str, key: str) -> list[float]:
    """*key* of each frame from FFmpeg's metadata print after the filters *vf*."""
    pattern = re.compile(re.escape(key) + r"=([\d.]+)")
    values: list[float] = []

    def line(text: str) -> None:
        if m := pattern.search(text):
            values.append(float(m.group(1)))
    proc.run(["-v", "info", "-nostats", "-i", str(source), "-map", "0:V:0", "-vf",
              f"{vf},metadata=mode=print", "-f", "null", "-"], what="features", on_err=line)
    return values


def vmaf_at(points: dict[float, float], crf: float) -> float:
    ps = sorted(points.items())
    if len(ps) == 1:
        c, v = ps[0]
        return 100 - math.exp(loss(v) + quality.DEFAULT_SLOPE * (crf - c))
    for (c1, v1), (c2, v2) in zip(ps, ps[1:]):
        if crf <= c2 or c2 == ps[-1][0]:
            t = (crf - c1) / (c2 - c1)
            return 100 - math.exp(loss(v1) + t * (loss(v2) - loss(v1)))
    return ps[-1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="a film's work folder (WORK/<name>-<hash>/)")
    ap.add_argument("source", type=Path)
    ap.add_argument("--si-width", type=int, default=240)
    ns = ap.parse_args()
    scenes = json.loads((ns.work / "scenes.json").read_text())
    points: dict[int, dict[float, float]] = {}
    predicted: dict[int, float] = {}
    calibration: list[int] = []
    for kind in ("calibration", "encoded"):
        for path in sorted((ns.work / kind).glob("*.json")):
            r = json.loads(path.read_text())
            if "start" not in r or "search" not in r:
                continue
            points[r["start"]] = {float(f["crf"]): float(f["vmaf"])
                                  for f in r["search"]["finals"]}
            if kind == "encoded":
                predicted[r["start"]] = float(r["search"]["predicted_crf"])
            elif r.get("reached"):
                calibration.append(r["start"])
    starts = sorted(points)
    cross = {s: quality.solve(points[s], TARGET, quality.DEFAULT_SLOPE)[0] for s in starts}
    others = [s for s in starts if s in predicted]
    median = statistics.median(cross[c] for c in calibration)
    offset = statistics.median(predicted[s] - median for s in others)

    def hit(s: int, crf: float) -> bool:
        return LOW <= vmaf_at(points[s], min(63.0, max(10.0, quality.quarter(crf)))) <= HIGH

    def first_hit(guess: Callable[[int], float]) -> float:
        return sum(hit(s, guess(s)) for s in others) / len(others)

    segs = {seg["start"]: seg for seg in scenes["segments"]}
    mafd = per_frame(ns.source, "settb=AVTB,scdet=threshold=100", "lavfi.scd.mafd")
    si = per_frame(ns.source, f"scale='min({ns.si_width},iw)':-2:flags=fast_bilinear,siti",
                   "lavfi.siti.si")

    def mean_over(values: list[float], s: int) -> float:
        seg = segs[s]
        return statistics.fmean(values[seg["start"]:seg["start"] + seg["frames"]] or [0.0])
    features = {
        "source bytes per frame (log)": {s: math.log(max(1, segs[s].get("source_bytes") or 1)
                                                     / segs[s]["frames"]) for s in starts},
        "scdet MAFD": {s: mean_over(mafd, s) for s in starts},
        f"siti SI at {ns.si_width} wide": {s: mean_over(si, s) for s in starts},
    }
    print(f"{len(starts)} segments, {len(calibration)} calibration segments that reached the "
          f"target, {len(others)} encoded from the calibration")
    print(f"crossings: sd {statistics.pstdev(cross.values()):.1f} CRF steps; first encode in "
          f"the band as run: {first_hit(lambda s: predicted[s]):.2f}; if each segment's own "
          f"crossing were known: {first_hit(lambda s: cross[s]):.2f}")
    miss = {s: cross[s] - predicted[s] for s in others}
    pairs = [(miss[a], miss[b]) for a, b in zip(starts, starts[1:]) if a in miss and b in miss]
    xs, ys = zip(*pairs)

    def from_neighbours(s: int) -> float:
        i = starts.index(s)
        near = [miss[starts[j]] for j in (i - 1, i + 1)
                if 0 <= j < len(starts) and starts[j] in miss]
        return predicted[s] + (statistics.fmean(near) if near else 0.0)
    print(f"time neighbours' misses: correlation {statistics.correlation(xs, ys):.2f}; "
          f"first encode in the band {first_hit(from_neighbours):.2f}")
    for name, f in features.items():
        r = statistics.correlation([cross[s] for s in starts], [f[s] for s in starts])
        xs = [f[c] for c in calibration]
        ys = [cross[c] for c in calibration]
        slope = statistics.covariance(xs, ys) / statistics.variance(xs)
        fit = statistics.fmean(ys) - slope * statistics.fmean(xs)

        def nearest(s: int, feature: dict[int, float] = f) -> float:
            near = sorted(calibration, key=lambda c: abs(feature[c] - feature[s]))[:3]
            return statistics.median(cross[c] for c in near) + offset

        def linear(s: int, feature: dict[int, float] = f, a: float = fit, b: float = slope
                   ) -> float:
            return a + b * feature[s] + offset
        print(f"{name}: correlation {r:.2f}; first encode in the band from the 3 nearest "
              f"calibration segments {first_hit(nearest):.2f}, from a line through them "
              f"{first_hit(linear):.2f}")


if __name__ == "__main__":
    main()
