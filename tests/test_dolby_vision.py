"""Dolby Vision in segments like every other film: the RPU kept in every frame of every
segment, the same bytes whatever -n, resume after a kill, bars left alone, and the
fallbacks when the RPU cannot be carried over."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    drapto_argv,
    encodes_run,
    executed,
    ffmpeg_make,
    records_of,
    run_drapto,
    segment_file,
    shared,
    stamped_segments,
    workdir_of,
)

from drapto.errors import DraptoError
from drapto.files import read_json, write_json
from drapto.media import dovi, matroska, obu, proc
from drapto.media.obu import t35_by_frame
from drapto.media.probing import probe
from drapto.media.records import Crop, DolbyVision, Scenes, SceneSegment
from drapto.quality.policy import Video
from drapto.quality.search import FromDefaults
from drapto.quality.segment_run import run_encode
from drapto.stages.crop import run_crop
from drapto.stages.segments import segment_of
from drapto.stages.validate import active_area_checks, rpu_frames

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg

# The default mode (quality targeting), fast, with segments of 1-2 s: the shared sample's
# 259 frames (10.8 s) make 6 segments.
# The shared sample is black: AV1 at the target takes ~90 % of its video, over the size cap
# (the default would skip it); these tests are of Dolby Vision, so the cap is off.
SETTINGS = ["preset=12", "min_segment=1", "max_segment=2", "max_encoded_percent=0"]
DEFAULT_MODE = {"DRAPTO_QUALITY": "vmaf"}
FRAMES = 259


def encode_dv(cwd: Path, jobs: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_drapto(f"input={shared('dv-p8.1-black.mkv')}", "output=out.mkv", *SETTINGS,
                      *extra, cwd=cwd, jobs=jobs, env=DEFAULT_MODE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("dv-reference")
    encode_dv(cwd, 1)
    return cwd


def test_segments_keep_the_rpu_in_every_frame(reference: Path) -> None:
    out = probe(reference / "out.mkv")["video"]
    dv = out["hdr"]["dolby_vision"]
    assert dv is not None and dv["codec_profile"].startswith("dav1.10"), out
    assert dv["compatibility"] == "HDR10" and "2086" in out["hdr_format"]
    work = workdir_of(reference / "drapto-work")
    records = records_of(work)
    assert len(records) == len(read_json(work / "scenes.json")["segments"]) == 6
    assert all(r["dolby_vision"] and r["search"]["target"] == 95.0 for r in records)
    assert rpu_frames(t35_by_frame(reference / "out.mkv", reference / "scratch")) == FRAMES
    checks = {c["check"]: c for c in read_json(work / "validation.json")["checks"]}
    assert checks["Dolby Vision RPU in every frame"] == {
        "check": "Dolby Vision RPU in every frame", "expected": FRAMES, "got": FRAMES,
        "ok": True}


def test_same_bytes_with_two_workers(reference: Path, tmp_path: Path) -> None:
    encode_dv(tmp_path, 2)
    assert (tmp_path / "out.mkv").read_bytes() == (reference / "out.mkv").read_bytes()


def test_resumes_after_sigkill_keeping_finished_segments(reference: Path,
                                                         tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    argv = drapto_argv(f"input={shared('dv-p8.1-black.mkv')}", "output=out.mkv", *SETTINGS,
                       jobs=2)
    run = subprocess.Popen(argv, cwd=tmp_path, env={**env, **DEFAULT_MODE},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, start_new_session=True)

    def stamped() -> list[Path]:  # segments encoded: calibration ones too
        return [p for kind in ("sample", "calibration", "encode")
                for p in tmp_path.glob(f"drapto-work/*/stamps/{kind}-*.json")]
    deadline = time.monotonic() + 120
    while len(stamped()) < 2:
        assert time.monotonic() < deadline and run.poll() is None, "timed out"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    done = stamped_segments(workdir_of(tmp_path / "drapto-work"))
    assert 2 <= len(done) < 6, "the kill did not land mid-encode"
    finished = encode_dv(tmp_path, 2)
    assert not done & encodes_run(finished)
    assert (tmp_path / "out.mkv").read_bytes() == (reference / "out.mkv").read_bytes()


def test_a_lost_segment_alone_is_redone(reference: Path, tmp_path: Path) -> None:
    encode_dv(tmp_path, 2, "keep_work=yes")
    work = workdir_of(tmp_path / "drapto-work")
    lost = segment_file(work, 3)
    before = lost.read_bytes()
    lost.unlink()
    again = encode_dv(tmp_path, 2, "keep_work=yes")
    # Segment 3 is a calibration segment: its sample is the film's encode.
    assert [t for t in executed(again) if t.startswith(("sample:", "encode:"))] == \
        ["sample:0003"]
    assert lost.read_bytes() == before


BARS = (0, 0, 18, 18)  # the letterboxed source's level-5 active area: 18 lines above, below


@pytest.fixture(scope="module")
def letterboxed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared sample with a picture drawn between black bars (256x108 of 256x144),
    re-encoded with its RPU, whose level-5 active area then says where the bars are (as a
    letterboxed film's does; the shared sample's says none): an AV1 Dolby Vision source
    with letterbox bars."""
    folder = tmp_path_factory.mktemp("dv-letterbox")
    src, plain = folder / "letterbox.mkv", folder / "plain.mkv"
    ffmpeg_make("-i", str(shared("dv-p8.1-black.mkv")), "-frames:v", "96", "-vf",
                "drawbox=x=0:y=18:w=256:h=108:color=gray@1:t=fill,"
                "drawgrid=x=0:y=18:w=32:h=27:color=white@1:t=2",
                "-pix_fmt", "yuv420p10le", "-c:v", "libsvtav1", "-preset", "12",
                "-dolbyvision", "1", str(plain))
    matroska.rewrite(plain, folder / "marked.mkv", lambda frame: with_rpu_area(frame, BARS))
    ffmpeg_make("-i", str(folder / "marked.mkv"), "-c", "copy", str(src))
    assert probe(src)["video"]["hdr"]["dolby_vision"] is not None
    assert {areas(f) for f in t35_by_frame(src, folder / "scratch")} == {BARS}
    return src


