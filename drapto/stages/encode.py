"""encode:N, each segment's AV1 encode (its search from calibration.json with quality
targeting), and adjust:N, a segment encoded again at the CRF balance.json gives it; and
which encode of each segment the film is joined from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.media.records import Balance
from drapto.quality.search import Balancing, FromCalibration, FromDefaults
from drapto.stages import size
from drapto.stages.calibration import CALIBRATE, calibration_sample, sample_task
from drapto.stages.segment_task import encode_task, video_of
from drapto.stages.segments import segment_ids
from drapto.work.graph import Building, Kind, Task, Upstream, target_of


def takes_sample(up: Upstream) -> set[int]:
    """The calibration segments whose sample is the film's encode: all of them, unless the
    film's target was lowered below the one they were searched for."""
    sample = calibration_sample(up)
    video = video_of(up)
    if not sample or video.quality is None or \
            size.film_target(up) != video.quality.target_vmaf:
        return set()
    return set(sample)


def tasks(b: Building) -> Iterator[Task]:
    """encode:N for every segment but the calibration ones whose sample is kept; with
    quality targeting, each starts its search from calibrate."""
    up = b.up
    video = video_of(up, size.film_target(up))
    calibration = up.get(CALIBRATE.name) if video.quality else None
    start = FromCalibration(up.job.work.calibration) if calibration else FromDefaults()
    ids, kept = segment_ids(up.scenes), takes_sample(up)
    for i, sid in enumerate(ids):
        if i not in kept:
            yield encode_task(up, ENCODE, i, up.job.work.encoded(sid), video, b.threads,
                              f"AV1 encode of segment {i:04d}", start,
                              [calibration] if calibration else [], b.stowed)


def adjust_tasks(b: Building) -> Iterator[Task]:
    """adjust:N for each segment balance.json names: encoded again at its CRF."""
    up = b.up
    if up.job.settings.quality != "vmaf":
        return
    balance = Balance.read(up.job.work.balance)
    if not balance.segments:
        return
    video = video_of(up, balance.target)
    for i, sid in enumerate(segment_ids(up.scenes)):
        again = balance.segments.get(sid)
        if again:
            yield encode_task(up, ADJUST, i, up.job.work.adjusted(sid), video, b.threads,
                              f"segment {i:04d} encoded again for the film's mean",
                              Balancing(again), stowed=b.stowed)


def first_encode(up: Upstream, i: int) -> Task:
    """The task of segment *i*'s first kept encode: its encode, or its calibration sample."""
    return up.get(ENCODE.at(i)) if up.has(ENCODE.at(i)) else sample_task(up, i)


def final_encode(up: Upstream, i: int) -> Task:
    """The task of the encode of segment *i* that the film is joined from."""
    return up.get(ADJUST.at(i)) if up.has(ADJUST.at(i)) else first_encode(up, i)


def final_targets(up: Upstream) -> list[Path]:
    """The encoded segments the film is joined from, in order (their records beside them).
    Read from the tasks made so far: once they are all made, the same list for each step
    that asks."""
    made = len(up.made)
    if up.finals is None or up.finals[0] != made:
        up.finals = (made, [target_of(final_encode(up, i))
                            for i in range(len(up.scenes.segments))])
    return list(up.finals[1])


ENCODE = Kind("encode", 2,
              "encode:N: the AV1 encode of segment N (with quality targeting, its search).",
              make=tasks, per_segment="first")
ADJUST = Kind("adjust", 3,
              "adjust:N: segment N encoded again at the CRF balance.json gives it, to bring "
              "the film's mean VMAF to the target.", make=adjust_tasks, per_segment="again")
