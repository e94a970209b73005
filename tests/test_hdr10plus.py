"""HDR10+ kept frame by frame: each output frame carries its source frame's ST 2094-40
metadata, as FFmpeg's own decoders read it from the source (HEVC SEI) and from the output
(AV1 metadata OBUs); validation counts it and fails where it is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    FAST,
    drapto_argv,
    encodes_run,
    ffmpeg_make,
    media_info,
    run_drapto,
    shared,
    stamped_segments,
    workdir_of,
)

from drapto.files import read_json
from drapto.media import hdr10plus, obu, proc
from drapto.stages.validate import hdr10plus_checks

DEFAULT_MODE = {"DRAPTO_QUALITY": "vmaf"}
FRAMES = 96


def hdr10plus_clip(path: Path, frames: int = FRAMES) -> Path:
    """4 s of HEVC with bars above and below and HDR10+ that differs on every frame (x265's
    dhdr10-info), B-frames reordered; at a mezzanine's bitrate, so that the size cap lets
    the default mode encode it."""
    scenes = [{"BezierCurveData": {"Anchors": [], "KneePointX": 0, "KneePointY": 0},
               "LuminanceParameters": {
                   "AverageRGB": 100 + 37 * i,
                   "LuminanceDistributions": {
                       "DistributionIndex": [1, 5, 10, 25, 50, 75, 90, 95, 99],
                       "DistributionValues": [0, 5 + i, 10 + i, 50 + i, 100 + i, 200 + i,
                                              400 + i, 800 + i, 1600 + i]},
                   "MaxScl": [3000 + i, 2000 + i, 1000 + i]},
               "NumberOfWindows": 1, "TargetedSystemDisplayMaximumLuminance": 0,
               "SceneFrameIndex": i % 24, "SceneId": i // 24, "SequenceFrameIndex": i}
              for i in range(frames)]
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({
        "JSONInfo": {"HDR10plusProfile": "A", "Version": "1.0"}, "SceneInfo": scenes,
        "SceneInfoSummary": {"SceneFirstFrameIndex": list(range(0, frames, 24)),
                             "SceneFrameNumbers": [24] * (frames // 24)},
        "ToolInfo": {"Tool": "drapto tests", "Version": "1"}}))
    params = ("log-level=error:bframes=3:crf=4:colorprim=bt2020:transfer=smpte2084:"
              "colormatrix=bt2020nc:hdr10=1:max-cll=1000,400:master-display=G(13250,34500)"
              f"B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):dhdr10-info={meta}")
    ffmpeg_make("-f", "lavfi", "-i", f"testsrc2=s=256x108:r=24:d={frames / 24}",
                "-vf", "pad=256:144:0:18", "-pix_fmt", "yuv420p10le", "-c:v", "libx265",
                "-preset", "ultrafast", "-x265-params", params, str(path))
    return path


def frame_metadata(path: Path) -> list[str]:
    """Each decoded frame's HDR10+ as FFmpeg's showinfo prints it ("" for none), in
    presentation order."""
    err = subprocess.run([proc.ffmpeg(), "-hide_banner", "-i", str(path), "-map", "0:v:0",
                          "-vf", "showinfo", "-f", "null", "-"], capture_output=True,
                         text=True, check=True, stdin=subprocess.DEVNULL).stderr
    frames: list[str] = []
    for line in err.splitlines():
        if "Parsed_showinfo" in line and " n:" in line:
            frames.append("")
        elif "SMPTE2094-40 (HDR10+)" in line and frames:
            frames[-1] = line.split("(HDR10+):", 1)[1].strip()
    return frames


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hdr10plus_clip(tmp_path_factory.mktemp("hdr10plus") / "hdr10plus.mkv")


@pytest.mark.e2e
def test_every_frame_keeps_its_own_hdr10plus_in_the_default_mode(source: Path,
                                                                  tmp_path: Path) -> None:
    """Several segments, bars cropped, VMAF targeting: frame i of the output holds what
    frame i of the source held, read by FFmpeg's HEVC and AV1 decoders."""
    run_drapto(f"input={source}", "output=out.mkv", *FAST, cwd=tmp_path, env=DEFAULT_MODE)
    expected = frame_metadata(source)
    assert len(expected) == FRAMES and all(expected) and len(set(expected)) == FRAMES
    assert frame_metadata(tmp_path / "out.mkv") == expected
    work = workdir_of(tmp_path / "drapto-work")
    validation = read_json(work / "validation.json")
    check = next(c for c in validation["checks"] if c["check"].startswith("HDR10+"))
    assert validation["ok"] and check["expected"] == check["got"] == FRAMES
    assert not any("HDR10+" in w for w in validation["warnings"])
    assert len(read_json(work / "scenes.json")["segments"]) >= 2
    video = media_info(tmp_path / "out.mkv")["video"]
    assert (video["width"], video["height"]) == (256, 108)
    assert "SMPTE ST 2086" in video["hdr_format"]  # and the static metadata beside it


