"""segment:N: the frame range of one segment, a small JSON the encode reads.

Its key is the range itself (and the input's content): a changed scene setting that leaves
a segment's frames and number as they were leaves its segment, and its encode, as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..graph import Task, Upstream, make_task
from ..workdir import write_json

SCHEMA = 1
DOC = "segment:N: the frame range of segment N."


def segment_of(scenes: dict[str, Any], index: int) -> dict[str, Any]:
    """Segment *index* of scenes.json as the encode reads it."""
    seg = scenes["segments"][index]
    return {"index": index, "start": seg["start"], "frames": seg["frames"],
            "pts_us": seg["start_pts_us"], "source_bytes": seg.get("source_bytes"),
            "first": index == 0 and not scenes.get("clip")}


def run_segment(segment: dict[str, Any], target: Path) -> None:
    write_json(target, segment)


def tasks(up: Upstream) -> Iterator[Task]:
    job = up.job
    for i in range(len(up.scenes["segments"])):
        seg = segment_of(up.scenes, i)
        yield up.add(make_task(job, "segment", f"{i:04d}", run_segment,
                               {"segment": seg, "target": job.work.segment(i)},
                               [up.get("probe")],
                               f"frames {seg['start']}..{seg['start'] + seg['frames'] - 1}",
                               SCHEMA))
