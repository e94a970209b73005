"""validation.json: the output checked against the source (MediaInfo and FFmpeg)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import proc
from ..errors import DraptoError
from ..workdir import read_json, write_json
from .encode import last_progress
from .probe import probe

SYNC_TOLERANCE_MS = 100


def count_frames(path: Path) -> tuple[int, int]:
    """Video packets in *path*'s first video stream (stream copy, no decoding), and the bit
    depth of its pixel format as FFmpeg reports it (MediaInfo does not, for AV1 in MKV)."""
    lines: list[str] = []
    result = proc.run(["-v", "info", "-progress", "pipe:1", "-nostats", "-i", str(path),
                       "-map", "0:V:0", "-c", "copy", "-f", "null", "-"],
                      what=f"counting frames of {path}", on_line=lines.append)
    m = re.search(r"Stream #0:\d+.*?: Video: .*?\b(yuv|gray|gbr)\w*?(\d+)?(le|be)?\b",
                  result.stderr)
    depth = int(m.group(2)) if m and m.group(2) else 8
    return last_progress(lines, "frame"), depth


def clip_chapters(starts_ms: list[int], duration_ms: int, clip_ms: tuple[int, int]) -> int:
    """How many chapters overlap the clip (each runs to the next one's start)."""
    ends = [*starts_ms[1:], duration_ms]
    return sum(1 for a, b in zip(starts_ms, ends) if a < clip_ms[1] and b > clip_ms[0])


def checks(src: dict[str, Any], out: dict[str, Any], frames: int, out_frames: int,
           bit_depth: int, out_depth: int, crop: list[int] | None,
           dolby_vision: bool, clip_ms: tuple[int, int] | None = None
           ) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []

    def check(name: str, expected: Any, got: Any, ok: bool | None = None) -> None:
        result.append({"check": name, "expected": expected, "got": got,
                       "ok": bool(expected == got if ok is None else ok)})

    sv, ov = src["video"], out["video"]
    check("video codec", "AV1", ov["format"])
    check("bit depth", bit_depth, out_depth)
    check("dimensions", crop[:2] if crop else [sv["width"], sv["height"]],
          [ov["width"], ov["height"]])
    for tag in ("color_primaries", "transfer", "matrix", "color_range"):
        if sv[tag]:
            check(f"colour: {tag}", sv[tag], ov[tag])
    if sv["hdr"]["mastering_display"]:
        check("HDR10 static metadata", True, "2086" in str(ov["hdr_format"]))
    check("Dolby Vision", dolby_vision, ov["hdr"]["dolby_vision"] is not None)
    check("frame count", frames, out_frames)
    check("audio tracks", len(src["audio"]), len(out["audio"]))
    check("audio codecs", ["Opus"] * len(src["audio"]), [a["format"] for a in out["audio"]])
    check("audio channels", [a["channels"] for a in src["audio"]],
          [a["channels"] for a in out["audio"]])
    check("audio languages", [a["language"] for a in src["audio"]],
          [a["language"] for a in out["audio"]])
    for s, o in zip(src["audio"], out["audio"]):
        # A clip's tracks all start with it and last as long as it.
        want = 0 if clip_ms else s["delay_ms"] - sv["delay_ms"]
        got = o["delay_ms"] - ov["delay_ms"]
        check(f"audio {s['index']} start vs video (ms)", want, got,
              abs(want - got) <= SYNC_TOLERANCE_MS)
        length = clip_ms[1] - clip_ms[0] if clip_ms else s["duration_ms"]
        check(f"audio {s['index']} duration (ms)", length, o["duration_ms"],
              abs(length - o["duration_ms"]) <= SYNC_TOLERANCE_MS)
    check("subtitle tracks", len(src["subtitles"]), len(out["subtitles"]))
    check("subtitle languages", [s["language"] for s in src["subtitles"]],
          [s["language"] for s in out["subtitles"]])
    check("chapters", clip_chapters(src["chapter_starts_ms"], src["duration_ms"], clip_ms)
          if clip_ms else src["chapters"], out["chapters"])
    check("attachments", src["attachments"], out["attachments"])
    check("title", src["title"], out["title"])
    return result


def run_validate(src_probe: dict[str, Any], output: Path, frames: int, bit_depth: int,
                 crop: Path, records: list[Path], target: Path,
                 clip_ms: tuple[int, int] | None = None) -> None:
    out = probe(output)
    out_frames, out_depth = count_frames(output)
    done = [read_json(r) for r in records]
    dolby_vision = bool(done) and all(r["dolby_vision"] for r in done)
    result = checks(src_probe, out, frames, out_frames, bit_depth, out_depth,
                    read_json(crop)["crop"], dolby_vision, clip_ms)
    warnings = list(dict.fromkeys(w for r in done for w in r["warnings"]))
    if src_probe["video"]["hdr"]["hdr10plus"]:
        warnings.append("HDR10+ dynamic metadata is not kept (libsvtav1 cannot write it); "
                        "the HDR10 static metadata is")
    failed = [c for c in result if not c["ok"]]
    write_json(target, {"output": str(output), "ok": not failed, "checks": result,
                        "warnings": warnings})
    if failed:
        desc = "; ".join(f"{c['check']}: expected {c['expected']}, got {c['got']}"
                         for c in failed)
        raise DraptoError(f"{output} failed validation: {desc}")
