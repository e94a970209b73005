"""Quality targeting, the default mode, as a build step: the output bytes depend on the
input and the settings only, not on -n, kills and resumes, the cache folder or the work
root; and the calibration is an artifact the other segments' encodes depend on."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    drapto_argv,
    encodes_run,
    executed,
    records_of,
    stamped_segments,
    workdir_of,
)

from drapto.files import read_json
from drapto.media.demo import make_sample
from drapto.quality.decisions import quarter
from drapto.quality.search import calibration_indices, calibration_lead
from drapto.settings import Settings

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg

# The default mode (quality=vmaf, calibration, size cap), with fast presets for tiny clips.
SETTINGS = ["preset=11", "search_preset=12", "min_segment=0.5", "max_segment=1",
            "crop_samples=4"]
SEGMENTS = 8


def default_env(cache: Path) -> dict[str, str]:
    """The environment of a user who asked for nothing: no DRAPTO_* at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    env["XDG_CACHE_HOME"] = str(cache)
    return env


def run(clip: Path, cwd: Path, cache: Path, jobs: int, *extra: str,
        work: str = "w") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(drapto_argv(f"input={clip}", "output=out.mkv", f"work={work}",
                                        *SETTINGS, *extra, jobs=jobs),
                            cwd=cwd, env=default_env(cache), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600, check=False)
    if result.returncode != 0:
        raise AssertionError(f"drapto failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Scenes of different difficulty, so that segments get different CRFs.
    return make_sample(tmp_path_factory.mktemp("determinism") / "clip.mkv",
                       scenes=[1.0] * SEGMENTS, size="256x144", subtitles=False)


@pytest.fixture(scope="module")
def reference(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("reference")
    run(clip, cwd, cwd / "cache", 1)
    return cwd


def test_the_defaults_are_quality_targeting(reference: Path) -> None:
    work = workdir_of(reference / "w")
    records = records_of(work)
    assert len(records) == SEGMENTS and all(r.get("search") for r in records)
    calibration = read_json(work / "calibration.json")
    sample = {s["start"] for s in calibration["segments"]}
    assert calibration["segments_used"] == len(sample) >= 1
    # The calibration's segments are those the rule spreads over the film (by time), and
    # they start from the defaults; the rest start from the calibration.
    scenes = read_json(work / "scenes.json")
    chosen = calibration_indices([seg["frames"] for seg in scenes["segments"]],
                                 Settings().calibration_segments)
    assert sample == {scenes["segments"][i]["start"] for i in chosen}
    assert 0 < len(chosen) < SEGMENTS
    lead = calibration_lead(chosen)
    assert lead is not None
    for i, r in enumerate(records):
        prior = r["search"]["prior"]
        expected = ("default" if i == lead else "lead calibration segment" if i in chosen
                    else "calibration of")
        assert prior["source"].startswith(expected), (i, r["search"])
        if i in chosen and i != lead:  # from where the lead crossed the target
            crossed = quarter(records[lead]["search"]["fast_crf"])
            assert prior["first_probe"] == min(max(crossed, 10.0), 63.0)  # crf_min, crf_max
    assert len({r["crf"] for r in records}) > 1


def test_workers_cache_and_work_root_do_not_change_the_bytes(
        clip: Path, reference: Path, tmp_path: Path) -> None:
    """-n 2 instead of 1, a cache folder holding other films' history, and another work
    root: the same bytes. The cache drapto keeps (~/.cache/drapto) is the machine's memory
    figures and its ledger of running encodes: they steer how many encodes run at once and
    their threads, never a decision about the bytes."""
    cache = tmp_path / "cache"
    (cache / "drapto").mkdir(parents=True)
    # Another film measured at ten times this one's memory: fewer encodes at once here.
    (cache / "drapto" / "memory.json").write_text(json.dumps(
        {"144p preset 11": 4000, "1080p preset 6": 9000}))
    (cache / "drapto" / "ledger.json").write_text("\x00 not json")
    run(clip, tmp_path, cache, 2, work="elsewhere")
    assert (tmp_path / "out.mkv").read_bytes() == (reference / "out.mkv").read_bytes()
    assert json.loads((cache / "drapto" / "memory.json").read_text())["1080p preset 6"] == 9000


def wait_for(cond: object, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline and proc.poll() is None, "timed out"
        time.sleep(0.01)


def test_kills_and_resumes_do_not_change_the_bytes(clip: Path, reference: Path,
                                                   tmp_path: Path) -> None:
    """SIGKILL of the whole run in the middle of segment searches (the calibration's, then
    the others'), then a clean finish: the bytes of an uninterrupted run, and finished
    segments not redone."""
    rng = random.Random(20261201)

    def searching() -> bool:
        return bool(list(tmp_path.glob("w/*/*/*.search.json")))

    def stamped() -> list[Path]:  # segments encoded: calibration ones too
        return [p for kind in ("sample", "calibration", "encode")
                for p in tmp_path.glob(f"w/*/stamps/{kind}-*.json")]

    for until in (searching, lambda: len(stamped()) >= 4):
        proc = subprocess.Popen(drapto_argv(f"input={clip}", "output=out.mkv", "work=w",
                                            *SETTINGS, jobs=2),
                                cwd=tmp_path, env=default_env(tmp_path / "cache"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(until, proc)
        if until is searching:  # somewhere in a search; the second kill lands at once, as
            time.sleep(rng.uniform(0.0, 0.3))  # the last segments take a moment only
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    done = stamped_segments(workdir_of(tmp_path / "w"))
    assert 4 <= len(done) < SEGMENTS, "the kills did not land mid-encode"
    finished = run(clip, tmp_path, tmp_path / "cache", 2)
    assert not done & encodes_run(finished)
    assert (tmp_path / "out.mkv").read_bytes() == (reference / "out.mkv").read_bytes()


def test_a_setting_of_the_calibration_redoes_only_what_depends_on_it(
        clip: Path, reference: Path, tmp_path: Path) -> None:
    """calibration_segments changes which segments calibrate: the calibration and the
    encodes that start from it are redone; probe, scenes and segments are not."""
    import shutil
    shutil.copytree(reference / "w", tmp_path / "w")
    again = run(clip, tmp_path, tmp_path / "cache", 2, "calibration_segments=2")
    ran = set(executed(again))
    assert "calibrate" in ran and not {"probe", "scenes", "crop"} & ran
    assert not any(t.startswith("segment:") for t in ran)
    same = run(clip, tmp_path, tmp_path / "cache", 2, "calibration_segments=2")
    assert [t for t in executed(same) if t.startswith(("encode:", "calibrate"))] == []


def test_the_films_balance_is_a_build_step_too(clip: Path, tmp_path: Path) -> None:
    """With a film tolerance the first encodes cannot meet (0.05), the balance encodes
    segments again: -n 1 and -n 2 give the same bytes, also when the run is killed once the
    balance is decided. Each segment moves toward the target, and the film's mean lands
    within the default tolerance (±0.5; on segments of one frame-second, measured once
    each, the balance's slope is another segment's, so it can overshoot the tight one)."""
    tight = "film_tolerance=0.05"
    one = tmp_path / "one"
    one.mkdir()
    first = run(clip, one, one / "cache", 1, tight)
    assert [t for t in executed(first) if t.startswith("adjust:")]
    work = workdir_of(one / "w")
    balance = read_json(work / "balance.json")
    report = read_json(work / "report.json")
    assert abs(report["vmaf"]["mean"] - 93.0) <= 0.5
    assert report["vmaf"]["balanced"] == len(balance["segments"]) > 0
    below = balance["mean"] < 93.0
    for sid in balance["segments"]:
        first = next(read_json(p)["vmaf"] for p in (work / "calibration" / f"{sid}.json",
                                                    work / "encoded" / f"{sid}.json")
                     if p.exists())
        again = read_json(work / "balanced" / f"{sid}.json")["vmaf"]
        assert (again > first) == below, (sid, first, again)
    two = tmp_path / "two"
    two.mkdir()
    proc = subprocess.Popen(drapto_argv(f"input={clip}", "output=out.mkv", "work=w",
                                        *SETTINGS, tight, jobs=2),
                            cwd=two, env=default_env(two / "cache"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: bool(list(two.glob("w/*/balance.json"))), proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    finished = run(clip, two, two / "cache", 2, tight)
    encodes = ("encode:", "sample:", "calibration:")
    assert not [t for t in executed(finished) if t.startswith(encodes)]
    assert (two / "out.mkv").read_bytes() == (one / "out.mkv").read_bytes()
