"""How far a final encode's VMAF, scored on every N-th frame, lies from the same segment
scored on every frame, by segment length: the data behind LEAST_SCORED.

    .venv/bin/python bench/subsample.py

Each bench clip (bikes, Big Buck Bunny, the generated clip) is encoded once (preset 8, a
keyframe every 48 frames) and scored on every frame; windows of 24-120 frames, every 24
frames, compare the mean of every 3rd and every 5th frame with the mean of all.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402
from quality import bench_clips, frame_vmaf  # noqa: E402

from drapto import proc  # noqa: E402

CRFS = {"bikes": 44, "bbb": 35, "mixed": 40}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    with workspace("drapto-subsample-", False) as tmp:
        clips = bench_clips(list(CRFS), tmp)
        scores = {}
        for name, crf in CRFS.items():
            out = tmp / f"{name}.av1.mkv"
            proc.run(["-y", "-v", "error", "-i", str(clips[name]), "-map", "0:v:0",
                      "-c:v", "libsvtav1", "-preset", "8", "-crf", str(crf), "-g", "48",
                      "-pix_fmt", "yuv420p10le", "-svtav1-params", "tune=0", str(out)],
                     what=f"encoding {name}")
            scores[name] = frame_vmaf(out, clips[name])
    for length in (24, 36, 48, 60, 72, 96, 120):
        for every in (3, 5):
            errors = sorted(abs(statistics.fmean(w[::every]) - statistics.fmean(w))
                            for v in scores.values()
                            for w in (v[s:s + length] for s in range(0, len(v) - length + 1, 24)))
            print(f"{length} frames, every {every}. scored ({-(-length // every)} frames): "
                  f"mean error {statistics.fmean(errors):.2f}, 90th percentile "
                  f"{errors[int(len(errors) * 0.9)]:.2f}, most {errors[-1]:.2f} "
                  f"({len(errors)} windows)", flush=True)


if __name__ == "__main__":
    main()
