"""balance.json: once every segment has its first kept encode, the segments to encode again
so that the film's frame-weighted mean VMAF is within film_tolerance of the target
(drapto/quality/film.py); adjust:N encodes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.media.records import Again, Balance, SegmentRecord
from drapto.quality import film
from drapto.stages.encode import first_encode
from drapto.stages.segments import segment_id
from drapto.stages.size import film_target
from drapto.work.graph import Building, Kind, Task, full_name, make_task, record_of

SCHEMA = Balance.SCHEMA


def run_balance(records: list[Path], target_vmaf: float, film_tolerance: float,
                crf_min: float, crf_max: float, target: Path) -> None:
    curves = [film.Curve.of(SegmentRecord.read(r)) for r in records]
    chosen = film.decide_balance(curves, target_vmaf, film_tolerance, crf_min, crf_max)
    slopes = {c.start: c.slope for c in curves}
    Balance(target_vmaf, film_tolerance,
            round(film.film_mean(curves), 3) if curves else None,
            {segment_id(start): Again(crf, round(slopes[start], 4))
             for start, crf in sorted(chosen.items())}).write(target)


def tasks(b: Building) -> Iterator[Task]:
    """balance (a step without action without quality targeting)."""
    up = b.up
    job, s = up.job, up.job.settings
    target = film_target(up)
    n = len(up.scenes.segments)
    firsts = [first_encode(up, i) for i in range(n)]
    if target is None:
        yield up.step(KIND, [full_name(t) for t in firsts])
        return
    yield up.add(make_task(
        job, KIND, None, run_balance,
        {"records": [record_of(t) for t in firsts],
         "target_vmaf": target, "film_tolerance": s.film_tolerance,
         "crf_min": s.crf_min, "crf_max": s.crf_max, "target": job.work.balance},
        firsts, KIND.doc, SCHEMA))


KIND = Kind("balance", 2,
            "balance.json: the segments encoded again so that the film's mean VMAF is "
            "within film_tolerance of the target.", make=tasks, decides=True)
