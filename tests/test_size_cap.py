"""The film's size decision end to end, in the default mode: a source so lean that AV1 at
the target would take more than max_encoded_percent of its video is not encoded (one line,
exit status 3 alone, 0 in a batch, nothing written, a rerun does nothing), over_cap=lower
encodes it at one lower target, over_cap=encode as asked."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import FAST, drapto_argv, executed, ffmpeg_make, run_drapto, workdir_of

from drapto.files import read_json
from drapto.quality import search

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg

# The default mode (quality targeting, the cap at 80 %), for tiny clips.
DEFAULT = {"DRAPTO_QUALITY": "vmaf"}
HIGH = [*FAST, "target_vmaf=99", "crf_min=1"]


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 at 40 kbit/s of a noisy picture: AV1 at VMAF 99 takes many times its bytes."""
    src = tmp_path_factory.mktemp("lean") / "lean.mkv"
    ffmpeg_make("-f", "lavfi", "-i", "testsrc2=s=256x144:r=24:d=4,noise=alls=30:allf=t",
                "-f", "lavfi", "-i", "sine=d=4", "-c:v", "libx264", "-b:v", "40k",
                "-pix_fmt", "yuv420p", "-c:a", "aac", str(src))
    return src


def test_a_lean_source_is_skipped_with_one_line_and_nothing_written(
        lean: Path, tmp_path: Path) -> None:
    """The skip costs the half of the calibration the size is decided from: the rest of
    it is not encoded (short segments, so the calibration has 6)."""
    short = [*HIGH, "min_segment=0.25", "max_segment=0.5"]
    first = run_drapto(f"input={lean}", *short, cwd=tmp_path, env=DEFAULT, check=False)
    assert first.returncode == 3, first.stdout + first.stderr
    line = (f"drapto: {lean}: not encoded: at VMAF 99 its AV1 video would take ~")
    assert line in first.stdout and "(cap 80 %): already compact; max_encoded_percent=0 " \
        "encodes it anyway" in first.stdout, first.stdout
    assert not (tmp_path / "lean.av1.mkv").exists()
    work = workdir_of(tmp_path / "drapto-work")
    assert not (work / "encoded").exists() and not (work / "audio").exists()
    size = read_json(work / "size.json")
    assert size["action"] == "skip" and size["predicted_percent"] > 80
    ran = executed(first)
    assert "size" in ran and not [t for t in ran if t.startswith(("encode:", "audio", "mux",
                                                                  "calibrat"))]
    frames = [s["frames"] for s in read_json(work / "scenes.json")["segments"]]
    assert len(frames) >= 6
    decided = search.size_indices(search.calibration_indices(frames, 6))
    assert sorted(t for t in ran if t.startswith("sample:")) == \
        [f"sample:{i:04d}" for i in decided] and len(decided) == 3
    assert len(list((work / "calibration").glob("*.mkv"))) == 3
    # A rerun: nothing done, the same word and status.
    again = run_drapto(f"input={lean}", *short, cwd=tmp_path, env=DEFAULT, check=False)
    assert again.returncode == 3 and executed(again) == [] and line in again.stdout


def test_over_cap_lower_and_encode_do_what_they_say(lean: Path, tmp_path: Path) -> None:
    lowered = run_drapto(f"input={lean}", *HIGH, "over_cap=lower", "output=low.mkv",
                         cwd=tmp_path, env=DEFAULT)
    assert "target lowered to VMAF " in lowered.stdout, lowered.stdout
    report = read_json(workdir_of(tmp_path / "drapto-work") / "report.json")
    assert report["size"]["target"] < 99 and report["vmaf"]["asked"] == 99
    assert report["vmaf"]["target"] == report["size"]["target"]
    assert {s["target"] for s in report["segments"]} == {report["size"]["target"]}
    assert (tmp_path / "low.mkv").is_file()
    # over_cap=encode: the calibration and its decision's figures are reused; encoded at 99.
    asked = run_drapto(f"input={lean}", *HIGH, "over_cap=encode", "output=asked.mkv",
                       cwd=tmp_path, env=DEFAULT)
    assert "target lowered" not in asked.stdout
    ran = executed(asked)
    assert not [t for t in ran if t.startswith(("sample:", "calibrat", "probe", "scenes"))]
    report = read_json(workdir_of(tmp_path / "drapto-work") / "report.json")
    assert report["size"]["over"] and report["vmaf"]["target"] == 99
    assert (tmp_path / "asked.mkv").is_file()


def test_a_batch_goes_on_with_the_other_films_and_says_which_were_skipped(
        lean: Path, tmp_path: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    (films / "lean.mkv").write_bytes(lean.read_bytes())
    ffmpeg_make("-f", "lavfi", "-i", "testsrc2=s=256x144:r=24:d=3,noise=alls=30:allf=t",
                "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(films / "rich.mkv"))
    out = tmp_path / "out"
    batch = run_drapto(f"input={films}", f"output={out}/", *HIGH, cwd=tmp_path, env=DEFAULT)
    assert batch.returncode == 0
    assert f"{films / 'lean.mkv'}: not encoded" in batch.stdout
    assert "batch: 1 of 2 files skipped (over the size cap)" in batch.stdout, batch.stdout
    assert (out / "rich.av1.mkv").is_file() and not (out / "lean.av1.mkv").exists()
    again = run_drapto(f"input={films}", f"output={out}/", *HIGH, cwd=tmp_path, env=DEFAULT)
    assert again.returncode == 0 and executed(again) == []
    assert f"{films / 'lean.mkv'}: not encoded" in again.stdout


def test_a_job_file_lists_a_skipped_film_in_its_report(lean: Path, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([{"input": str(lean)}]), encoding="utf-8")
    run = run_drapto(f"jobs={jobs}", *HIGH, cwd=tmp_path, env=DEFAULT)
    assert run.returncode == 0 and f"{lean}: not encoded" in run.stdout
    listed = subprocess.run([*drapto_argv()[:-1], "report", f"jobs={jobs}", *HIGH],
                            cwd=tmp_path, capture_output=True, text=True, check=True,
                            env={**os.environ, **DEFAULT}).stdout
    assert "lean.av1.mkv" in listed and "skipped" in listed, listed
    assert "total: 0 done, 1 skipped, 0 failed, 0 left" in listed, listed