@pytest.mark.e2e
def test_one_worker_or_two_a_kill_and_a_clip(source: Path, tmp_path: Path) -> None:
    """In the default mode, the same bytes with -n 1, with -n 2, and after a SIGKILL
    mid-run (the finished encodes kept); a clip keeps the metadata of its own frames."""
    outputs = []
    for jobs in (1, 2):
        run_drapto(f"input={source}", f"output=n{jobs}.mkv", f"work=w{jobs}", *FAST,
                   cwd=tmp_path, jobs=jobs, env=DEFAULT_MODE)
        outputs.append((tmp_path / f"n{jobs}.mkv").read_bytes())
    assert outputs[0] == outputs[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    args = [f"input={source}", "output=killed.mkv", "work=wk", *FAST]
    run = subprocess.Popen(drapto_argv(*args, jobs=2), cwd=tmp_path,
                           env={**env, **DEFAULT_MODE}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("wk/*/stamps/hdr10plus*.json")):
        assert time.monotonic() < deadline and run.poll() is None, "timed out"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    assert not (tmp_path / "killed.mkv").exists()
    done = stamped_segments(workdir_of(tmp_path / "wk"))
    again = run_drapto(*args, cwd=tmp_path, jobs=2, env=DEFAULT_MODE)
    assert not done & encodes_run(again)
    assert (tmp_path / "killed.mkv").read_bytes() == outputs[0]
    run_drapto(f"input={source}", "output=clip.mkv", "start=1.5", "duration=2", *FAST,
               cwd=tmp_path)
    clip = frame_metadata(tmp_path / "clip.mkv")
    assert clip == frame_metadata(source)[36:36 + 48]


@pytest.mark.e2e
def test_validation_fails_where_a_frame_lost_it(source: Path, tmp_path: Path) -> None:
    """What the join wrote against what is read back: the output as made passes; the same
    output with its metadata OBUs removed, or one frame's payload changed, does not."""
    run_drapto(f"input={source}", "output=out.mkv", *FAST, cwd=tmp_path)
    work = workdir_of(tmp_path / "drapto-work")
    written = hdr10plus.read(work / "hdr10plus.t35")
    found = hdr10plus.read_back(tmp_path / "out.mkv", tmp_path / "scratch")
    assert all(c["ok"] for c in hdr10plus_checks(written, found))
    ffmpeg_make("-i", str(tmp_path / "out.mkv"), "-map", "0:v", "-c", "copy", "-bsf:v",
                f"filter_units=remove_types={obu.METADATA}", str(tmp_path / "stripped.mkv"))
    stripped = hdr10plus.read_back(tmp_path / "stripped.mkv", tmp_path / "scratch")
    [check] = hdr10plus_checks(written, stripped)
    assert not check["ok"] and (check["expected"], check["got"]) == (FRAMES, 0)
    changed = [*found[:5], found[5][:-1] + b"\x01", *found[6:]]
    [check] = hdr10plus_checks(written, changed)
    assert not check["ok"] and check["got"] == FRAMES - 1


def test_sei_payloads_and_obus() -> None:
    """An HEVC prefix SEI with an emulation prevention byte gives the payload without it;
    a payload put in a temporal unit's metadata OBU after its delimiter reads back."""
    payload = hdr10plus.PREFIX + bytes([1, 0, 0, 3, 7])
    body = bytes([4, len(payload)]) + payload + b"\x80"
    escaped = body.replace(b"\x00\x00\x03", b"\x00\x00\x03\x03")
    nal = b"\x00\x00\x00\x01" + bytes([39 << 1, 1]) + escaped
    assert hdr10plus.sei_payloads(nal + b"\x00\x00\x01\x26\x01\xaf") == [payload]
    td, frame = bytes([obu.TEMPORAL_DELIMITER << 3 | 2, 0]), bytes([6 << 3 | 2, 2, 9, 9])
    tu = obu.with_unit(td + frame, obu.t35_unit(payload))
    kinds = [k for k, *_ in obu.units(tu)]
    assert kinds == [obu.TEMPORAL_DELIMITER, obu.METADATA, 6]
    _, _, at, end = list(obu.units(tu))[1]
    assert obu.t35(tu[:end], at) == payload
    # Its processing windows: x265's payloads have one; a crop says so when one has more.
    assert hdr10plus.windows(hdr10plus.PREFIX + bytes([1, 0b01 << 6])) == 1
    assert hdr10plus.windows(hdr10plus.PREFIX + bytes([1, 0b11 << 6, 0])) == 3


@pytest.mark.e2e
def test_the_real_hdr10plus_sample_keeps_every_frame(tmp_path: Path) -> None:
    """hdr10plus_tool's sample (black frames, so the size cap is off), in the default mode:
    its 259 frames' HDR10+ in the output as FFmpeg reads it from the source."""
    src = shared("hdr10plus-black.mkv")
    run_drapto(f"input={src}", "output=out.mkv", *FAST, "max_encoded_percent=0",
               cwd=tmp_path, env=DEFAULT_MODE)
    expected = frame_metadata(src)
    assert len(expected) == 259 and all(expected)
    assert frame_metadata(tmp_path / "out.mkv") == expected
    validation = read_json(workdir_of(tmp_path / "drapto-work") / "validation.json")
    assert validation["ok"] and not any("HDR10+" in w for w in validation["warnings"])