def with_rpu_area(frame: bytes, area: dovi.Area) -> bytes:
    """A frame whose Dolby Vision RPU says *area* (a cut of minus the area from nothing)."""
    return dovi.cropped_frame(frame, tuple(-a for a in area))  # type: ignore[arg-type]


def areas(payloads: list[bytes]) -> dovi.Area | None:
    rpu = next(p for p in payloads if p.startswith(dovi.DOLBY_T35))
    assert dovi.crc_holds(rpu)
    return dovi.active_area(rpu)


def test_letterboxed_dolby_vision_is_cropped_and_its_active_area_moved(
        letterboxed: Path, tmp_path: Path) -> None:
    """Bars found (256x110 at y=18: 18 lines taken above, 16 below): the picture is
    cropped, Dolby Vision kept, and every frame's RPU says what is left of the bars (2
    lines below) with a CRC that holds; FFmpeg, checking CRCs, reads every frame's RPU."""
    run_drapto(f"input={letterboxed}", "output=out.mkv", *SETTINGS, cwd=tmp_path,
               env=DEFAULT_MODE)
    out = probe(tmp_path / "out.mkv")["video"]
    assert (out["width"], out["height"]) == (256, 110)
    dv = out["hdr"]["dolby_vision"]
    assert dv is not None and dv["codec_profile"].startswith("dav1.10")
    assert dv["compatibility"] == "HDR10" and "2086" in out["hdr_format"]
    frames = t35_by_frame(tmp_path / "out.mkv", tmp_path / "scratch")
    assert len(frames) == 96 and {areas(f) for f in frames} == {(0, 0, 0, 2)}
    work = workdir_of(tmp_path / "drapto-work")
    assert read_json(work / "crop.json")["crop"] == [256, 110, 0, 18]
    validation = read_json(work / "validation.json")
    check = next(c for c in validation["checks"] if "active area" in c["check"])
    assert validation["ok"] and check["expected"] == check["got"] == 96
    decoded = subprocess.run([proc.ffmpeg(), "-hide_banner", "-err_detect", "crccheck",
                              "-i", str(tmp_path / "out.mkv"), "-vf", "showinfo", "-f",
                              "null", "-"], capture_output=True, text=True, check=True,
                             stdin=subprocess.DEVNULL).stderr
    assert decoded.count("Dolby Vision Metadata") == 96, decoded[-2000:]
    assert "CRC" not in decoded and "RPU" not in decoded.replace("RPU Data", "")
    # The check fails where a frame's area is not the one its crop left.
    wrong = [*frames[:7], [dovi.cropped(p, (0, 0, 0, 2)) for p in frames[7]], *frames[8:]]
    [failed] = active_area_checks([BARS] * 96, wrong, (0, 0, 18, 16))
    assert not failed["ok"] and failed["got"] == 95


