"""Segment planning from scene cuts, and scdet on a clip whose cuts are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from drapto.media.records import PictureChange
from drapto.media.timeline import seek_arg
from drapto.stages.scenes import Pass, build, detect, plan


def test_plan_drops_close_cuts_splits_long_gaps_merges_short_tail() -> None:
    # 24 fps, min 5 s = 120 frames, max 15 s = 360 frames
    assert plan([], 300, 120, 360) == [0]
    assert plan([50, 200], 1000, 120, 360) == [0, 200, 466, 733]  # 50 too close; 800 in 3
    assert plan([300], 350, 120, 360) == [0]                      # 50-frame tail merged
    assert plan([], 1000, 120, 360) == [0, 333, 666]              # even split, no runt
    assert plan([120, 240], 360, 120, 360) == [0, 120, 240]


def test_build_uses_scores_and_timestamps() -> None:
    pts = [i * 41_667 for i in range(100)]
    scores = [0.0] * 100
    scores[40] = 50.0
    scores[41] = 12.0   # above threshold but too close to the previous cut
    scenes = build(pts, scores, 24.0, 10.0, 1.0, 3.0)
    assert scenes.cuts == (40, 41)
    assert [(s.start, s.frames) for s in scenes.segments] == [(0, 40), (40, 60)]
    assert scenes.segments[1].start_pts_us == 40 * 41_667


def test_seek_arg_is_exact() -> None:
    assert seek_arg(1_541_999) == "1.541999"
    assert seek_arg(0) == "0.000000"


@pytest.mark.e2e
def test_detect_finds_the_hard_cuts(sample: Path, tmp_path: Path) -> None:
    read, start, _ = detect(sample, tmp_path)
    pts, scores = read.pts, read.scores
    assert start == 0 and read.changes == []
    assert len(pts) == 144
    assert [i for i, s in enumerate(scores) if s >= 10] == [36, 108]
    assert pts[36] == 1_500_000
    assert list(tmp_path.iterdir()) == []


def test_the_scene_pass_reads_frames_with_or_without_the_log_prefix() -> None:
    """FFmpeg drops a line's "[Parsed_… @ 0x…]" prefix after a line that ended in a carriage
    return (its progress line), and prints it after another thread's unfinished line (seen
    under load): every frame is read all the same, and a picture change is placed before
    the frame it comes with."""
    read = Pass()
    for line in ["[Parsed_metadata_2 @ 0x1] frame:0    pts:0       pts_time:0",
                 "[Parsed_metadata_2 @ 0x1] lavfi.scd.mafd=0.000",
                 "[Parsed_metadata_2 @ 0x1] lavfi.scd.score=0.000",
                 "frame=    1 fps=0.0 q=-0.0 size=N/A time=00:00:00.04 speed=1x    \r"
                 "frame:1    pts:41667   pts_time:0.041667",
                 "lavfi.scd.score=12.500",
                 "[vf#0:0 @ 0x2] Reconfiguring filter graph because video parameters changed "
                 "to yuvj420p(pc, unknown), 320x180, unspecified alpha",
                 "      encoder         : Lavc63.1.102 pcm_s16le"
                 "frame:0    pts:83333   pts_time:0.083333",
                 "[Parsed_metadata_2 @ 0x3] lavfi.scd.score=0.000"]:
        read.line(line)
    assert read.pts == [0, 41667, 83333] and read.scores == [0.0, 12.5, 0.0]
    assert read.changes == [PictureChange(2, 320, 180, "yuvj420p", "pc")]
