"""segment:N: the frame range of one segment, a small JSON the encode reads.

A segment's files and stamps are named by its first frame (``segments/00000036.json``,
``encoded/00000036.mkv``), its key is its range and the input's content, and its number is
only a display name: a changed scene setting that leaves a segment's frames as they were
leaves its segment and its encode as they were, even when a cut added or removed before it
renumbers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..graph import Task, Upstream, make_task
from ..records import Scenes, SceneSegment, Segment

SCHEMA = 2
DOC = "segment:N: the frame range of segment N."


def segment_id(start: int) -> str:
    """The name of a segment's files and stamps: its first frame."""
    return f"{start:08d}"


# Each segments tuple's ids, by identity: every encode task asks, so building the list each
# time made a film's task creation quadratic in its segment count.
_IDS: dict[int, tuple[tuple[SceneSegment, ...], tuple[str, ...]]] = {}


def segment_ids(scenes: Scenes) -> tuple[str, ...]:
    """Each segment's id, in order."""
    segs = scenes.segments
    hit = _IDS.get(id(segs))
    if hit is None or hit[0] is not segs:
        if len(_IDS) > 64:
            _IDS.clear()
        hit = _IDS[id(segs)] = (segs, tuple(segment_id(s.start) for s in segs))
    return hit[1]


def segment_of(scenes: Scenes, index: int) -> Segment:
    """Segment *index* of scenes.json as the encode reads it."""
    seg = scenes.segments[index]
    return Segment(seg.start, seg.frames, seg.start_pts_us, seg.source_bytes,
                   first=seg.start == 0 and not scenes.clip)


def run_segment(segment: Segment, target: Path) -> None:
    segment.write(target)


def tasks(up: Upstream) -> Iterator[Task]:
    job = up.job
    for i, sid in enumerate(segment_ids(up.scenes)):
        seg = segment_of(up.scenes, i)
        yield up.add(make_task(job, "segment", f"{i:04d}", run_segment,
                               {"segment": seg, "target": job.work.segment(sid)},
                               [up.get("probe")],
                               f"frames {seg.start}..{seg.start + seg.frames - 1}",
                               SCHEMA, stamp_as=f"segment:{sid}"))
