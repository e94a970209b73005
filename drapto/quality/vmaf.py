"""VMAF as libvmaf measures it: the pixel format and model it scores with, the filter graph
that scores an encode in the FFmpeg run that makes it, its log read back, and the pooling
of a segment's frame scores."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError


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


def scoring_format(source_bits: int, pixel_format: str) -> str:
    """The pixel format libvmaf scores in: 8 bits when the source or the output has no
    more (an 8-bit source holds nothing finer to score, and libvmaf's 8-bit path is
    cheaper: verification +4.7 % of the final encode against +6.4 %, a probe 21.5 %
    against 24.8 %, measured by a phase bench since retired: git log -- bench/phases.py),
    else 10 bits."""
    return "yuv420p10le" if source_bits > 8 and "10" in pixel_format else "yuv420p"


@dataclass(frozen=True)
class Scoring:
    """How an encode is scored: libvmaf's model, every *subsample*-th frame, both pictures
    converted to *pixel_format*."""
    model: str
    subsample: int
    pixel_format: str


MIN_SIDE = 18  # the smallest picture side libvmaf scores


def vmaf_graph(frames_label: str, scoring: Scoring, log: str, threads: int = 2) -> str:
    """A filter graph scoring the encode (loopback decoder ``dec:0``) against *frames_label*,
    the frames it was made from, both converted to the scoring's pixel format; both are
    timed by frame number so they pair one to one. libvmaf's *threads* work on different
    frames: the scores do not depend on their number."""
    fmt, every, pick = scoring.pixel_format, scoring.subsample, ""
    if every >= 3:
        # libvmaf computes its motion feature on every frame it is handed, scored or not;
        # a scored frame's motion needs only the frame before and after it. Handing it
        # those triplets (scoring every 3rd) gives the same scores for less work.
        pick = (f"select='eq(mod(n\\,{every})\\,0)+eq(mod(n+1\\,{every})\\,0)"
                f"+eq(mod(n-1\\,{every})\\,0)',")
        every = 3
    # libvmaf crashes on a picture under 18 pixels either way (measured: 17x17 and 16x64
    # fail, 18x18 works); both sides are padded alike to that size.
    fit = f"pad='max(iw\\,{MIN_SIDE})':'max(ih\\,{MIN_SIDE})',"
    return (f"[dec:0]settb=AVTB,setpts=N,{pick}{fit}format={fmt}[vd];"
            f"[{frames_label}]settb=AVTB,setpts=N,{pick}{fit}format={fmt}[vr];"
            f"[vd][vr]libvmaf=model=version={scoring.model}:n_subsample={every}"
            f":log_fmt=json:log_path={log}:n_threads={threads}[vo]")


def read_scores(log: Path) -> list[float]:
    """Per-frame VMAF from a libvmaf JSON log (the caller removes the log)."""
    data: dict[str, Any] = json.loads(log.read_text(encoding="utf-8"))
    return [float(f["metrics"]["vmaf"]) for f in data.get("frames", [])]


def model_for(width: int, height: int) -> str:
    """The 4K model above 2560x1440, else the 1080p one."""
    return "vmaf_4k_v0.6.1" if width * height > 2560 * 1440 else "vmaf_v0.6.1"
