"""video.mkv: the encoded segments joined, on the source's own timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .. import outputs, proc
from ..encoder import BITEXACT
from ..graph import Task, Upstream, make_task
from ..hdr10plus import insert, read, scratch
from ..timeline import seek_arg, segment_durations
from ..workdir import atomic_path
from .encode import final_encode, final_targets
from .hdr10plus import kept as hdr10plus_kept

SCHEMA = 1
DOC = "video.mkv: the encoded segments joined."


def run_concat(encoded: list[Path], durations: list[int], listing: Path, target: Path,
               hdr10plus: Path | None = None) -> None:
    """Join the encoded segments with the concat demuxer (stream copy). Each file's span is
    given from the source's timestamps, so the joined video keeps the source's timeline
    exactly (variable frame rates too) instead of adding up rounded file durations. With
    *hdr10plus* (hdr10plus.t35), each frame gets its HDR10+ metadata on the way: the
    joined stream goes through an IVF file (a temporal unit per frame, with its timestamp)."""
    with atomic_path(listing) as tmp:
        tmp.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{p.relative_to(listing.parent).as_posix()}'\nduration {seek_arg(d)}\n"
            for p, d in zip(encoded, durations, strict=True)), encoding="utf-8")
    what = f"joining {len(encoded)} segments"
    join = ["-f", "concat", "-safe", "0", "-i", listing.name, "-map", "0:v",
            "-c", "copy"]
    payloads = read(hdr10plus) if hdr10plus else []
    with atomic_path(target) as tmp:
        if not payloads:  # none, or none that can be kept (said by validation)
            proc.run(["-v", "error", *join, *BITEXACT, tmp.name], what=what,
                     cwd=listing.parent)
            return
        ivf = target.with_suffix(".ivf")
        with scratch(ivf, ivf.with_name("with-hdr10plus.ivf")) as (joined, marked):
            # -v info: the segments' HDR10 static metadata is read from FFmpeg's listing.
            dump = proc.run([*join, "-f", "ivf", str(joined)], what=what,
                            cwd=listing.parent).stderr
            insert(joined, payloads, marked)
            proc.run(["-v", "error", *static_hdr(dump), "-i", str(marked), "-map", "0:v",
                      "-c", "copy", *BITEXACT, str(tmp)],
                     what=f"{what} with their HDR10+ metadata")


_MASTERING = re.compile(
    r"Mastering display metadata: has_primaries:1 has_luminance:1 "
    r"r\(([\d.]+),\s*([\d.]+)\) g\(([\d.]+),\s*([\d.]+)\) b\(([\d.]+),?\s*([\d.]+)\) "
    r"wp\(([\d.]+),\s*([\d.]+)\) min_luminance=([\d.]+), max_luminance=([\d.]+)")
_LIGHT = re.compile(r"Content light level metadata: MaxCLL=(\d+), MaxFALL=(\d+)")


def static_hdr(dump: str) -> list[str]:
    """FFmpeg's input options that give an IVF stream (which cannot hold them) the HDR10
    static metadata of the stream FFmpeg listed in *dump*: the mastering display (x265's
    notation: chromaticities in 1/50000, luminance in 1/10000 cd/m²) and the content light
    level, as the container has them beside the ones in the AV1 stream itself."""
    args = []
    if m := _MASTERING.search(dump):
        rx, ry, gx, gy, bx, by, wx, wy = (round(float(v) * 50000) for v in m.groups()[:8])
        low, high = (round(float(v) * 10000) for v in m.groups()[8:])
        args += ["-mastering_display:v",
                 f"G({gx},{gy})B({bx},{by})R({rx},{ry})WP({wx},{wy})L({high},{low})"]
    if m := _LIGHT.search(dump):
        args += ["-content_light:v", f"{m.group(1)},{m.group(2)}"]
    return args


def tasks(up: Upstream) -> Iterator[Task]:
    job, n = up.job, len(up.scenes.segments)
    # Only with HDR10+ to carry: every other join keeps its key.
    marked = hdr10plus_kept(up)
    yield up.add(make_task(job, "concat", None, run_concat,
                           {"encoded": final_targets(up),
                            "durations": segment_durations(up.scenes),
                            "listing": job.work.concat_list, "target": job.work.video,
                            **({"hdr10plus": job.work.hdr10plus} if marked else {})},
                           [*(final_encode(up, i) for i in range(n)),
                            *([up.get("hdr10plus")] if marked else [])],
                           DOC, SCHEMA,
                           stowed=lambda: outputs.holds_video(up)))
