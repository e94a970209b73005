"""Segments and their AV1 encodes.

A segment target is a small JSON: the frame range and the seek time that lands exactly on
its first frame. The encode decodes only that range from the source (input seeking to the
keyframe before, then ``-frames:v``), so no intermediate video file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import proc
from ..errors import DraptoError
from ..workdir import atomic_path, read_json, write_json

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact"]


def seek_arg(us: int) -> str:
    """Seconds with exactly six decimals, for ``-ss`` (no float rounding)."""
    sign = "-" if us < 0 else ""
    us = abs(us)
    return f"{sign}{us // 1_000_000}.{us % 1_000_000:06d}"


def run_segment(scenes: dict[str, Any], index: int, target: Path) -> None:
    seg = scenes["segments"][index]
    # One microsecond before the frame's timestamp: FFmpeg drops frames before -ss, and a
    # seek time rounded up would drop the first frame itself. Segment 0 reads from the start.
    seek = None if index == 0 else seg["start_pts_us"] - 1
    write_json(target, {"index": index, "start": seg["start"], "frames": seg["frames"],
                        "seek_us": seek})


def last_progress(lines: list[str], key: str) -> int:
    """The last ``key=N`` value in FFmpeg ``-progress`` output (0 if absent)."""
    for line in reversed(lines):
        if line.startswith(key + "="):
            try:
                return int(line.split("=", 1)[1])
            except ValueError:
                return 0
    return 0


def run_encode(source: Path, segment: Path, target: Path, video: dict[str, Any],
               threads: int) -> None:
    seg = read_json(segment)
    args = ["-v", "error", "-progress", "pipe:1", "-nostats"]
    if seg["seek_us"] is not None:
        args += ["-ss", seek_arg(seg["seek_us"])]
    params = ":".join(p for p in (video["svt_params"], f"lp={threads}") if p)
    with atomic_path(target) as tmp:
        lines: list[str] = []
        what = (f"encoding segment {seg['index']:04d} (frames {seg['start']}-"
                f"{seg['start'] + seg['frames'] - 1}) of {source}")
        proc.run([*args, "-i", str(source), "-map", "0:V:0", "-frames:v", str(seg["frames"]),
                  "-fps_mode", "passthrough", "-c:v", "libsvtav1",
                  "-preset", str(video["preset"]), "-crf", str(video["crf"]),
                  "-pix_fmt", video["pixel_format"], "-svtav1-params", params,
                  "-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
                  *BITEXACT, str(tmp)], what=what, on_line=lines.append)
        got = last_progress(lines, "frame")
        if got != seg["frames"]:
            raise DraptoError(f"{what}: FFmpeg wrote {got} frames, expected {seg['frames']}")


def run_concat(encoded: list[Path], listing: Path, target: Path) -> None:
    """Join the encoded segments with the concat demuxer, stream copy, no re-encode."""
    with atomic_path(listing) as tmp:
        tmp.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{p.relative_to(listing.parent).as_posix()}'\n" for p in encoded),
            encoding="utf-8")
    with atomic_path(target) as tmp:
        proc.run(["-v", "error", "-f", "concat", "-safe", "0", "-i", listing.name,
                  "-map", "0:v", "-c", "copy", *BITEXACT, tmp.name],
                 what=f"joining {len(encoded)} segments", cwd=listing.parent)
