"""video.mkv: the encoded segments joined, on the source's own timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .. import outputs, proc
from ..encoder import BITEXACT
from ..graph import Task, Upstream, make_task
from ..timeline import seek_arg, segment_durations
from ..workdir import atomic_path
from .encode import final_encode, final_targets

SCHEMA = 1
DOC = "video.mkv: the encoded segments joined."


def run_concat(encoded: list[Path], durations: list[int], listing: Path, target: Path) -> None:
    """Join the encoded segments with the concat demuxer (stream copy). Each file's span is
    given from the source's timestamps, so the joined video keeps the source's timeline
    exactly (variable frame rates too) instead of adding up rounded file durations."""
    with atomic_path(listing) as tmp:
        tmp.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{p.relative_to(listing.parent).as_posix()}'\nduration {seek_arg(d)}\n"
            for p, d in zip(encoded, durations, strict=True)), encoding="utf-8")
    with atomic_path(target) as tmp:
        proc.run(["-v", "error", "-f", "concat", "-safe", "0", "-i", listing.name,
                  "-map", "0:v", "-c", "copy", *BITEXACT, tmp.name],
                 what=f"joining {len(encoded)} segments", cwd=listing.parent)


def tasks(up: Upstream) -> Iterator[Task]:
    job, n = up.job, len(up.scenes.segments)
    yield up.add(make_task(job, "concat", None, run_concat,
                           {"encoded": final_targets(up),
                            "durations": segment_durations(up.scenes),
                            "listing": job.work.concat_list, "target": job.work.video},
                           [final_encode(up, i) for i in range(n)], DOC, SCHEMA,
                           stowed=lambda: outputs.holds_video(up)))
