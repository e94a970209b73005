"""Segments' AV1 encodes as tasks: sample:N and calibration:N (the calibration),
calibrate, encode:N and adjust:N. The work of one encode is
:func:`drapto.segment_encode.run_encode`; this module chooses where it runs (here, or on a
Dask cluster) and makes the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import search
from ..cluster import run_encode_remote
from ..encoding import Video
from ..graph import Task, Upstream, make_task, tagged
from ..segment_encode import run_encode
from ..workdir import read_json
from .segments import segment_ids, segment_of

SCHEMA = 2
DOC = "encode:N: the AV1 encode of segment N (with quality targeting, its search)."
SAMPLE_DOC = ("sample:N: a calibration segment the size decision is made from, searched "
              "from the defaults (the lead) or from where the lead crossed the target.")
MORE_DOC = ("calibration:N: a further calibration segment, searched from where the lead "
            "crossed the target, once the size decision lets the film be encoded.")
CALIBRATE_DOC = ("calibration.json: where the quality search of the film's segments starts, "
                 "from the calibration segments.")
ADJUST_DOC = ("adjust:N: segment N encoded again at the CRF balance.json gives it, to bring "
              "the film's mean VMAF to the target.")


def execute_encode(executor: str, name: str, **kwargs: Any) -> None:
    """An encode's action: ``run_encode`` here, or on the Dask cluster of ``executor``."""
    if executor == "local":
        run_encode(**kwargs)
    else:
        run_encode_remote(executor, name, kwargs)


# What does not change an encode's bytes: where it runs, its name and number, how many
# threads and how much memory it may use.
UNKEYED = ("executor", "name", "index", "threads", "memory_budget", "memory_estimates")


def _video(up: Upstream, target_vmaf: float | None = None) -> Video:
    video = Video.of(up.job.settings, up.probe, up.scenes)
    if video.quality and target_vmaf is not None:
        video = replace(video, quality=video.quality.at(target_vmaf))
    return video


def base_sample(up: Upstream) -> list[int]:
    """The first calibration segments: calibration_segments of them spread over the film,
    the lead and the size decision among them (none without quality targeting)."""
    s = up.job.settings
    if s.quality != "vmaf":
        return []
    return search.calibration_indices([seg.frames for seg in up.scenes.segments],
                                      s.calibration_segments)


def calibration_sample(up: Upstream) -> list[int]:
    """The segments the film is calibrated on: the first ones and, on a long film, a
    segment in SEGMENTS_PER_SAMPLE more, spread over it (:func:`drapto.search.wave_size`)."""
    base = base_sample(up)
    if not base:
        return []
    frames = [seg.frames for seg in up.scenes.segments]
    more = search.calibration_indices(
        frames, search.wave_size(len(frames), up.job.settings.calibration_segments))
    return sorted({*base, *more})


def _encode_task(up: Upstream, basename: str, i: int, target: Path, video: Video,
                 threads: int, doc: str, calibration: Task | None = None,
                 balance: dict[str, float] | None = None,
                 stowed: Callable[[], bool] | None = None, lead: Task | None = None) -> Task:
    """*stowed*: whether the output holds the video this run would join (then the encode may
    have been removed by tidy); a calibration sample has none: tidy keeps it, since the size
    decision and every segment's search start from it."""
    job, s = up.job, up.job.settings
    name, sid = f"{i:04d}", segment_ids(up.scenes)[i]
    return up.add(make_task(
        job, basename, name, execute_encode,
        {"executor": s.executor, "name": tagged(job, f"{basename}:{name}"), "index": i,
         "source": job.source, "segment": segment_of(up.scenes, i), "crop": job.work.crop,
         "target": target, "video": video, "threads": threads,
         "memory_budget": s.memory_budget, "memory_estimates": s.memory_estimates,
         "calibration": job.work.calibration if calibration else None,
         **({"balance": balance} if balance else {}),
         **({"lead": lead["meta"]["target"].with_suffix(".json")} if lead else {})},
        [up.get("crop"), *([calibration] if calibration else []),
         *([lead] if lead else [])],
        doc, SCHEMA, unkeyed=UNKEYED, stamp_as=f"{basename}:{sid}", stowed=stowed))


def size_sample(up: Upstream) -> list[int]:
    """The calibration segments the size decision is made from (layer 1: sample:N); the
    others (calibration:N) are encoded only once it lets the film be encoded."""
    return search.size_indices(base_sample(up))


def sample_tasks(up: Upstream, threads: int) -> Iterator[Task]:
    """With quality targeting: sample:N for the calibration segments the size decision is
    made from. The lead (search.calibration_lead) is searched first, alone; the others
    start from where it crossed the target."""
    lead = search.calibration_lead(base_sample(up))
    first = None if lead is None else _calibration_task(up, "sample", lead, threads, None)
    if first:
        yield first
    for i in size_sample(up):
        if i != lead:
            yield _calibration_task(up, "sample", i, threads, first)


