"""A changed scene setting on real footage: which segments are encoded again.

    .venv/bin/python bench/rescene.py [--excerpt 180:60] [--preset 12] [--keep]

An excerpt of Big Buck Bunny (bench/film.py fetches the film) is encoded in the default
mode (quality targeting), then encoded again with each changed scene setting in turn
(a lower scene threshold, a shorter max_segment, a longer min_segment), each from a copy
of the first run's work folder. For each it prints the segments before and after, how many
kept their frames (same first frame and length), how many encodes the rerun ran, and
whether those were exactly the segments whose frames changed (and the calibration).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import workspace
from film import excerpt, fetch_film

REPO = Path(__file__).resolve().parents[1]


def run(src: Path, work: Path, out: Path, preset: int, *settings: str) -> list[str]:
    """One drapto run; the tasks it executed."""
    argv = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", "2", "encode",
            f"input={src}", f"work={work}", f"output={out}", f"preset={preset}", *settings]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    done = subprocess.run(argv, check=True, env=env, capture_output=True, text=True)
    return [line[3:].strip() for line in done.stdout.splitlines() if line.startswith(".  ")]


def ranges(work: Path) -> list[tuple[int, int]]:
    scenes = json.loads(next(work.glob("*/scenes.json")).read_text())
    return [(s["start"], s["frames"]) for s in scenes["segments"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--excerpt", default="180:60")
    ap.add_argument("--preset", type=int, default=12)
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    base = ["scene_threshold=0.3", "min_segment=2", "max_segment=8"]
    changes = {"scene_threshold 0.3 -> 0.2": ["scene_threshold=0.2"],
               "max_segment 8 -> 5": ["max_segment=5"],
               "min_segment 2 -> 3": ["min_segment=3"]}
    with workspace("drapto-rescene-", ns.keep) as tmp:
        src = excerpt(fetch_film(REPO / "bench" / "clips"), ns.excerpt, tmp)
        first = tmp / "work"
        run(src, first, tmp / "out.mkv", ns.preset, "keep_work=yes", *base)
        before = ranges(first)
        print(f"{ns.excerpt} of bbb.mp4, preset {ns.preset}, default mode: {len(before)} "
              f"segments ({' '.join(base)})")
        for label, change in changes.items():
            work = tmp / f"work-{label.split()[0]}"
            shutil.copytree(first, work)
            settings = [*base, *change]
            ran = run(src, work, tmp / f"{label.split()[0]}.mkv", ns.preset, "keep_work=yes",
                      *settings)
            after = ranges(work)
            kept = set(before) & set(after)
            changed = [i for i, r in enumerate(after) if r not in kept]
            encoded = sorted(int(t.split(":")[1]) for t in ran if t.startswith("encode:"))
            which = "exactly the changed ones" if encoded == changed else f"changed: {changed}"
            print(f"  {label}: {len(before)} -> {len(after)} segments, {len(kept)} with the "
                  f"same frames; {len(encoded)} encoded again ({which}"
                  f"{', calibration redone' if 'calibrate' in ran else ''})")


if __name__ == "__main__":
    main()
