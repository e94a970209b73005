"""Quality targeting: VMAF of an encoded segment against its source frames, and the CRF
search that reaches a target VMAF with the fewest bytes.

The search is a pure function of the probes so far (CRF -> measured VMAF): it is tested on
recorded tables, and a segment interrupted mid-search resumes from its recorded probes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import proc
from .errors import DraptoError

# VMAF points per CRF step assumed before two probes give the segment's own slope.
DEFAULT_SLOPE = 0.5


@dataclass(frozen=True)
class Target:
    vmaf: float
    tolerance: float      # a probe within [vmaf, vmaf + tolerance] is good enough
    crf_min: int
    crf_max: int
    attempts: int         # encodes at most, per segment


def pool(scores: list[float], how: str) -> float:
    """Pool per-frame VMAF: ``mean``, ``harmonic`` mean or ``pN`` (the N-th percentile)."""
    if not scores:
        raise DraptoError("VMAF: no frame was scored")
    if how == "mean":
        return sum(scores) / len(scores)
    if how == "harmonic":
        return len(scores) / sum(1 / (s + 1) for s in scores) - 1  # libvmaf's definition
    if how.startswith("p"):
        ordered = sorted(scores)
        k = (len(ordered) - 1) * float(how[1:]) / 100
        lo, hi = math.floor(k), math.ceil(k)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
    raise DraptoError(f"vmaf_pool {how!r}: expected mean, harmonic or pN")


def next_crf(probes: dict[int, float], target: Target, start: int) -> int | None:
    """The CRF to encode next, or None when the search is over (see :func:`choose`)."""
    if len(probes) >= target.attempts:
        return None
    if not probes:
        return max(target.crf_min, min(target.crf_max, start))
    good = {c: v for c, v in probes.items() if v >= target.vmaf}
    bad = {c: v for c, v in probes.items() if v < target.vmaf}
    best = max(good) if good else None
    if best is not None and good[best] - target.vmaf <= target.tolerance:
        return None  # close enough above the target
    if best is not None and best + 1 in bad:
        return None  # the next CRF up misses: this is the one
    if best is not None and best >= target.crf_max:
        return None
    if not good and min(probes) <= target.crf_min:
        return None  # even the best quality allowed misses
    if best is not None and bad and min(bad) > best:  # bracketed: interpolate
        lo, hi = best, min(bad)
        guess = lo + (good[lo] - target.vmaf) / (good[lo] - bad[hi]) * (hi - lo)
        return max(lo + 1, min(hi - 1, math.floor(guess)))  # the passing side of the line
    # One side only: step by the segment's slope (from its two nearest probes) or the default.
    ordered = sorted(probes)
    slope = DEFAULT_SLOPE
    if len(ordered) >= 2:
        a, b = ordered[-2:] if good else ordered[:2]
        if probes[a] != probes[b]:
            slope = min(3.0, max(0.2, (probes[a] - probes[b]) / (b - a)))
    anchor = best if best is not None else min(probes)
    value = probes[anchor]
    crf = anchor + round((value - target.vmaf - target.tolerance / 2) / slope)
    crf = max(target.crf_min, min(target.crf_max, crf))
    if crf in probes:  # never the same encode twice
        crf = anchor + (1 if value >= target.vmaf else -1)
    return None if crf in probes or not target.crf_min <= crf <= target.crf_max else crf


def choose(probes: dict[int, float], target: Target) -> tuple[int, bool]:
    """The CRF to keep: the highest that reaches the target, else the best there is."""
    good = [c for c, v in probes.items() if v >= target.vmaf]
    if good:
        return max(good), True
    return max(probes, key=lambda c: probes[c]), False


def measure(source: Path, encoded: Path, selection: list[str], frames: int, seek: list[str],
            model: str, subsample: int, log: Path, what: str) -> list[float]:
    """Per-frame VMAF (every *subsample*-th frame) of *encoded* against the source frames it
    was made from: the same seek and *selection* (crop, deinterlace, first frame) as the
    encode, both streams timed by frame number so frames pair one to one."""
    ref = ",".join([*selection, f"trim=end_frame={frames}", "setpts=N", "format=yuv420p10le"])
    graph = (f"[0:v]settb=AVTB,setpts=N,format=yuv420p10le[d];[1:v]{ref}[r];"
             f"[d][r]libvmaf=model=version={model}:n_subsample={subsample}"
             f":log_fmt=json:log_path={log.name}:n_threads=2")
    proc.run(["-v", "error", "-i", str(encoded), "-noaccurate_seek", "-copyts",
              "-seek_timestamp", "1", *seek, "-i", str(source), "-filter_complex", graph,
              "-f", "null", "-"], what=what, cwd=log.parent)
    try:
        data: dict[str, Any] = json.loads(log.read_text(encoding="utf-8"))
    finally:
        log.unlink(missing_ok=True)
    return [float(f["metrics"]["vmaf"]) for f in data.get("frames", [])]


def model_for(width: int, height: int) -> str:
    """The 4K model above 2560x1440, else the 1080p one."""
    return "vmaf_4k_v0.6.1" if width * height > 2560 * 1440 else "vmaf_v0.6.1"
