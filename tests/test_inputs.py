"""Real files from ../shared/media, and inputs that must be refused with one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, executed, media_info, run_drapto, shared

from drapto.files import read_json


@pytest.mark.e2e
def test_srt_subtitles_and_delayed_audio_kept(tmp_path: Path) -> None:
    src = shared("srt-subtitles.mkv")
    run_drapto(f"input={src}", "output=out.mkv", "work=w", *FAST, cwd=tmp_path)
    out, want = media_info(tmp_path / "out.mkv"), media_info(src)
    assert out["video"]["format"] == "AV1"
    assert [(s["format"], s["language"], s["title"]) for s in out["subtitles"]] == [
        ("UTF-8", "en", "Subs Label")]
    assert [(a["format"], a["channels"]) for a in out["audio"]] == [("Opus", 1)]
    # The source's audio starts 62 ms after its video; the output keeps that.
    assert abs((out["audio"][0]["delay_ms"] - out["video"]["delay_ms"])
               - (want["audio"][0]["delay_ms"] - want["video"]["delay_ms"])) <= 10


@pytest.mark.e2e
def test_chapters_kept(tmp_path: Path) -> None:
    src = shared("chapters.mkv")
    run_drapto(f"input={src}", "output=out.mkv", "work=w", *FAST, cwd=tmp_path)
    assert media_info(tmp_path / "out.mkv")["chapters"] == 2
    checks = read_json(next((tmp_path / "w").glob("*/validation.json")))
    assert checks["ok"] and any(c["check"] == "frame count" and c["got"] == 150
                                for c in checks["checks"])


@pytest.mark.parametrize("name", ["opus-5.1-audio-only.mka", "two-audio-tracks-no-video.mp4"])
def test_audio_only_refused(name: str, tmp_path: Path) -> None:
    src = shared(name)
    result = run_drapto(f"input={src}", "work=w", cwd=tmp_path, check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if line.startswith("drapto:")]
    assert lines == [f"drapto: {src}: no video stream ({'1' if 'opus' in name else '2'} "
                     "audio track(s)); drapto encodes video files"]
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(tmp_path.glob("*.mkv"))


@pytest.mark.e2e
def test_video_without_audio_encodes(tmp_path: Path) -> None:
    from drapto.media.demo import make_sample

    src = make_sample(tmp_path / "silent.mkv", scenes=[1.0, 1.5], audio=False,
                      subtitles=False, chapters=False)
    run_drapto(f"input={src}", "work=w", *FAST, cwd=tmp_path)
    out = media_info(tmp_path / "silent.av1.mkv")
    assert out["audio"] == [] and out["video"]["format"] == "AV1"


@pytest.mark.parametrize(("args", "message"), [
    (["input=missing.mkv"], "missing.mkv: no such file"),
    (["input=in.mkv", "output=in.mkv"], "is the input; choose another output="),
    (["input=in.mkv", "output=x.mp4"], "must end in .mkv"),
    (["input=in.mkv", "tune=3"], "unknown setting 'tune' in the command line"),
    (["input=in.mkv", "profile=nope"], "profile 'nope': no such profile"),
    (["input=in.mkv", "profile=bad.yaml"], "bad.yaml: cannot be read"),
    (["input=in.mkv", "profile=unknown.yaml"], "unknown setting 'speed' in profile"),
    (["input=in.mkv", "profile=list.yaml"], "expected a mapping of setting: value"),
    (["input=text.mkv"], "no video stream"),
    (["input=empty.mkv"], "the file is empty"),
])
def test_bad_invocations_fail_with_one_line(args: list[str], message: str,
                                            tmp_path: Path) -> None:
    (tmp_path / "in.mkv").write_bytes(b"not really a video")
    (tmp_path / "text.mkv").write_text("hello\n")
    (tmp_path / "empty.mkv").write_bytes(b"")
    (tmp_path / "bad.yaml").write_text("preset: [6\n")
    (tmp_path / "unknown.yaml").write_text("speed: 3\n")
    (tmp_path / "list.yaml").write_text("- preset\n")
    result = run_drapto(*args, cwd=tmp_path, check=False)
    assert result.returncode != 0
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()
            and not line.startswith(".  ")]
    assert len(said) == 1 and said[0].startswith("drapto: ") and message in said[0], said
    assert (tmp_path / "in.mkv").read_bytes() == b"not really a video"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mkv") == [
        "empty.mkv", "in.mkv", "text.mkv"]


@pytest.mark.e2e
def test_ffmpeg_without_what_drapto_needs_is_named(sample: Path, tmp_path: Path) -> None:
    # A stand-in FFmpeg that lists no encoder or filter drapto needs: real builds without
    # libsvtav1 cannot be installed here on demand.
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' V..... libx264   H.264'\n")
    fake.chmod(0o755)
    result = run_drapto(f"input={sample}", "work=w", cwd=tmp_path, check=False,
                        env={"DRAPTO_FFMPEG": str(fake)})
    assert result.returncode != 0
    assert (f"drapto: FFmpeg at {fake} lacks what drapto needs: libsvtav1, libopus, libvmaf, "
            "scdet, cropdetect") in result.stdout


@pytest.mark.e2e
def test_ffmpeg_older_than_7_is_named(sample: Path, tmp_path: Path) -> None:
    """Everything listed, but too old for the loopback decoder the VMAF check runs on."""
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'ffmpeg version 6.1.1 Copyright' >&2\n"
                    "for x in libsvtav1 libopus libvmaf scdet cropdetect; do "
                    "echo \" V..... $x   x\"; done\n")
    fake.chmod(0o755)
    result = run_drapto(f"input={sample}", "work=w", cwd=tmp_path, check=False,
                        env={"DRAPTO_FFMPEG": str(fake)})
    assert result.returncode != 0
    assert (f"drapto: FFmpeg at {fake} lacks what drapto needs: loopback decoders (-dec, "
            "FFmpeg 7 or newer; this is 6.x)") in result.stdout, result.stdout


def test_list_and_help_work_without_input(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import ROOT

    from drapto.stages import PIPELINE

    base = [sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py")]
    # Run where dodo.py is (pyproject.toml gives doit drapto's list): the tasks a user runs,
    # then how many internal ones there are; --private lists them too.
    listing = subprocess.run([*base, "list"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    # Every kind of the pipeline's declaration, the whole job's task and job:N.
    every = sorted({*(k.name for k in PIPELINE), "encode", "job"})
    assert [line.split()[0] for line in listing.splitlines()] == \
        ["encode", "report", f"({len(every) - 2}"]
    listing = subprocess.run([*base, "list", "--private"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    names = [line.split()[0] for line in listing.splitlines()]
    assert names == every and len(every) == 18
    helped = subprocess.run([*base, "help", "encode"], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout
    assert "Encode input= to an AV1 + Opus MKV" in helped
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_a_file_drapto_did_not_write_is_never_replaced(sample: Path, encoded: dict[str, Any],
                                                       tmp_path: Path) -> None:
    """README copied to precious.mkv: refused before any work, left as it was; overwrite=yes
    replaces it; drapto's own output, even without its work folder, is its own."""
    precious = tmp_path / "precious.mkv"
    precious.write_text("my notes\n")
    refused = run_drapto(f"input={sample}", "output=precious.mkv", *FAST, cwd=tmp_path,
                         check=False)
    assert refused.returncode != 0 and executed(refused) == []
    assert f"drapto: {precious} exists and drapto did not write it for {sample}: not " \
           "replacing it; overwrite=yes replaces it" in refused.stderr
    assert precious.read_text() == "my notes\n" and not (tmp_path / "drapto-work").exists()
    run_drapto(f"input={sample}", "output=precious.mkv", "overwrite=yes", *FAST, cwd=tmp_path)
    assert precious.read_bytes() == encoded["output"].read_bytes()
    # Another input's encode is not this input's: refused too.
    other = tmp_path / "other.mkv"
    other.write_bytes(sample.read_bytes()[:-1] + b"\0")
    assert run_drapto(f"input={other}", "output=precious.mkv", *FAST, cwd=tmp_path,
                      check=False).returncode != 0
    # drapto's own output is recognised by its tag with a new work folder.
    again = run_drapto(f"input={sample}", "output=precious.mkv", "work=fresh", *FAST,
                       cwd=tmp_path)
    assert precious.read_bytes() == encoded["output"].read_bytes() and again.returncode == 0
