"""Interrupted runs: kill -9 of the process group, Ctrl-C and SIGTERM mid-encode, then the
same command again; and the work-directory lock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    drapto_argv,
    executed,
    run_drapto,
    segment_file,
    stamped_segments,
    workdir_of,
)

from drapto.media.demo import make_sample
from drapto.media.records import Scenes
from drapto.stages.segments import segment_ids

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg

# Twelve 1-second scenes at preset 8: encodes slow enough to be caught in flight.
# The intermediates are kept: these tests look at them (tests/test_tidy.py: the default).
SETTINGS = ["preset=8", "min_segment=0.5", "max_segment=1", "keep_work=yes"]
SEGMENTS = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("resume") / "clip.mkv", scenes=[1.0] * SEGMENTS,
                       size="320x180", subtitles=False)


@pytest.fixture(scope="module")
def reference(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    cwd = tmp_path_factory.mktemp("reference")
    run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=cwd, jobs=1)
    return (cwd / "out.mkv").read_bytes()


def start(clip: Path, cwd: Path, jobs: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(drapto_argv(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS,
                                        jobs=jobs),
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def encode_stamps(cwd: Path) -> list[Path]:
    stamps = cwd / "w"
    return sorted(stamps.glob("*/stamps/encode-*.json")) if stamps.exists() else []


def wait_for(cond: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["kill -9 group", "ctrl-c group", "sigterm main"])
def test_interrupted_run_resumes_without_redoing_segments(
        how: str, clip: Path, reference: bytes, tmp_path: Path) -> None:
    run = start(clip, tmp_path)
    wait_for(lambda: len(encode_stamps(tmp_path)) >= 3)
    if how == "kill -9 group":
        os.killpg(run.pid, signal.SIGKILL)
    elif how == "ctrl-c group":
        os.killpg(run.pid, signal.SIGINT)
    else:
        os.kill(run.pid, signal.SIGTERM)
    run.communicate(timeout=60)
    assert run.returncode != 0
    if how == "sigterm main":  # drapto stopped its encoder children itself
        left = subprocess.run(["pgrep", "-s", str(run.pid)], capture_output=True, text=True)
        assert left.stdout.strip() == "", "encoder processes outlived drapto after SIGTERM"
    work = workdir_of(tmp_path / "w")
    done = {f"encode:{n}" for n in stamped_segments(work)}
    assert 3 <= len(done) < SEGMENTS, "the kill did not land mid-encode"
    finished = {p: (p.stat().st_ino, p.stat().st_mtime_ns)
                for p in (segment_file(work, int(n[len("encode:"):])) for n in done)}

    again = run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    redone = {t for t in executed(again) if t.startswith("encode:")}
    assert not redone & done, f"finished segments encoded again: {sorted(redone & done)}"
    assert len(redone) == SEGMENTS - len(done)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in finished} == finished
    assert (tmp_path / "out.mkv").read_bytes() == reference
    assert not [p for p in work.rglob("*") if ".tmp" in p.name]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_half_written_segment_is_not_taken_as_done(clip: Path, reference: bytes,
                                                   tmp_path: Path) -> None:
    run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    work = workdir_of(tmp_path / "w")
    seg = segment_file(work, 5)
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])  # truncated in place
    again = run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    assert [t for t in executed(again) if t.startswith("encode:")] == ["encode:0005"]
    assert (tmp_path / "out.mkv").read_bytes() == reference


def test_second_run_on_same_input_stops_at_once(clip: Path, tmp_path: Path) -> None:
    first = start(clip, tmp_path)
    try:
        wait_for(lambda: len(encode_stamps(tmp_path)) >= 1)
        t0 = time.monotonic()
        second = run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS,
                            cwd=tmp_path, check=False)
        assert time.monotonic() - t0 < 10
        assert second.returncode != 0
        assert "already working on it" in second.stderr
        assert str(clip) in second.stderr
        assert first.poll() is None, "the second run disturbed the first"
        # Another input in the same work root is not blocked.
        other = tmp_path / "other.mkv"
        make_sample(other, scenes=[1.0, 1.0], audio=False, subtitles=False, chapters=False)
        run_drapto(f"input={other}", "output=other.av1.mkv", "work=w", "preset=12",
                   "min_segment=0.5", "max_segment=1", cwd=tmp_path)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()


def test_garbage_records_are_rebuilt_not_trusted(clip: Path, reference: bytes,
                                                 tmp_path: Path) -> None:
    run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    work = workdir_of(tmp_path / "w")
    ids = segment_ids(Scenes.read(work / "scenes.json"))
    (work / "stamps" / f"encode-{ids[7]}.json").write_bytes(b"\x00garbage")
    (work / "scenes.json").write_text("[]")
    (work / "probe.json").write_text("garbage")
    again = run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    ran = executed(again)
    assert {"probe", "scenes", "encode:0007"} <= set(ran)
    assert "encode:0004" not in ran  # scenes.json was rebuilt identical: its stamp holds
    assert (tmp_path / "out.mkv").read_bytes() == reference


def in_flight(log: str) -> set[str]:
    """The segment encodes a log shows started and not ended."""
    started = set(re.findall(r"start: (encoding segment \d{4} \(frames [\d-]+\))", log))
    ended = set(re.findall(r"exit \S+: (encoding segment \d{4} \(frames [\d-]+\))", log))
    return started - ended


def test_random_kills_seeded(clip: Path, reference: bytes, tmp_path: Path) -> None:
    """SIGKILLs of the whole run at seeded random moments while segments encode, then a
    clean finish: identical output, no segment encoded twice except those in flight at a
    kill, no leftovers. Each kill is checked to have landed mid-encode (by the log, which is
    written line by line); one that landed between encodes is tried again."""
    import random

    rng = random.Random(20261122)
    def log() -> str:
        found = list((tmp_path / "w").glob("*/drapto.log"))
        return found[0].read_text(encoding="utf-8") if found else ""

    mid_encode: list[set[str]] = []
    for _ in range(8):
        if len(mid_encode) == 3:
            break
        before = len(log())
        run = start(clip, tmp_path, jobs=2)
        wait_for(lambda b=before: "start: encoding segment" in log()[b:])
        time.sleep(rng.uniform(0.0, 0.6))
        wait_for(lambda b=before: in_flight(log()[b:]), 60)
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        caught = in_flight(log()[before:])
        if caught:
            mid_encode.append(caught)
    assert len(mid_encode) == 3, "three kills landed while a segment encoded"
    run_drapto(f"input={clip}", "output=out.mkv", "work=w", *SETTINGS, cwd=tmp_path)
    # The log is written line by line (stdout of a killed run may be lost in its buffer).
    started = re.findall(r"start: encoding segment (\d{4})", log())
    # At most the 2 encodes in flight at each kill are started twice.
    assert len(started) - len(set(started)) <= 2 * 3
    assert len(set(started)) == SEGMENTS
    assert (tmp_path / "out.mkv").read_bytes() == reference
    assert not [p for p in (tmp_path / "w").rglob("*") if ".tmp" in p.name]
