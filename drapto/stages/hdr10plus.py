"""hdr10plus.t35: each encoded frame's HDR10+ metadata, read from the source
(drapto/media/hdr10plus.py); the join (concat) writes it into the video."""

from __future__ import annotations

from collections.abc import Iterator

from drapto.media import hdr10plus
from drapto.stages.scenes import KIND as SCENES
from drapto.work.graph import Building, Kind, Task, Upstream, make_task

SCHEMA = 1


def kept(up: Upstream) -> bool:
    """Whether the film's HDR10+ is carried over: the source says it has some, in HEVC
    (where it lives in SEI messages drapto reads); other codecs are said by validation."""
    v = up.probe.video
    return v.hdr.hdr10plus and v.format == "HEVC"


def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    if kept(up):
        job = up.job
        yield up.add(make_task(job, KIND, None, hdr10plus.read_source,
                               {"source": job.source, "scenes": job.work.scenes,
                                "target": job.work.hdr10plus},
                               [up.get(SCENES.name)], KIND.doc, SCHEMA))


KIND = Kind("hdr10plus", 2,
            "hdr10plus.t35: each frame's HDR10+ metadata from the source, for the join.",
            make=tasks)