def _calibration_task(up: Upstream, basename: str, i: int, threads: int,
                      lead: Task | None) -> Task:
    """Calibration segment *i*'s encode, after the *lead*'s (None: it is the lead, or alone)."""
    solo = lead is None and len(calibration_sample(up)) > 1
    return _encode_task(up, basename, i, up.job.work.sample(segment_ids(up.scenes)[i]),
                        _video(up), threads, f"calibration encode of segment {i:04d}"
                        + (" (the lead)" if solo else ""), lead=lead)


def calibration_tasks(up: Upstream, threads: int) -> Iterator[Task]:
    """With quality targeting, once the size decision lets the film be encoded:
    calibration:N for the calibration segments it was not made from, then calibrate."""
    sample = calibration_sample(up)
    if not sample:
        return
    lead = search.calibration_lead(base_sample(up))
    first = None if lead is None else up.get(f"sample:{lead:04d}")
    decided = set(size_sample(up))
    yield from (_calibration_task(up, "calibration", i, threads, first) for i in sample
                if i not in decided)
    yield up.add(make_task(up.job, "calibrate", None, search.run_calibration,
                           {"records": [up.job.work.sample(segment_ids(up.scenes)[i])
                                        .with_suffix(".json") for i in sample],
                            "target": up.job.work.calibration,
                            "film_frames": up.scenes.frames},
                           [sample_task(up, i) for i in sample], CALIBRATE_DOC, search.SCHEMA))


def sample_task(up: Upstream, i: int) -> Task:
    """Calibration segment *i*'s task: sample:N or calibration:N."""
    name = f"sample:{i:04d}"
    return up.get(name) if tagged(up.job, name) in up.made else up.get(f"calibration:{i:04d}")


def film_target(up: Upstream) -> float | None:
    """The target the film's segments are encoded at (size.json: the asked one, or the
    lowered one); None without quality targeting."""
    if up.job.settings.quality != "vmaf":
        return None
    return float(read_json(up.job.work.size)["target"])


def takes_sample(up: Upstream) -> set[int]:
    """The calibration segments whose sample is the film's encode: all of them, unless the
    film's target was lowered below the one they were searched for."""
    sample = calibration_sample(up)
    video = _video(up)
    if not sample or video.quality is None or film_target(up) != video.quality.target_vmaf:
        return set()
    return set(sample)


def tasks(up: Upstream, threads: int, stowed: Callable[[], bool]) -> Iterator[Task]:
    """encode:N for every segment but the calibration ones whose sample is kept; with
    quality targeting, each starts its search from calibrate. *stowed*: whether the output
    holds the video the encodes make."""
    video = _video(up, film_target(up))
    calibration = up.get("calibrate") if video.quality else None
    ids, kept = segment_ids(up.scenes), takes_sample(up)
    for i, sid in enumerate(ids):
        if i not in kept:
            yield _encode_task(up, "encode", i, up.job.work.encoded(sid), video, threads,
                               f"AV1 encode of segment {i:04d}", calibration, stowed=stowed)


def adjust_tasks(up: Upstream, threads: int, balance: dict[str, Any],
                 stowed: Callable[[], bool]) -> Iterator[Task]:
    """adjust:N for each segment balance.json names: encoded again at its CRF."""
    video = _video(up, balance["target"])
    ids = segment_ids(up.scenes)
    for i, sid in enumerate(ids):
        again = balance["segments"].get(sid)
        if again:
            yield _encode_task(up, "adjust", i, up.job.work.adjusted(sid), video, threads,
                               f"segment {i:04d} encoded again for the film's mean",
                               balance=again, stowed=stowed)


def first_encode(up: Upstream, i: int) -> Task:
    """The task of segment *i*'s first kept encode: its encode, or its calibration sample."""
    name = f"encode:{i:04d}"
    return up.get(name) if tagged(up.job, name) in up.made else sample_task(up, i)


def final_encode(up: Upstream, i: int) -> Task:
    """The task of the encode of segment *i* that the film is joined from."""
    name = f"adjust:{i:04d}"
    return up.get(name) if tagged(up.job, name) in up.made else first_encode(up, i)


def final_targets(up: Upstream) -> list[Path]:
    """The encoded segments the film is joined from, in order (their records beside them).
    Read from the tasks made so far: once they are all made, the same list for each step
    that asks."""
    made = len(up.made)
    if up.finals is None or up.finals[0] != made:
        up.finals = (made, [Path(final_encode(up, i)["meta"]["target"])
                            for i in range(len(up.scenes.segments))])
    return list(up.finals[1])
