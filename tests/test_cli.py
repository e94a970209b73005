"""The `drapto` command (and python -m drapto): the same tasks without the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import media_info

from drapto.media.demo import make_sample
from drapto.media.memory import svt_threads

DRAPTO = Path(sys.executable).parent / "drapto"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DRAPTO), *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False, timeout=300)


def test_help(tmp_path: Path) -> None:
    top = run("--help", cwd=tmp_path)
    assert top.returncode == 0 and "encode" in top.stdout and "report" in top.stdout
    enc = subprocess.run([sys.executable, "-m", "drapto", "encode", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    # A screen: the options people change first (at most 10), the rest behind --help-all.
    assert len(enc.splitlines()) <= 40 and max(map(len, enc.splitlines())) <= 80
    for flag in ("--output", "--parallel", "--set KEY=VALUE", "--target-vmaf", "--help-all"):
        assert flag in enc
    assert "--work" not in enc and "advanced:" not in enc
    every = subprocess.run([sys.executable, "-m", "drapto", "encode", "--help-all"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    for flag in ("--work", "--profile", "--crf-max", "--crop-limit-hdr"):
        assert flag in every
    assert every.index("--target-vmaf") < every.index("advanced:") < every.index("--crop-limit-hdr")
    assert enc.startswith("usage: drapto encode INPUT [-o OUTPUT] [--preset N]")


@pytest.mark.e2e
def test_unknown_option_and_the_doit_spelling(tmp_path: Path) -> None:
    """A misspelt option gets the nearest known one, as a misspelt setting does; and
    ``doit encode --input=FILE --preset=N``, as `doit help encode` lists them, encodes."""
    typo = run("encode", "film.mkv", "--prset", "8", cwd=tmp_path)
    assert typo.returncode == 2
    assert "unknown option --prset (did you mean --preset?)" in typo.stderr
    from conftest import FAST, ROOT

    clip = make_sample(tmp_path / "film.mkv", scenes=[1.0], size="256x144")
    done = subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"),
                           "encode", f"--input={clip}", "--preset=12", "--output", "o.mkv",
                           *FAST[1:]], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "DRAPTO_QUALITY": "crf"}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert media_info(tmp_path / "o.mkv")["video"]["format"] == "AV1"
    assert "preset 12" in next((tmp_path / "drapto-work").glob("*/drapto.log")).read_text(
        encoding="utf-8").replace("-preset 12", "preset 12")


@pytest.mark.e2e
def test_encode_report_and_a_bad_setting(tmp_path: Path) -> None:
    clip = make_sample(tmp_path / "film.mkv", scenes=[1.0, 1.5], size="256x144")
    done = run("encode", "film.mkv", "-o", "out/", "-j", "2", "--profile", "fast",
               "--set", "preset=12", "--set", "min_segment=1", "--set", "crop_samples=4",
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = media_info(tmp_path / "out" / "film.av1.mkv")
    assert out["video"]["format"] == "AV1" and len(out["audio"]) == 2
    log = next((tmp_path / "drapto-work").glob("*/drapto.log")).read_text(encoding="utf-8")
    assert "workers: 2" in log and f"lp={svt_threads(2)}" in log
    stats = run("report", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    # Named by the output; the run's wall time beside the encodes added up.
    head, row = [x for x in stats.stdout.splitlines() if not x.startswith(".  ")][:2]
    assert head.split()[-3:] == ["wall", "encoding", "output"]
    assert row.endswith(f" {tmp_path / 'out' / 'film.av1.mkv'}"), row
    assert re.search(r" \d+\.\d s +\d+\.\d s  /", row), row
    again = run("encode", str(clip), "-o", "out/", "--set", "preset=12",
                "--set", "min_segment=1", "--set", "crop_samples=4", "--profile", "fast",
                cwd=tmp_path)
    assert again.returncode == 0 and ".  encode:" not in again.stdout
    bad = run("encode", "film.mkv", "--set", "speed=3", cwd=tmp_path)
    assert bad.returncode != 0 and "unknown setting 'speed' in the command line" in bad.stderr


@pytest.mark.e2e
def test_every_setting_is_an_option_and_in_doit_help(tmp_path: Path) -> None:
    """The options come from profiles/default.yaml: one per setting, with its help; `doit
    help encode` describes each in a line that fits a terminal."""
    import dataclasses

    from conftest import ROOT

    from drapto import __version__
    from drapto.run.cli import doit_argv, parser
    from drapto.settings import Settings

    keys = [f.name for f in dataclasses.fields(Settings)]
    enc = parser().format_help() + subprocess.run(
        [sys.executable, "-m", "drapto", "encode", "--help-all"], capture_output=True,
        text=True, check=True).stdout
    helped = subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), "help",
                             "encode"], cwd=tmp_path, capture_output=True, text=True,
                            check=True).stdout
    for key in keys:
        assert re.search(f"--{key.replace('_', '-')} (N|X|VALUE)", enc), key
        assert re.search(f"--{key}=ARG +\\w", helped), key  # with a description
    assert max(len(line) for line in helped.splitlines()) <= 200
    argv = doit_argv(parser().parse_args(["encode", "film.mkv", "--target-vmaf", "94",
                                          "--start", "1:30", "--preset", "8"]))
    assert {"target_vmaf=94", "preset=8", "start=1:30", "input=film.mkv"} <= set(argv)
    version = run("--version", cwd=tmp_path).stdout.splitlines()
    assert version[0] == f"drapto {__version__}"
    assert version[1].startswith("FFmpeg: ffmpeg version ")
    assert re.match(r"SVT-AV1: v\d+\.\d+", version[2]), version


def test_a_closed_pipe_ends_list_and_help_quietly(tmp_path: Path) -> None:
    """`drapto list | head -1`: no traceback when the reader goes away."""
    for args in (["list"], ["encode", "--help-all"]):
        child = subprocess.Popen([str(DRAPTO), *args], cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # the reader is gone before anything was read
        err = child.stderr.read().decode()
        child.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipe" not in err, (args, err)


def test_lines_speak_the_syntax_that_was_typed(tmp_path: Path) -> None:
    """drapto's own command names options as they are typed there (--overwrite, -o), and a
    file named like an option gets a hint."""
    (tmp_path / "film.mkv").write_bytes(b"not checked before the output")
    (tmp_path / "taken.mkv").write_text("someone else's file\n")
    said = run("encode", "film.mkv", "-o", "taken.mkv", cwd=tmp_path)
    assert said.returncode != 0
    assert said.stderr.strip().endswith("not replacing it; --overwrite replaces it") or \
        "--overwrite" in said.stdout + said.stderr, said.stdout + said.stderr
    assert "overwrite=yes" not in said.stdout + said.stderr
    (tmp_path / "-dash.mkv").write_bytes(b"")
    hint = run("encode", "-dash.mkv", cwd=tmp_path)
    assert hint.returncode == 2 and ("-dash.mkv is read as an option: write ./-dash.mkv for "
                                     "the file (or put it after --)") in hint.stderr


def test_spoken_turns_doit_words_into_options() -> None:
    from drapto.run import runtime

    text = ("give input=FILE or jobs=FILE, e.g. doit encode input=movie.mkv; overwrite=yes "
            "replaces it; max_encoded_percent=0 encodes it; output=out.mkv; end=2 after start=3")
    assert runtime.spoken(text) == text  # doit's own syntax when doit was typed
    runtime.SPOKEN = "drapto"
    try:
        assert runtime.spoken(text) == (
            "give INPUT or drapto jobs FILE, e.g. drapto encode movie.mkv; --overwrite "
            "replaces it; --max-encoded-percent 0 encodes it; -o out.mkv; --end 2 after "
            "--start 3")
    finally:
        runtime.SPOKEN = "doit"
