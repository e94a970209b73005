"""What one segment's encode costs before its first frame: FFmpeg's start, the seek, SVT-AV1's
set-up and libvmaf's model, at 192x108 and at 1080p.

    .venv/bin/python bench/startup.py [--runs 5] [--preset 10] [--keep]

A generated clip (test cards, x264) per size; drapto's own encode of one segment
(``encoder.encode_range``, as a search's final encode runs it: the encode scored in the same
FFmpeg run) of 1 frame and of 240 frames, with and without scoring, each timed over
--runs runs (medians). The 1-frame encode is the start-up; what it is of a 240-frame
segment (10 s at 24 fps, a short segment of a film) is what a film of such segments pays
for starting each encode apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import common

from drapto.media.demo import make_sample
from drapto.media.records import Segment
from drapto.quality.policy import Video
from drapto.quality.svt import encode_range
from drapto.quality.vmaf import Scoring


def timed(source: Path, frames: int, start: int, scored: bool, preset: int, out: Path,
          runs: int) -> float:
    """The median wall time of encoding *frames* frames from frame *start* (a seek)."""
    seg = Segment(start=start, frames=frames, pts_us=round(start * 1e6 / 24),
                  source_bytes=None, first=start == 0)
    video = Video(preset=preset, pixel_format="yuv420p10le", svt_params="tune=0", crf=40)
    vmaf = Scoring("vmaf_v0.6.1", 9, "yuv420p") if scored else None
    seconds = []
    for _ in range(runs):
        began = time.monotonic()
        encode_range(source, seg, out, video, [], [], 2, vmaf=vmaf)
        seconds.append(time.monotonic() - began)
    return statistics.median(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--preset", type=int, default=10)
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    rows: list[tuple[object, ...]] = [("size", "frames", "scored", "median s",
                                       "s per frame", "start-up share")]
    with common.workspace("drapto-startup-", ns.keep) as tmp:
        for size in ("192x108", "1920x1080"):
            source = make_sample(tmp / f"{size}.mkv", scenes=[12.0, 12.0], size=size,
                                 audio=False, subtitles=False, chapters=False)
            for scored in (False, True):
                one = timed(source, 1, 48, scored, ns.preset, tmp / "out.mkv", ns.runs)
                many = timed(source, 240, 48, scored, ns.preset, tmp / "out.mkv", ns.runs)
                rows.append((size, 1, scored, f"{one:.2f}", "", ""))
                rows.append((size, 240, scored, f"{many:.2f}", f"{many / 240:.4f}",
                             f"{100 * one / many:.0f} %"))
    common.table(rows, title=f"one segment's encode, preset {ns.preset}, 2 threads, "
                             f"median of {ns.runs}")


if __name__ == "__main__":
    main()
