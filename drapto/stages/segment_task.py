"""The task of one segment's encode, whichever kind asks for it (sample:N, calibration:N,
encode:N, adjust:N): where it runs (here, or on a Dask cluster) and its key. The work of
the encode is :func:`drapto.quality.segment_run.run_encode`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from drapto.cluster.client import run_encode_remote
from drapto.quality.policy import Video
from drapto.quality.search import Start
from drapto.quality.segment_run import run_encode
from drapto.stages.crop import KIND as CROP
from drapto.stages.segments import segment_ids, segment_of
from drapto.work.graph import Kind, Task, Upstream, make_task, tagged

SCHEMA = 2
# What does not change an encode's bytes: where it runs, its name and number, how many
# threads and how much memory it may use.
UNKEYED = ("executor", "name", "index", "threads", "memory_budget", "memory_estimates")


def execute_encode(executor: str, name: str, **kwargs: Any) -> None:
    """An encode's action: ``run_encode`` here, or on the Dask cluster of ``executor``."""
    if executor == "local":
        run_encode(**kwargs)
    else:
        run_encode_remote(executor, name, kwargs)


def video_of(up: Upstream, target_vmaf: float | None = None) -> Video:
    """The encoding policy of the film's segments, at *target_vmaf* when it is given."""
    video = Video.of(up.job.settings, up.probe, up.scenes)
    if video.quality and target_vmaf is not None:
        video = replace(video, quality=video.quality.at(target_vmaf))
    return video


def encode_task(up: Upstream, kind: Kind, i: int, target: Path, video: Video, threads: int,
                doc: str, start: Start, after: Sequence[Task] = (),
                stowed: Callable[[], bool] | None = None) -> Task:
    """Segment *i*'s encode as a task of *kind*, its search from *start*, after the crop
    and *after* (the tasks whose targets *start* reads). *stowed*: whether the output holds
    the video this run would join (then the encode may have been removed by tidy); a
    calibration sample has none: tidy keeps it, since the size decision and every
    segment's search start from it."""
    job, s = up.job, up.job.settings
    name, sid = f"{i:04d}", segment_ids(up.scenes)[i]
    return up.add(make_task(
        job, kind, name, execute_encode,
        {"executor": s.executor, "name": tagged(job, kind.at(i)), "index": i,
         "source": job.source, "segment": segment_of(up.scenes, i), "crop": job.work.crop,
         "target": target, "video": video, "threads": threads,
         "memory_budget": s.memory_budget, "memory_estimates": s.memory_estimates,
         "start": start},
        [up.get(CROP.name), *after], doc, SCHEMA, unkeyed=UNKEYED,
        stamp_as=f"{kind.name}:{sid}", stowed=stowed))
