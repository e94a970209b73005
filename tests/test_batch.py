"""A folder as input: every video file in one task graph; finished files skipped."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FAST, drapto_argv, executed, media_info, run_drapto

from drapto.media.demo import make_sample

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg


def test_two_file_batch_then_rerun_skips(tmp_path: Path) -> None:
    films = tmp_path / "films"
    make_sample(films / "b film.mkv", scenes=[1.0, 1.5])
    make_sample(films / "a.mp4", scenes=[1.5, 1.0], subtitles=False, chapters=False)
    (films / "notes.txt").write_text("not a film\n")
    first = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path, jobs=2)
    ran = executed(first)
    # One graph: both files' tasks, named by file.
    assert {"encode:a:0000", "encode:b_film:0000", "mux:a", "mux:b_film"} <= set(ran)
    assert ran.index("scenes:b_film") < ran.index("encode:a:0000")
    for name in ("a.av1.mkv", "b film.av1.mkv"):
        out = media_info(tmp_path / "out" / name)
        assert out["video"]["format"] == "AV1" and len(out["audio"]) == 2
    assert "drapto: batch: 2 of 2 files encoded" in first.stdout
    # A new file joins; the finished ones are skipped without being probed again.
    shutil.copy(films / "a.mp4", films / "c.mp4")
    again = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path)
    assert re.search(r"drapto: up to date: \S*/out/a\.av1\.mkv \(made from \S*/films/a\.mp4\)",
                     again.stdout), again.stdout
    assert [t for t in executed(again) if t.startswith("probe")] == ["probe:c"]
    assert (tmp_path / "out" / "c.av1.mkv").is_file()
    # Nothing left to do: one word per file, and the count.
    done = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path)
    assert executed(done) == [] and "drapto: batch: 3 of 3 files up to date" in done.stdout
    # Settings are inputs, in a batch too: said before it starts, then done.
    other = run_drapto("input=films", "output=out/", *FAST, "crf_hd=30", cwd=tmp_path)
    assert ("drapto: batch: 3 of 3 files will be encoded again, made with other settings: "
            "crf_hd 25 -> 30") in other.stdout
    assert {"mux:a", "mux:b_film", "mux:c"} <= set(executed(other))
    assert "3 of 3 files up to date" in run_drapto("input=films", "output=out/", *FAST,
                                                   "crf_hd=30", cwd=tmp_path).stdout


def test_batch_output_must_be_a_folder(tmp_path: Path) -> None:
    make_sample(tmp_path / "films" / "a.mkv", scenes=[1.0], audio=False, subtitles=False,
                chapters=False)
    result = run_drapto("input=films", "output=one.mkv", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "output=one.mkv: for a folder of inputs, give a folder" in result.stderr


def test_a_foreign_file_among_the_outputs_stops_the_batch(tmp_path: Path) -> None:
    """One rule for a batch and a single file: an output drapto did not write stops the run
    before any work, and is left as it was."""
    films = tmp_path / "films"
    make_sample(films / "a.mkv", scenes=[1.0], subtitles=False, chapters=False)
    make_sample(films / "b.mkv", scenes=[1.0], subtitles=False, chapters=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.av1.mkv").write_bytes(b"someone else's")
    result = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path, check=False)
    assert result.returncode != 0 and executed(result) == []
    assert "b.av1.mkv exists and drapto did not write it for" in result.stderr
    assert (tmp_path / "out" / "b.av1.mkv").read_bytes() == b"someone else's"
    assert not (tmp_path / "out" / "a.av1.mkv").exists()


def test_a_batch_names_every_file_that_failed_and_why(tmp_path: Path) -> None:
    """The batch's last lines list each failed file with its reason; ``doit report`` gives
    each film's state from its last run, with the output's full path."""
    films = tmp_path / "films"
    make_sample(films / "good.mkv", scenes=[1.0, 1.0], subtitles=False, chapters=False)
    whole = make_sample(tmp_path / "whole.mkv", scenes=[3.0, 3.0], subtitles=False)
    (films / "cut.mkv").write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    (films / "empty.mp4").write_bytes(b"")
    result = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path, check=False)
    assert result.returncode != 0
    tail = result.stdout.splitlines()[-3:]
    assert tail[0] == "drapto: batch: 2 of 3 files failed:", result.stdout
    assert tail[1].startswith(f"drapto:   {films / 'cut.mkv'}: the file looks truncated")
    assert tail[2] == f"drapto:   {films / 'empty.mp4'}: the file is empty"
    report = subprocess.run([*drapto_argv()[:-1], "report", "work=drapto-work"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    lines = report.stdout.splitlines()
    assert any(line.endswith(f"  {tmp_path / 'out' / 'good.av1.mkv'}") for line in lines)
    assert "1 done, 1 failed, 0 not encoded" in report.stdout, report.stdout
    assert any(line.startswith(f"failed: {films / 'cut.mkv'}: the file looks truncated")
               for line in lines)


def test_a_film_finds_its_work_however_it_is_run(tmp_path: Path) -> None:
    """Encoded in a batch, the film run alone is up to date; renamed, a batch encodes
    nothing again (the work folder is found by content, its stamps named alike)."""
    films = tmp_path / "films"
    make_sample(films / "a.mkv", scenes=[1.0, 1.5], subtitles=False, chapters=False)
    make_sample(films / "b.mkv", scenes=[1.5, 1.0], subtitles=False, chapters=False)
    run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path)
    alone = run_drapto(f"input={films / 'a.mkv'}", "output=out/", *FAST, cwd=tmp_path)
    assert executed(alone) == [] and "drapto: up to date:" in alone.stdout, alone.stdout
    (films / "a.mkv").rename(films / "renamed.mkv")
    again = run_drapto("input=films", "output=out/", *FAST, cwd=tmp_path)
    ran = executed(again)
    assert not [t for t in ran if t.split(":")[0] in ("probe", "scenes", "crop", "encode")], ran
    assert "mux:renamed" in ran
    # Taken back from the first output: the same bytes as encoding it afresh would give.
    out = tmp_path / "out"
    assert (out / "renamed.av1.mkv").read_bytes() == (out / "a.av1.mkv").read_bytes()
