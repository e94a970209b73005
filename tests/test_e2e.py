"""End to end: the real FFmpeg on a generated clip, the output read back and checked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FAST,
    assert_frames_in_place,
    executed,
    gray_frames,
    keyframes,
    media_info,
    run_drapto,
    workdir_of,
)

from drapto.files import read_json
from drapto.media.demo import make_sample


@pytest.mark.e2e
def test_output_has_av1_opus_subtitles_chapters(sample: Path, encoded: dict[str, Any]) -> None:
    out = media_info(encoded["output"])
    src = media_info(sample)
    assert out["video"]["format"] == "AV1"
    assert (out["video"]["width"], out["video"]["height"]) == (256, 144)
    assert [a["format"] for a in out["audio"]] == ["Opus", "Opus"]
    assert [a["channels"] for a in out["audio"]] == [6, 2]
    assert [a["language"] for a in out["audio"]] == ["en", "fr"]
    assert [a["title"] for a in out["audio"]] == ["Surround", "Stereo"]
    assert [a["default"] for a in out["audio"]] == [True, False]
    assert [s["language"] for s in out["subtitles"]] == ["de"]
    assert out["subtitles"][0]["forced"] is True
    assert out["chapters"] == src["chapters"] == 3
    assert out["attachments"] == src["attachments"] == ["notes.txt"]
    assert out["title"] == src["title"] == "drapto sample"
    validation = read_json(encoded["work"] / "validation.json")
    assert validation["ok"], validation
    said = encoded["result"].stdout
    assert f"drapto: {sample} -> {encoded['output']}\n" in said
    assert "144 frames" in said and "4 segments, CRF 25\n" in said and "time: " in said
    report = read_json(encoded["work"] / "report.json")
    assert [s["frames"] for s in report["segments"]] == [36, 36, 36, 36]
    assert report["size_out"] == encoded["output"].stat().st_size and report["validated"]


@pytest.mark.e2e
def test_ten_bit_and_exact_frame_count(encoded: dict[str, Any]) -> None:
    from drapto.stages.validate import read_output

    frames, depth, spans = read_output(encoded["output"], 2, 1)
    assert (frames, depth) == (144, 10)
    assert spans["video"] == [[0, 5_958_000]] and spans["audio"] == [[0, 6_000_000], [0, 6_016_000]]


@pytest.mark.e2e
def test_every_frame_in_place_and_keyframes_at_segment_starts(
        sample: Path, encoded: dict[str, Any]) -> None:
    scenes = read_json(encoded["work"] / "scenes.json")
    assert scenes["cuts"] == [36, 108]
    starts = [s["start"] for s in scenes["segments"]]
    assert starts == [0, 36, 72, 108]  # the 3 s scene is split evenly (max_segment=2)
    assert len(gray_frames(encoded["output"])) == 144
    assert_frames_in_place(sample, encoded["output"], reach=2)
    assert set(starts) <= set(keyframes(encoded["output"]))


@pytest.mark.e2e
def test_rerun_with_nothing_changed_runs_nothing(sample: Path, encoded: dict[str, Any]) -> None:
    before = encoded["output"].stat().st_mtime_ns
    again = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST, cwd=encoded["cwd"])
    assert executed(again) == []
    said = again.stdout.strip()  # a word, not silence
    assert said == f"drapto: up to date: {encoded['output']}", said
    assert encoded["output"].stat().st_mtime_ns == before


@pytest.mark.e2e
def test_a_finished_film_reruns_without_writing_and_sees_any_change(
        sample: Path, tmp_path: Path, encoded: dict[str, Any]) -> None:
    """A rerun of a finished film compares what its last run left (finished.json) and writes
    nothing, not even its log; a file of the work folder changed since, the pipeline is
    checked whole and only what changed is made again."""
    shutil.copytree(encoded["cwd"] / "w", tmp_path / "w")
    shutil.copy2(encoded["output"], tmp_path / "out.mkv")
    args = (f"input={sample}", "output=out.mkv", "work=w", *FAST)
    run_drapto(*args, cwd=tmp_path)  # another output path: muxed again, then finished
    work = workdir_of(tmp_path / "w")

    def state() -> dict[Path, tuple[int, int]]:
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in work.rglob("*")}
    before = state()
    again = run_drapto(*args, cwd=tmp_path)
    assert again.stdout.strip() == f"drapto: up to date: {tmp_path / 'out.mkv'}"
    assert state() == before
    os.utime(work / "report.json")  # its stamp no longer describes it
    redone = executed(run_drapto(*args, cwd=tmp_path))
    assert "report" in redone and not [t for t in redone if t.startswith(("encode", "mux"))]
    assert executed(run_drapto(*args, cwd=tmp_path)) == []


@pytest.mark.e2e
def test_audio_bitrate_change_reruns_only_audio_and_mux(sample: Path, tmp_path: Path,
                                                       encoded: dict[str, Any]) -> None:
    shutil.copytree(encoded["cwd"] / "w", tmp_path / "w")
    shutil.copy2(encoded["output"], tmp_path / "out.mkv")
    # The stamps record the output's mtime: the copy keeps it (copy2).
    changed = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST,
                         "audio_bitrates={2: 96}", cwd=tmp_path)
    # The work folder was tidied: the video and the other track come back from the output.
    assert sorted(executed(changed)) == ["audio:1", "mux", "report", "tidy", "validate"]
    assert media_info(tmp_path / "out.mkv")["audio"][1]["format"] == "Opus"
    preset = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST[1:], "preset=11",
                        "audio_bitrates={2: 96}", cwd=tmp_path)
    ran = executed(preset)
    assert sorted(t for t in ran if t.startswith("encode:")) == [f"encode:{i:04d}"
                                                                 for i in range(4)]
    assert not [t for t in ran if t.startswith(("audio", "segment", "probe", "scenes"))]


@pytest.mark.e2e
def test_same_bytes_with_other_worker_count(sample: Path, tmp_path: Path,
                                            encoded: dict[str, Any]) -> None:
    run_drapto(f"input={sample}", "output=one.mkv", "work=w1", *FAST, cwd=tmp_path, jobs=1)
    assert (tmp_path / "one.mkv").read_bytes() == encoded["output"].read_bytes()  # -n 2


@pytest.mark.e2e
def test_hostile_file_names_and_default_output(sample: Path, tmp_path: Path) -> None:
    name = "-rm $(x); it's \"ü\" 𝄞.mkv"
    src = tmp_path / "in dir" / name
    src.parent.mkdir()
    shutil.copy(sample, src)
    run_drapto(f"input=in dir/{name}", "work=work dir", *FAST, "audio_bitrates={6: 128}",
               cwd=tmp_path)
    out = tmp_path / (Path(name).stem + ".av1.mkv")
    assert media_info(out)["video"]["format"] == "AV1"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in dir", "work dir", out.name])
    assert src.read_bytes() == sample.read_bytes()
    assert not [p for p in workdir_of(tmp_path / "work dir").rglob("*") if ".tmp" in p.name]


@pytest.mark.e2e
def test_output_into_directory_and_env_settings(sample: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = run_drapto(f"input={sample}", "output=out/", "work=w", "min_segment=1",
                        "max_segment=2", cwd=tmp_path, env={"DRAPTO_PRESET": "12"})
    assert (tmp_path / "out" / "sample.av1.mkv").is_file()
    assert "encode:0000" in executed(result)
    log = (workdir_of(tmp_path / "w") / "drapto.log").read_text(encoding="utf-8")
    assert "-preset 12" in log
    assert os.path.getsize(tmp_path / "out" / "sample.av1.mkv") > 0


@pytest.mark.e2e
def test_mpeg_ts_source_frame_exact_and_in_sync(sample: Path, tmp_path: Path) -> None:
    """MPEG-TS: streams start at 1.4 s and at different times, and seeking lands late."""
    import subprocess

    from drapto.media import proc

    ts = tmp_path / "movie.m2ts"
    subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(sample), "-map", "0:v", "-map",
                    "0:a", "-c", "copy", str(ts)], check=True, stdin=subprocess.DEVNULL)
    run_drapto(f"input={ts}", "work=w", *FAST, cwd=tmp_path)
    out_path = tmp_path / "movie.av1.mkv"
    assert len(gray_frames(out_path)) == 144
    assert_frames_in_place(ts, out_path)
    want, got = media_info(ts), media_info(out_path)
    for a_src, a_out in zip(want["audio"], got["audio"], strict=True):
        assert abs((a_src["delay_ms"] - want["video"]["delay_ms"])
                   - (a_out["delay_ms"] - got["video"]["delay_ms"])) <= 5


@pytest.mark.e2e
def test_report_without_input_summarises_the_work_root(encoded: dict[str, Any]) -> None:
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), "report",
                          "work=w"], cwd=encoded["cwd"], capture_output=True, text=True,
                         check=True).stdout
    # Named by the output's full path.
    assert f" {encoded['output']}\n" in out and "total of 1 encodes" in out
    assert "1 done, 0 failed, 0 not encoded" in out


@pytest.mark.e2e
def test_touched_or_copied_source_redoes_nothing(sample: Path, tmp_path: Path) -> None:
    src = tmp_path / "film.mkv"
    shutil.copy(sample, src)
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    os.utime(src, (1_000_000_000, 1_000_000_000))  # same content, another mtime
    assert executed(run_drapto(f"input={src}", *FAST, cwd=tmp_path)) == []
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the content changed in place, size and all
    src.write_bytes(bytes(data))
    redone = executed(run_drapto(f"input={src}", *FAST, cwd=tmp_path))
    # Another film: everything is made again, in a work folder of its own.
    assert {"probe", "scenes", "crop", "encode:0000", "concat", "mux"} <= set(redone), redone
    assert len(list((tmp_path / "drapto-work").iterdir())) == 2


@pytest.mark.e2e
def test_a_moved_or_copied_film_is_a_no_op(sample: Path, tmp_path: Path) -> None:
    """The work folder is found by the film's content: moved (or copied, then renamed) to
    another folder with the same output, nothing is done again."""
    first = tmp_path / "films" / "film.mkv"
    first.parent.mkdir()
    shutil.copy2(sample, first)
    run_drapto(f"input={first}", "output=out/film.av1.mkv", *FAST, cwd=tmp_path)
    moved = tmp_path / "elsewhere" / "Film (1999).mkv"
    moved.parent.mkdir()
    shutil.copy2(first, moved)
    first.unlink()
    again = run_drapto(f"input={moved}", "output=out/film.av1.mkv", *FAST, cwd=tmp_path)
    assert executed(again) == []
    assert len(list((tmp_path / "drapto-work").iterdir())) == 1


@pytest.mark.e2e
def test_report_page_shows_every_segment(encoded: dict[str, Any]) -> None:
    """report.html beside report.json: one self-contained page, each segment's figures on
    hover (one column over the panels)."""
    page = (encoded["work"] / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in \
        page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for i in range(4):
        assert page.count(f"<title>segment {i:04d} at ") == 1


@pytest.mark.e2e
def test_a_segment_asked_for_by_number_must_exist(tmp_path: Path) -> None:
    """`doit encode:0003` on a film of fewer segments says so and fails; a segment that is
    done says that it is up to date, not the output (which may be of other settings)."""
    import subprocess

    from conftest import FIXED_CRF, drapto_argv

    src = make_sample(tmp_path / "one.mkv", scenes=[1.0], subtitles=False, chapters=False)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")},
           **FIXED_CRF}

    def task(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*drapto_argv()[:-1], name, f"input={src}", *FAST],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
    missing = task("encode:0003")
    assert missing.returncode == 2
    assert (f"drapto: encode:0003: no such segment; {src} has 1 segment (encode:0000 to "
            "encode:0000)") in missing.stdout
    assert task("encode:0000").returncode == 0
    again = task("encode:0000")
    assert "drapto: up to date: encode:0000" in again.stdout, again.stdout
