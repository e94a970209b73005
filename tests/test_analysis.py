"""Crop detection, HDR detection and metadata kept (Dolby Vision: test_dolby_vision.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, executed, ffmpeg_make, media_info, run_drapto, shared, workdir_of

from drapto.files import read_json, write_json
from drapto.media.probing import probe
from drapto.stages.crop import decide, detect_in_one_pass, detect_sample, run_crop, sample_times

LAVFI = ["-f", "lavfi", "-i"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]


def crop_of(src: Path, tmp_path: Path, samples: int = 12) -> dict[str, Any]:
    target, facts = tmp_path / "crop.json", tmp_path / "probe.json"
    write_json(facts, probe(src))
    run_crop(src, facts, target, "auto", samples, 16.0, 128.0)
    return dict(read_json(target))


@pytest.mark.e2e
def test_letterbox_239_in_1080p(tmp_path: Path) -> None:
    src = tmp_path / "scope.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=1920x804:r=24:d=4", "-vf", "pad=1920:1080:0:138",
                *X264, str(src))
    result = crop_of(src, tmp_path)
    assert result["crop"] in ([1920, 804, 0, 138], [1920, 800, 0, 140]), result


@pytest.mark.e2e
def test_pillarbox(tmp_path: Path) -> None:
    src = tmp_path / "academy.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=960x720:r=24:d=3", "-vf", "pad=1280:720:160:0", *X264,
                str(src))
    assert crop_of(src, tmp_path)["crop"] == [960, 720, 160, 0]


@pytest.mark.e2e
def test_no_bars_no_crop(tmp_path: Path) -> None:
    src = tmp_path / "full.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=640x360:r=24:d=3", *X264, str(src))
    result = crop_of(src, tmp_path)
    assert result["crop"] is None and "bars too thin" in result["reason"]


@pytest.mark.e2e
def test_fade_to_black_does_not_decide_the_crop(tmp_path: Path) -> None:
    """The last half fades to black: those samples are implausible and set aside."""
    src = tmp_path / "fade.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=640x272:r=24:d=6",
                "-vf", "fade=t=out:st=3:d=1,pad=640:360:0:44", *X264, str(src))
    result = crop_of(src, tmp_path, samples=10)
    assert result["crop"] == [640, 272, 0, 44], result
    assert result["plausible"] < 10


@pytest.mark.e2e
def test_one_pass_reads_the_samples_a_seek_reads(tmp_path: Path) -> None:
    """A short file's samples come from one decode (the seeks would each decode from their
    keyframe): the same rectangle for every sample as a seek to it gives, bars, fade and
    black alike."""
    src = tmp_path / "fade.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=640x272:r=24:d=6", "-vf",
                "fade=t=out:st=3:d=1,pad=640:360:0:44", *X264, "-g", "300", str(src))
    times = sample_times(6.0, 10)
    seeks = [detect_sample(src, t, 16 / 255) for t in times]
    assert len({tuple(r) for r in seeks if r}) >= 2  # bars, then black: samples differ
    assert detect_in_one_pass(src, times, 16 / 255) == seeks


def test_vote_rules() -> None:
    box = [1920, 800, 0, 140]
    assert decide([box] * 9 + [[1920, 1080, 0, 0]], 1920, 1080)["crop"] == box
    split = decide([box] * 7 + [[1920, 1080, 0, 0]] * 3, 1920, 1080)
    assert split["crop"] is None and "no clear winner" in split["reason"]
    black = decide([[-1918, -1078, 1920, 1080]] * 6 + [box] * 4, 1920, 1080)
    assert black["crop"] == box  # the black samples are implausible, not votes
    dark = decide([[-1918, -1078, 1920, 1080]] * 8 + [box] * 2, 1920, 1080)
    assert dark["crop"] is None and "too few plausible samples" in dark["reason"]
    assert decide([None] * 5, 1920, 1080)["reason"] == "no sample could be read"


@pytest.mark.e2e
def test_crop_applied_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "lb.mkv"
    ffmpeg_make(*LAVFI, "testsrc2=s=256x108:r=24:d=3", "-vf", "pad=256:144:0:18", *X264,
                str(src))
    run_drapto(f"input={src}", *FAST, "crop_samples=6", cwd=tmp_path)
    out = media_info(tmp_path / "lb.av1.mkv")["video"]
    assert (out["width"], out["height"]) == (256, 108)
    checks = read_json(workdir_of(tmp_path / "drapto-work") / "validation.json")
    assert checks["ok"]
    manual = run_drapto(f"input={src}", *FAST, "crop=200:100:28:22", "output=m.mkv",
                        cwd=tmp_path)
    assert "encode:0000" in executed(manual) and "scenes" not in executed(manual)
    assert (media_info(tmp_path / "m.mkv")["video"]["width"], 100) == (200, 100)
    bad = run_drapto(f"input={src}", *FAST, "crop=300:100:0:0", "output=b.mkv", cwd=tmp_path,
                     check=False)
    assert bad.returncode != 0 and "crop=300:100:0:0: outside the 256x144 picture" in bad.stdout


def hdr10_clip(path: Path, mastering: bool = True) -> Path:
    params = "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:log-level=error"
    if mastering:
        params += (":hdr10=1:max-cll=1000,400:master-display=G(13250,34500)B(7500,3000)"
                   "R(34000,16000)WP(15635,16450)L(10000000,50)")
    ffmpeg_make(*LAVFI, "testsrc2=s=256x144:r=24:d=3", "-pix_fmt", "yuv420p10le",
                "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, str(path))
    return path


@pytest.mark.e2e
def test_generated_hdr10_keeps_colour_and_static_metadata(tmp_path: Path) -> None:
    src = hdr10_clip(tmp_path / "hdr.mkv")
    before = probe(src)["video"]
    assert before["hdr"]["is_hdr"] and before["hdr"]["mastering_display"]
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = probe(tmp_path / "hdr.av1.mkv")["video"]
    for tag in ("color_primaries", "transfer", "matrix", "color_range"):
        assert out[tag] == before[tag]
    assert out["transfer"] == "PQ" and "SMPTE ST 2086" in out["hdr_format"]
    work = workdir_of(tmp_path / "drapto-work")
    assert read_json(work / "validation.json")["ok"]
    assert read_json(work / "crop.json")["limit"] == round(128 / 1023, 6)


@pytest.mark.e2e
def test_transfer_alone_means_hdr(tmp_path: Path) -> None:
    src = hdr10_clip(tmp_path / "pq.mkv", mastering=False)
    hdr = probe(src)["video"]["hdr"]
    assert (hdr["is_hdr"], hdr["transfer"], hdr["mastering_display"]) == (True, "PQ", False)


@pytest.mark.e2e
def test_real_hdr10_frames_kept_and_hdr10plus_reported(tmp_path: Path) -> None:
    src = shared("tos-hdr10-frames.h265")
    result = run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = probe(tmp_path / "tos-hdr10-frames.av1.mkv")["video"]
    assert (out["width"], out["height"], out["transfer"]) == (1950, 816, "PQ")
    assert "SMPTE ST 2086" in out["hdr_format"] and not out["hdr"]["hdr10plus"]
    assert "drapto: warning: HDR10+ dynamic metadata is not kept" in result.stdout
    validation = read_json(workdir_of(tmp_path / "drapto-work") / "validation.json")
    assert validation["ok"] and validation["warnings"]
