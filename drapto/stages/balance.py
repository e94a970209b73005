"""balance.json: once every segment has its first kept encode, the segments to encode again
so that the film's frame-weighted mean VMAF is within film_tolerance of the target
(drapto/film.py); adjust:N encodes them."""

from __future__ import annotations

from pathlib import Path

from .. import film
from ..graph import Task, Upstream, make_task
from ..records import SegmentRecord
from ..workdir import write_json
from .encode import film_target, first_encode
from .segments import segment_id

SCHEMA = 1
DOC = ("balance.json: the segments encoded again so that the film's mean VMAF is within "
       "film_tolerance of the target.")


def run_balance(records: list[Path], target_vmaf: float, film_tolerance: float,
                crf_min: float, crf_max: float, target: Path) -> None:
    curves = [film.Curve.of(SegmentRecord.read(r)) for r in records]
    chosen = film.decide_balance(curves, target_vmaf, film_tolerance, crf_min, crf_max)
    slopes = {c.start: c.slope for c in curves}
    write_json(target, {
        "schema": SCHEMA, "target": target_vmaf, "tolerance": film_tolerance,
        "mean": round(film.film_mean(curves), 3) if curves else None,
        "segments": {segment_id(start): {"crf": crf, "slope": round(slopes[start], 4)}
                     for start, crf in sorted(chosen.items())}})


def task(up: Upstream) -> Task:
    """balance (a step without action without quality targeting)."""
    job, s = up.job, up.job.settings
    target = film_target(up)
    n = len(up.scenes.segments)
    firsts = [first_encode(up, i) for i in range(n)]
    if target is None:
        return up.step("balance", [t["meta"]["task"] for t in firsts], DOC)
    return up.add(make_task(
        job, "balance", None, run_balance,
        {"records": [t["meta"]["target"].with_suffix(".json") for t in firsts],
         "target_vmaf": target, "film_tolerance": s.film_tolerance,
         "crf_min": s.crf_min, "crf_max": s.crf_max, "target": job.work.balance},
        firsts, DOC, SCHEMA))