def test_dolby_vision_off_crops_the_bars(letterboxed: Path, tmp_path: Path) -> None:
    run_drapto(f"input={letterboxed}", "output=out.mkv", *SETTINGS, "dolby_vision=off",
               cwd=tmp_path)
    out = probe(tmp_path / "out.mkv")["video"]
    assert (out["width"], out["height"]) == (256, 110)
    assert out["hdr"]["dolby_vision"] is None and "2086" in out["hdr_format"]


def test_a_given_crop_on_dolby_vision_moves_its_active_area(letterboxed: Path,
                                                            tmp_path: Path) -> None:
    """crop=256:100:0:20 takes more than the bars: nothing of them is left to say; the
    same bytes with one worker or two."""
    for jobs in (1, 2):
        run_drapto(f"input={letterboxed}", f"output=out{jobs}.mkv", f"work=w{jobs}",
                   *SETTINGS, "crop=256:100:0:20", cwd=tmp_path, jobs=jobs,
                   env=DEFAULT_MODE)
    assert (tmp_path / "out1.mkv").read_bytes() == (tmp_path / "out2.mkv").read_bytes()
    (tmp_path / "out1.mkv").rename(tmp_path / "out.mkv")
    out = probe(tmp_path / "out.mkv")["video"]
    assert (out["width"], out["height"]) == (256, 100)
    assert out["hdr"]["dolby_vision"] is not None
    frames = t35_by_frame(tmp_path / "out.mkv", tmp_path / "scratch")
    assert {areas(f) for f in frames} == {(0, 0, 0, 0)}
    assert read_json(workdir_of(tmp_path / "w1") / "validation.json")["ok"]


def test_an_encoder_refusal_falls_back_to_plain_hdr(tmp_path: Path) -> None:
    """8-bit output: libsvtav1 cannot make Dolby Vision of it and says so; every segment is
    encoded as plain HDR, with one warning."""
    result = run_drapto(f"input={shared('dv-p8.1-black.mkv')}", "output=out.mkv", *SETTINGS,
                        "pixel_format=yuv420p", cwd=tmp_path)
    assert probe(tmp_path / "out.mkv")["video"]["hdr"]["dolby_vision"] is None
    warned = [line for line in result.stdout.splitlines() if "refused it" in line]
    assert len(warned) == 1 and "encoded as plain HDR video" in warned[0]


