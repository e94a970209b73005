"""The pipeline, one module per artifact, in order. Each module owns its artifact: the
action that makes it, the task (its key derived from the action's arguments by
:func:`drapto.graph.make_task`) and its text for ``doit list``.

    probe      probe.json       what the input holds (MediaInfo)
    crop       crop.json        the crop rectangle, or none, with the evidence
    scenes     scenes.json      scene cuts and segment boundaries, stream spans
    segments   segment:N        one segment's frame range
    encode     encode:N         its AV1 encode (searched to the target quality), and
               calibrate        calibration.json, where the other segments' searches start
    audio      audio:N          each kept audio track, Opus or copied
    concat     video.mkv        the encoded segments joined
    mux        the output       video, audio, subtitles, chapters, attachments, tags
    validate   validation.json  the output checked against the source
    report     report.json      figures per segment and overall (and report.html)
    tidy                        the bulky intermediates removed once the output holds them
"""

from __future__ import annotations

from collections.abc import Iterator

from ..graph import Task, upstream
from ..job import Job
from . import (
    audio,
    concat,
    crop,
    encode,
    mux,
    probe,
    report,
    scenes,
    segments,
    tidy,
    validate,
)


def early(job: Job) -> list[Task]:
    """The tasks that exist before scene detection, in order: probe, crop, scenes."""
    p = probe.task(job)
    return [p, crop.task(job, p), scenes.task(job, p)]


def late(job: Job, threads: int) -> Iterator[Task]:
    """The tasks made from probe.json and scenes.json, once both are made (none before)."""
    up = upstream(job, early(job))
    if up is None:
        return
    yield from segments.tasks(up)
    yield from encode.tasks(up, threads)       # and calibrate
    yield from audio.tasks(up)
    yield from concat.tasks(up)
    yield mux.task(up)
    yield validate.task(up)
    yield report.task(up)
    yield tidy.task(up)
