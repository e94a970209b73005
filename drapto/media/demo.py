"""Generate sample movies with FFmpeg's lavfi sources: hard scene cuts, moving content (every
frame differs from its neighbours), a 5.1(side) and a stereo track with languages, an SRT
track and chapters. Used by the README's first command and by the tests.

    python -m drapto.sample sample.mkv [--seconds 1.5,3,1.5] [--size 256x144]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from drapto.files import atomic_path
from drapto.media import proc

# Each scene is testsrc2 (moving gradient, counter) under a distinct look, so cuts are hard.
_LOOKS = ("null", "negate", "hue=h=120:s=2", "vflip,hue=h=240", "hflip,negate", "hue=s=0")


def _srt(seconds: float) -> str:
    cues, t, n = [], 0.0, 1
    while t + 0.5 < seconds:
        a, b = t, min(t + 1.0, seconds)
        cues.append(f"{n}\n{_ts(a)} --> {_ts(b)}\nLine {n}\n")
        t, n = t + 1.5, n + 1
    return "\n".join(cues)


def _ts(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_sample(out: Path, scenes: Sequence[float] = (1.5, 3.0, 1.5), size: str = "256x144",
                fps: int = 24, audio: bool = True, subtitles: bool = True,
                chapters: bool = True, gop: int = 100) -> Path:
    """Write a sample movie to *out* (x264 with B-frames; AC-3 5.1(side), AAC stereo)."""
    total = sum(scenes)
    parts, labels = [], []
    for i, d in enumerate(scenes):
        parts.append(f"testsrc2=s={size}:r={fps}:d={d},{_LOOKS[i % len(_LOOKS)]},"
                     f"format=yuv420p[v{i}]")
        labels.append(f"[v{i}]")
    graph = ";".join(parts) + ";" + "".join(labels) + f"concat=n={len(scenes)}:v=1:a=0[v]"
    args: list[str] = ["-y", "-filter_complex", graph]
    maps = ["-map", "[v]"]
    n_inputs = 0
    extra: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if audio:
            args += ["-f", "lavfi", "-i", f"sine=f=440:d={total}:r=48000",
                     "-f", "lavfi", "-i", f"sine=f=660:d={total}:r=48000"]
            maps += ["-map", "0:a", "-map", "1:a"]
            extra += ["-filter:a:0", "aformat=channel_layouts=5.1(side)", "-c:a:0", "ac3",
                      "-filter:a:1", "aformat=channel_layouts=stereo", "-c:a:1", "aac",
                      "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Surround",
                      "-metadata:s:a:1", "language=fre", "-metadata:s:a:1", "title=Stereo",
                      "-disposition:a:0", "default", "-disposition:a:1", "0"]
            n_inputs = 2
        if subtitles:
            srt = Path(tmp) / "subs.srt"
            srt.write_text(_srt(total), encoding="utf-8")
            args += ["-i", str(srt)]
            maps += ["-map", f"{n_inputs}:s"]
            extra += ["-c:s", "srt", "-metadata:s:s:0", "language=ger",
                      "-disposition:s:0", "forced"]
            n_inputs += 1
        if chapters:
            meta = Path(tmp) / "chapters.txt"
            marks = [0.0]
            for d in scenes:
                marks.append(marks[-1] + d)
            text = ";FFMETADATA1\ntitle=drapto sample\n"
            for i in range(len(scenes)):
                text += (f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={round(marks[i] * 1000)}\n"
                         f"END={round(marks[i + 1] * 1000)}\ntitle=Scene {i + 1}\n")
            meta.write_text(text, encoding="utf-8")
            args += ["-i", str(meta)]
            extra += ["-map_metadata", str(n_inputs), "-map_chapters", str(n_inputs)]
            n_inputs += 1
            # An attachment, as fonts for ASS subtitles come in real remuxes.
            note = Path(tmp) / "notes.txt"
            note.write_text("drapto sample attachment\n", encoding="utf-8")
            extra += ["-attach", str(note), "-metadata:s:t:0", "mimetype=text/plain"]
        # Bit-exact (one encoder thread, no version strings or random ids), so that the same
        # arguments always give the same bytes; written whole or not at all.
        with atomic_path(out) as tmp_out:
            proc.run([*args, *maps, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3",
                      "-g", str(gop), "-crf", "18", "-threads:v", "1", *extra,
                      "-t", str(total), "-fflags", "+bitexact", "-flags", "+bitexact",
                      str(tmp_out)], what=f"making sample {out}")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seconds", default="6,9,3,7,5,8", help="scene lengths, comma separated")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--force", action="store_true", help="write it again if it exists")
    ns = ap.parse_args(argv)
    if ns.out.exists() and not ns.force:  # the same bytes again: keep it, and what was built
        print(f"{ns.out} exists, kept (--force writes it again)")
        return
    make_sample(ns.out, [float(s) for s in ns.seconds.split(",")], ns.size)
    print(ns.out)


if __name__ == "__main__":
    main()