@pytest.mark.parametrize(("profile", "compat"), [(9, "SDR"), (10, None)])
def test_dolby_vision_the_encoder_cannot_convert_falls_back(profile: int, compat: str | None,
                                                           tmp_path: Path) -> None:
    """Profiles 9 and 10 without compatibility id: no such real file here, so the real DV
    source is encoded under a probe that says so; the RPU is left out, with a warning."""
    src = shared("dv-p8.1-black.mkv")
    scenes = Scenes(FRAMES, 24.0, 0, 0, (), (SceneSegment(0, 0, FRAMES, 0),))
    Crop("off", 256, 144, None, "crop=off").write(tmp_path / "crop.json")
    dv = DolbyVision(profile, f"dvhe.0{profile}", compat)
    video = Video(preset=12, crf=25, pixel_format="yuv420p10le", svt_params="",
                  dolby_vision=dv)
    out = tmp_path / "0000.mkv"
    run_encode(src, segment_of(scenes, 0), tmp_path / "crop.json", out, video, 2, "auto",
               {1080: 1000}, FromDefaults())
    record = read_json(tmp_path / "0000.json")
    assert record["dolby_vision"] is False
    assert record["warnings"] and "not kept" in record["warnings"][0]
    assert probe(out)["video"]["hdr"]["dolby_vision"] is None


def test_a_cropped_hevc_dolby_vision_source_is_checked_frame_by_frame(tmp_path: Path) -> None:
    """The shared profile 8.1 sample (HEVC, its RPUs' active area 0 on every side) with a
    given crop: validation reads each source frame's RPU NAL unit, in presentation order,
    and finds each output frame's area as the crop leaves it."""
    run_drapto(f"input={shared('dv-p8.1-black.mkv')}", "output=out.mkv", *SETTINGS,
               "crop=256:128:0:8", cwd=tmp_path)
    out = probe(tmp_path / "out.mkv")["video"]
    assert (out["width"], out["height"]) == (256, 128) and out["hdr"]["dolby_vision"]
    validation = read_json(workdir_of(tmp_path / "drapto-work") / "validation.json")
    check = next(c for c in validation["checks"] if "active area" in c["check"])
    assert validation["ok"] and check["expected"] == check["got"] == FRAMES


def test_rpus_drapto_cannot_rewrite_keep_their_bars_before_any_encode(letterboxed: Path,
                                                                      tmp_path: Path) -> None:
    """The RPU syntax is checked when the crop is decided: the shared sample's and the
    letterboxed source's are read; a source whose RPUs are not (their rpu_type changed
    here) keeps its bars, said in crop.json, and a given crop is refused with one line."""
    assert dovi.unrewritable(shared("dv-p8.1-black.mkv"), "HEVC", tmp_path / "x") is None
    assert dovi.unrewritable(letterboxed, "AV1", tmp_path / "x") is None

    def odd_type(frame: bytes) -> bytes:
        for kind, _, at, end in obu.units(frame):
            body = frame[at + 1:end - 1]
            if kind == obu.METADATA and body.startswith(dovi.DOLBY_T35):
                w = dovi.unwrap(body)
                assert w is not None
                body = dovi._put(body, w.start, 6, 3)  # rpu_type 3
                return frame[:at + 1] + body + frame[end - 1:]
        return frame
    odd = tmp_path / "odd.mkv"
    matroska.rewrite(letterboxed, tmp_path / "marked.mkv", odd_type)
    ffmpeg_make("-i", str(tmp_path / "marked.mkv"), "-c", "copy", str(odd))
    assert dovi.unrewritable(odd, "AV1", tmp_path / "x") == "rpu_type 3"
    write_json(tmp_path / "probe.json", probe(letterboxed))
    run_crop(odd, tmp_path / "probe.json", tmp_path / "crop.json", "auto", 6, 24.0, 128.0,
             "auto")
    crop = read_json(tmp_path / "crop.json")
    assert crop["crop"] is None and crop["would_crop"] == [256, 110, 0, 18]
    assert "rpu_type 3" in crop["reason"]
    with pytest.raises(DraptoError, match="cannot rewrite"):
        run_crop(odd, tmp_path / "probe.json", tmp_path / "crop.json", "256:100:0:20", 6,
                 24.0, 128.0, "auto")
