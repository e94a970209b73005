"""A changed scene setting on real footage: which segments are encoded again.

    .venv/bin/python bench/rescene.py [--excerpt 180:60] [--preset 12] [--keep]

An excerpt of Big Buck Bunny as a high-bitrate mezzanine (common.film, common.mezzanine)
is encoded in the default mode (quality targeting) with scene_threshold=0.3 min_segment=2
max_segment=8, then encoded again with each changed scene setting in turn (a lower scene
threshold, a shorter max_segment, a longer min_segment), each from a copy of the first
run's work folder. For each it prints the segments before and after, how many kept their
frames (same first frame and length), how many segments the rerun encoded, and whether
those were exactly the segments whose frames changed (and whether the calibration was
redone, and the balance's encodes).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import common

BASE = ("scene_threshold=0.3", "min_segment=2", "max_segment=8", "keep_work=yes")
CHANGES = {"scene_threshold 0.3 -> 0.2": "scene_threshold=0.2",
           "max_segment 8 -> 5": "max_segment=5",
           "min_segment 2 -> 3": "min_segment=3"}


def ranges(work: Path) -> list[tuple[int, int]]:
    scenes = json.loads((common.input_folder(work) / "scenes.json").read_text())
    return [(s["start"], s["frames"]) for s in scenes["segments"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--excerpt", default="180:60")
    ap.add_argument("--preset", type=int, default=12)
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    with common.workspace("drapto-rescene-", ns.keep) as tmp:
        # The mezzanine, as bench/film.py: the film's own H.264 is so lean that the default
        # size cap skips it.
        src = common.mezzanine(common.excerpt(common.film(), ns.excerpt, tmp), tmp)
        first = tmp / "work"
        common.drapto(src, first, tmp / "out.mkv", f"preset={ns.preset}", *BASE, jobs=2,
                       quiet=True)
        before = ranges(first)
        rows = [("change", "segments", "same frames", "encoded again", "which")]
        for label, change in CHANGES.items():
            name = label.split()[0]
            work = tmp / f"work-{name}"
            shutil.copytree(first, work)
            ran = common.drapto(src, work, tmp / f"{name}.mkv", f"preset={ns.preset}",
                                 *BASE, change, jobs=2, quiet=True).executed
            after = ranges(work)
            kept = set(before) & set(after)
            changed = [i for i, r in enumerate(after) if r not in kept]
            # encode:N, or sample:N for a calibration segment; adjust:N is the balance's
            kinds = [t.split(":") for t in ran if ":" in t]
            encoded = sorted(int(n) for kind, n in kinds if kind in ("encode", "sample"))
            balanced = sum(kind == "adjust" for kind, _ in kinds)
            which = "exactly the changed ones" if encoded == changed else f"changed: {changed}"
            rows.append((label, f"{len(before)} -> {len(after)}", str(len(kept)),
                         str(len(encoded)),
                         which + (", calibration redone" if "calibrate" in ran else "")
                         + (f", {balanced} encoded again for the film's mean" if balanced
                            else "")))
    print(f"{ns.excerpt} of bbb.mp4 (mezzanine), preset {ns.preset}, default mode: "
          f"{len(before)} segments ({' '.join(BASE[:3])})")
    common.table(rows)


if __name__ == "__main__":
    main()
