"""The output MKV: AV1 video, the Opus tracks, and the source's subtitles, chapters,
attachments and global tags (stream copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import proc
from ..workdir import atomic_path
from .encode import seek_arg
from .encode import segment_durations as segment_spans

# Subtitle formats (MediaInfo names) that Matroska cannot hold as they are, and what to
# convert them to.
SUBTITLE_CONVERT = {"Timed Text": "srt"}


def run_mux(source: Path, probe: dict[str, Any], video: Path, audio: list[Path],
            scenes: dict[str, Any], target: Path) -> None:
    # One timeline, the source's start (or the clip's) as zero (-copyts, then explicit
    # offsets): the Opus tracks and the source (subtitles, chapters) carry the source's own
    # timestamps; the joined video starts at zero and moves to its first frame's time.
    zero, clip = scenes["zero_us"], scenes.get("clip")
    shift = ["-itsoffset", seek_arg(-zero)]
    args = ["-v", "error", "-copyts", "-itsoffset", seek_arg(scenes["first_pts_us"] - zero),
            "-i", str(video)]
    for path in audio:
        args += [*shift, "-i", str(path)]
    src = len(audio) + 1
    seek = ["-ss", seek_arg(clip[0])] if clip and clip[0] else []
    args += [*shift, *seek, "-i", str(source), "-map", "0:v:0"]
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
    if clip:  # subtitles and chapters end with the clip
        args += ["-t", seek_arg(sum(segment_spans(scenes)))]
    args += ["-default_mode", "passthrough", "-fflags", "+bitexact"]
    with atomic_path(target) as tmp:
        proc.run([*args, str(tmp)], what=f"writing {target}")
