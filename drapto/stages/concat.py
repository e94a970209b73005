"""video.mkv: the encoded segments joined, on the source's own timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.errors import DraptoError
from drapto.files import atomic_path, scratch
from drapto.media import dovi, matroska, obu, proc
from drapto.media.hdr10plus import read
from drapto.media.records import Crop
from drapto.media.timeline import seek_arg, segment_durations
from drapto.quality.svt import BITEXACT
from drapto.stages.crop import KIND as CROP
from drapto.stages.crop import cut_of, moves_dolby_vision
from drapto.stages.encode import final_encode, final_targets
from drapto.stages.hdr10plus import KIND as HDR10PLUS
from drapto.stages.hdr10plus import kept as hdr10plus_kept
from drapto.work.graph import Building, Kind, Task, make_task

SCHEMA = 1


def run_concat(encoded: list[Path], durations: list[int], listing: Path, target: Path,
               hdr10plus: Path | None = None, dolby_vision_crop: Path | None = None) -> None:
    """Join the encoded segments with the concat demuxer (stream copy). Each file's span is
    given from the source's timestamps, so the joined video keeps the source's timeline
    exactly (variable frame rates too) instead of adding up rounded file durations. With
    *hdr10plus* (hdr10plus.t35), each frame gets its HDR10+ metadata on the way; with
    *dolby_vision_crop* (crop.json of a film whose Dolby Vision is kept), each frame's RPU
    gets its active area moved by the crop (:mod:`drapto.media.matroska`: the frames rewritten,
    the track's header kept)."""
    with atomic_path(listing) as tmp:
        tmp.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{p.relative_to(listing.parent).as_posix()}'\nduration {seek_arg(d)}\n"
            for p, d in zip(encoded, durations, strict=True)), encoding="utf-8")
    what = f"joining {len(encoded)} segments"
    join = ["-v", "error", "-f", "concat", "-safe", "0", "-i", listing.name, "-map", "0:v",
            "-c", "copy", *BITEXACT]
    payloads = read(hdr10plus) if hdr10plus else []
    dolby_vision_cut = cut_of(Crop.read(dolby_vision_crop)) if dolby_vision_crop else None
    with atomic_path(target) as tmp:
        if not payloads and not dolby_vision_cut:
            proc.run([*join, tmp.name], what=what, cwd=listing.parent)
            return
        with scratch(target.with_name("joined.mkv"), target.with_name("marked.mkv")) as (
                joined, marked):
            proc.run([*join, str(joined)], what=what, cwd=listing.parent)
            frames = iter(payloads)

            def mark(frame: bytes) -> bytes:
                if dolby_vision_cut:
                    frame = dovi.cropped_frame(frame, dolby_vision_cut)
                if not payloads:
                    return frame
                payload = next(frames, None)
                if payload is None:
                    raise DraptoError(f"{joined}: more frames than the {len(payloads)} whose "
                                      "HDR10+ metadata was read")
                return obu.with_unit(frame, obu.t35_unit(payload)) if payload else frame
            count = matroska.rewrite(joined, marked, mark)
            if payloads and count != len(payloads):
                raise DraptoError(f"{joined}: {count} frames where {len(payloads)} were "
                                  "encoded")
            proc.run(["-v", "error", "-i", str(marked), "-map", "0:v", "-c", "copy",
                      *BITEXACT, str(tmp)], what=f"{what} with their HDR metadata")


def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    job, n = up.job, len(up.scenes.segments)
    # Only with HDR10+ to carry: every other join keeps its key.
    marked = hdr10plus_kept(up)
    moved = moves_dolby_vision(up)
    yield up.add(make_task(job, KIND, None, run_concat,
                           {"encoded": final_targets(up),
                            "durations": segment_durations(up.scenes),
                            "listing": job.work.concat_list, "target": job.work.video,
                            **({"hdr10plus": job.work.hdr10plus} if marked else {}),
                            **({"dolby_vision_crop": job.work.crop} if moved else {})},
                           [*(final_encode(up, i) for i in range(n)),
                            *([up.get(HDR10PLUS.name)] if marked else []),
                            *([up.get(CROP.name)] if moved else [])],
                           KIND.doc, SCHEMA, stowed=b.stowed))


KIND = Kind("concat", 3, "video.mkv: the encoded segments joined.", make=tasks)
