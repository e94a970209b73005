"""probe.json: what the input holds (drapto/media/probing.py reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from drapto.media.probing import read_media
from drapto.media.records import Probe, VideoStream
from drapto.quality.policy import dolby_vision_blocker
from drapto.work.graph import Kind, Task, make_task
from drapto.work.job import Job

SCHEMA = Probe.SCHEMA  # 5, part of the task's key: a new schema redoes the target


def run_probe(source: Path, target: Path) -> None:
    read_media(source).write(target)


def task(job: Job, before: Mapping[str, Task]) -> Task:
    """probe.json: the root of every key (the input enters a key as its content)."""
    return make_task(job, KIND, None, run_probe,
                     {"source": job.source, "target": job.work.probe}, [], KIND.doc, SCHEMA)


KIND = Kind("probe", 0,
            "probe.json: streams, tracks, colour and chapters of the input (MediaInfo).",
            early=task)


def kept_dolby_vision(video: VideoStream, setting: str) -> bool:
    """Whether the output keeps the source's Dolby Vision (``dolby_vision=auto`` and a
    profile the encoder can carry over)."""
    dv = video.hdr.dolby_vision if setting == "auto" else None
    return dv is not None and dolby_vision_blocker(dv) is None
