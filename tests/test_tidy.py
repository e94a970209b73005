"""The work folder after a finished encode: the bulky intermediates removed, the records
kept; a rerun still does nothing, an audio change re-encodes no video and gives the bytes of
a fresh run; keep_work=yes keeps everything; a failed run keeps everything."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, executed, run_drapto, workdir_of

from drapto.files import read_json

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg


def bulky(work: Path) -> list[str]:
    return sorted(p.name for p in [*work.glob("encoded/*.mkv"), *work.glob("audio/*"),
                                   work / "video.mkv"] if p.exists())


def test_tidied_after_a_finished_encode(encoded: dict[str, Any]) -> None:
    work = encoded["work"]
    assert bulky(work) == []
    assert (work / "report.json").is_file() and len(list(work.glob("encoded/*.json"))) == 4
    size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    assert size < encoded["output"].stat().st_size / 3, size  # the records only


def test_an_audio_change_after_tidying_then_back_gives_the_same_bytes(
        sample: Path, encoded: dict[str, Any], tmp_path: Path) -> None:
    shutil.copytree(encoded["cwd"] / "w", tmp_path / "w")
    shutil.copy2(encoded["output"], tmp_path / "out.mkv")
    args = [f"input={sample}", "output=out.mkv", "work=w", *FAST]
    settled = run_drapto(*args, cwd=tmp_path)  # another output path: mux again, no video
    assert not [t for t in executed(settled) if t.startswith(("encode", "concat", "audio"))]
    assert executed(run_drapto(*args, cwd=tmp_path)) == []
    changed = run_drapto(*args, "audio_bitrates={2: 96}", cwd=tmp_path)
    assert not [t for t in executed(changed) if t.startswith(("encode", "concat", "audio:0"))]
    back = run_drapto(*args, cwd=tmp_path)
    assert not [t for t in executed(back) if t.startswith(("encode", "concat", "audio:0"))]
    assert (tmp_path / "out.mkv").read_bytes() == encoded["output"].read_bytes()
    assert bulky(workdir_of(tmp_path / "w")) == []


def test_a_new_segmentation_leaves_no_stale_segments(sample: Path, encoded: dict[str, Any],
                                                     tmp_path: Path) -> None:
    """Encoded segments of the earlier segmentation (a changed max_segment) do not stay in
    the work folder: after the finished encode nothing bulky is left."""
    shutil.copytree(encoded["cwd"] / "w", tmp_path / "w")
    work = workdir_of(tmp_path / "w")
    old = {f"{s['start']:08d}" for s in read_json(work / "scenes.json")["segments"]}
    for sid in old:  # what a keep_work=yes run of the earlier segmentation left
        (work / "encoded" / f"{sid}.mkv").write_bytes(b"an earlier encode")
    again = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST, "max_segment=1.2",
                       cwd=tmp_path)
    assert "tidy" in executed(again)
    new = {f"{s['start']:08d}" for s in read_json(work / "scenes.json")["segments"]}
    assert new != old  # a new segmentation
    assert bulky(work) == []


def test_keep_work_keeps_everything(sample: Path, tmp_path: Path) -> None:
    run_drapto(f"input={sample}", *FAST, "keep_work=yes", cwd=tmp_path)
    work = workdir_of(tmp_path / "drapto-work")
    assert "video.mkv" in bulky(work) and len(bulky(work)) == 4 + 2 + 1
