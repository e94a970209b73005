"""The output MKV: AV1 video, the Opus tracks, and the source's subtitles, chapters,
attachments and global tags (stream copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import proc
from ..workdir import atomic_path
from .encode import seek_arg

# Subtitle formats (MediaInfo names) that Matroska cannot hold as they are, and what to
# convert them to.
SUBTITLE_CONVERT = {"Timed Text": "srt"}


def run_mux(source: Path, probe: dict[str, Any], video: Path, audio: list[Path],
            first_pts_us: int, source_start_us: int, target: Path) -> None:
    # One timeline, the source's start as zero (-copyts, then explicit offsets): the Opus
    # tracks and the source (subtitles, chapters) carry the source's own timestamps; the
    # joined video starts at zero and moves to its first frame's time.
    shift = ["-itsoffset", seek_arg(-source_start_us)]
    args = ["-v", "error", "-copyts", "-itsoffset", seek_arg(first_pts_us - source_start_us),
            "-i", str(video)]
    for path in audio:
        args += [*shift, "-i", str(path)]
    src = len(audio) + 1
    args += [*shift, "-i", str(source), "-map", "0:v:0"]
    for k in range(len(audio)):
        args += ["-map", f"{k + 1}:a:0"]
    args += ["-map", f"{src}:s?", "-map", f"{src}:t?", "-c", "copy"]
    for sub in probe["subtitles"]:
        if sub["format"] in SUBTITLE_CONVERT:
            args += [f"-c:s:{sub['index']}", SUBTITLE_CONVERT[sub["format"]]]
    # Global tags and chapters from the source; stream tags (languages, titles, attachment
    # names) follow each stream from its input, as FFmpeg does unless stream tags are mapped.
    args += ["-map_metadata", str(src), "-map_chapters", str(src)]
    v = probe["video"]
    if v.get("language_639_2"):
        args += ["-metadata:s:v:0", f"language={v['language_639_2']}"]
    if v.get("title"):
        args += ["-metadata:s:v:0", f"title={v['title']}"]
    args += ["-default_mode", "passthrough", "-fflags", "+bitexact"]
    with atomic_path(target) as tmp:
        proc.run([*args, str(tmp)], what=f"writing {target}")
