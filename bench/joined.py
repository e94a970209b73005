"""The scene pass of a long file joined from parts whose picture changes (size and range),
at the length users have: every frame must be found, and the pass's cost is printed.

    .venv/bin/python bench/joined.py [--minutes 60] [--keep]

Eight 7 s parts at 192x108 (lavfi test sources, each with its own hue; three of them at
other sizes, one full range) are joined in a seeded random order by FFmpeg's concat demuxer,
as broadcast recordings and joined files are. The scene pass (probe and scenes, as
``doit encode`` runs them) must count every frame the source holds; its time is printed
beside one plain decode of the same file (``ffmpeg -f null``) for scale.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import common

from drapto.media import proc
from drapto.media.probing import read_media
from drapto.media.records import Probe
from drapto.settings import load
from drapto.stages.scenes import _run_scenes

PARTS = [("testsrc2=s=192x108", "yuv420p"), ("smptebars=s=192x108", "yuv420p"),
         ("rgbtestsrc=s=160x120", "yuv420p"), ("mandelbrot=s=192x108", "yuvj420p"),
         ("cellauto=rule=110:s=128x72", "yuv420p"), ("life=s=192x108", "yuv420p"),
         ("gradients=s=192x108", "yuv420p"), ("zoneplate=s=240x108", "yuv420p")]
SECONDS = 7


def make(folder: Path, minutes: float) -> tuple[Path, int]:
    """The joined file and its frame count."""
    parts = []
    for i, (source, fmt) in enumerate(PARTS):
        part = folder / f"part{i}.mkv"
        common.run([proc.ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"{source}:r=24", "-t", str(SECONDS), "-vf", f"hue=h={i * 40},format={fmt}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", str(part)])
        parts.append(part)
    count = round(minutes * 60 / SECONDS)
    rng = random.Random(1)
    listing = folder / "parts.txt"
    listing.write_text("".join(f"file '{rng.choice(parts)}'\n" for _ in range(count)))
    joined = folder / "joined.mkv"
    common.run([proc.ffmpeg(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                str(listing), "-c", "copy", str(joined)])
    return joined, count * SECONDS * 24


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    with common.workspace("drapto-joined-", args.keep) as folder:
        joined, frames = make(folder, args.minutes)
        with common.timed() as plain:
            common.run([proc.ffmpeg(), "-v", "error", "-i", str(joined), "-map", "0:V:0",
                        "-f", "null", "-"])
        with common.timed() as scene_pass:
            facts: Probe = read_media(joined)
            target = Path(tempfile.mkdtemp(dir=folder)) / "scenes.json"
            s = load(env={})  # the scene settings as shipped
            _run_scenes(joined, facts, target, s.scene_threshold, s.scene_threshold_hdr,
                        s.min_segment, s.max_segment, None)
        scenes = json.loads(target.read_text())
        common.table([
            ("frames in the source", frames),
            ("frames the scene pass found", scenes["frames"]),
            ("picture changes found", len(scenes.get("changes", []))),
            ("segments", len(scenes["segments"])),
            ("probe + scene pass (s)", f"{scene_pass.seconds:.1f}"),
            ("plain decode (s)", f"{plain.seconds:.1f}"),
        ], title=f"a {args.minutes:g}-minute file joined from parts of several sizes")
        return 0 if scenes["frames"] == frames else 1


if __name__ == "__main__":
    sys.exit(main())
