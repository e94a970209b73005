"""A segment: the frame range of scenes.json that one encode makes, handed to the encode as
a value (it is in the encode's key).

A segment's files and stamps are named by its first frame (``encoded/00000036.mkv``), its
encode's key holds its range and the input's content, and its number is only a display
name: a changed scene setting that leaves a segment's frames as they were leaves its encode
as it was, even when a cut added or removed before it renumbers it.
"""

from __future__ import annotations

from drapto.media.records import Scenes, SceneSegment, Segment


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
