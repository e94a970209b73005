"""Job files: many encodes and clips from one YAML/JSON document, yt-dlp info JSON and a
generic response, safe output names, errors that name the document, job and key, a job
whose input is missing failing alone, statistics, and a rerun that does nothing."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import drapto_argv, executed, media_info, run_drapto

from drapto.errors import DraptoError
from drapto.media.demo import make_sample
from drapto.work.jobfile import safe_name, specs

FAST = ["preset=12", "crop_samples=4"]


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("films")
    make_sample(folder / "a.mkv", scenes=(1.5, 3.0, 1.5), size="160x90")
    make_sample(folder / "b.mkv", scenes=(2.0, 2.0), size="160x90", subtitles=False)
    return folder


def report(jobs: Path, cwd: Path) -> str:
    """``doit report jobs=FILE``: the statistics, nothing encoded."""
    argv = [*drapto_argv()[:-1], "report", f"jobs={jobs}"]  # doit -f dodo.py report …
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120,
                            check=True, stdin=subprocess.DEVNULL)
    assert not [line for line in result.stdout.splitlines() if line.startswith(".  ") and
                not line.startswith(".  report")], result.stdout
    return result.stdout


def frames(path: Path) -> int:
    return int(media_info(path)["video"]["frame_count"])


JOBS = """
- input: a.mkv
  clips:
    - {start: 0, end: 1.5, name: "Opening / part 1"}
    - {start: "0:02", duration: 1.5, name: "-rm -rf *"}
    - {start: 4.5, name: "Opening / part 1"}
- input: b.mkv
  min_segment: 1
  max_segment: 2
"""


@pytest.mark.e2e
def test_two_inputs_three_clips_then_a_rerun_that_does_nothing(films: Path,
                                                               tmp_path: Path) -> None:
    jobs = films / "jobs.yaml"
    jobs.write_text(JOBS, encoding="utf-8")
    first = run_drapto(f"jobs={jobs}", f"output={tmp_path}/out/", *FAST, cwd=tmp_path)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "Opening part 1 (2).av1.mkv", "Opening part 1.av1.mkv", "b.av1.mkv", "rm -rf.av1.mkv"]
    # The clips' frames (24 fps) and the whole of b; each with its own work folder.
    assert frames(out / "Opening part 1.av1.mkv") == 36
    assert frames(out / "rm -rf.av1.mkv") == 36
    assert frames(out / "Opening part 1 (2).av1.mkv") == 36
    assert frames(out / "b.av1.mkv") == 96
    assert "drapto: batch: 4 of 4 files encoded" in first.stdout
    assert len(list((tmp_path / "drapto-work").iterdir())) == 4
    again = run_drapto(f"jobs={jobs}", f"output={tmp_path}/out/", *FAST, cwd=tmp_path)
    assert executed(again) == [] and again.stdout.count("drapto: up to date: ") == 4
    assert "drapto: batch: 4 of 4 files up to date" in again.stdout
    listed = report(jobs, tmp_path)
    assert "total: 4 done, 0 failed, 0 left" in listed
    # Each clip under its own output's name, with the wall time of the run that made it.
    for name in ("Opening part 1 (2).av1.mkv", "Opening part 1.av1.mkv", "rm -rf.av1.mkv"):
        line = next(x for x in listed.splitlines() if x.startswith(name + " "))
        assert re.search(r"done .* \d+\.\d s$", line), line


@pytest.mark.e2e
def test_a_missing_input_fails_that_job_only(films: Path, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([{"input": "gone.mkv"},
                                {"input": "lost.mkv", "clips": [{"start": 0, "end": 1},
                                                                {"start": 1, "end": 2}]},
                                {"input": str(films / "b.mkv"), "min_segment": 1,
                                 "max_segment": 2}]),
                    encoding="utf-8")
    result = run_drapto(f"jobs={jobs}", *FAST, cwd=tmp_path, check=False)
    assert result.returncode != 0
    # One line each as it fails, and again in the list that ends the run.
    missing = [line for line in result.stdout.splitlines() if "no such file" in line]
    said = [f"{jobs}, job 1 (gone.mkv): input {tmp_path}/gone.mkv: no such file",
            f"{jobs}, job 2 (lost.mkv): input {tmp_path}/lost.mkv: no such file"]
    assert missing == [*(f"drapto: {x}" for x in said), *(f"drapto:   {x}" for x in said)], \
        result.stdout
    assert "drapto: batch: 2 of 3 files failed:" in result.stdout
    assert (tmp_path / "b.av1.mkv").is_file() and not (tmp_path / "gone.av1.mkv").exists()
    stats = report(jobs, tmp_path)
    assert "gone.av1.mkv" in stats and "no such file" in stats
    assert "total: 1 done, 2 failed, 0 left" in stats


@pytest.mark.parametrize(("document", "message"), [
    ("[{output: x.mkv}]", "jobs.yaml, job 1: 'input' is missing"),
    ("[{input: a.mkv, presett: 8}]", "unknown setting 'presett' in "),
    ("[{input: a.mkv, preset: 99}]", "setting 'preset' from "),
    ("[{input: a.mkv, clips: [{start: 1, stop: 2}]}]",
     "jobs.yaml, job 1 (a.mkv), clip 1: unknown key 'stop'"),
    ("[{input: a.mkv, clips: [{start: 3, end: 2}]}]",
     "jobs.yaml, job 1 (a.mkv), clip 1: end=2 is not after start=3"),
    ("[{input: a.mkv, output: one.mkv, clips: [{start: 1}]}]",
     "jobs.yaml, job 1 (a.mkv), clip 1: output "),
    ("{not: [a list", "jobs.yaml: not YAML or JSON"),
    ("{input: a.mkv}", "jobs.yaml: expected a list of jobs"),
])
@pytest.mark.e2e
def test_bad_job_files_are_refused_with_one_line(document: str, message: str, films: Path,
                                                tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(document, encoding="utf-8")
    (tmp_path / "a.mkv").symlink_to(films / "a.mkv")
    result = run_drapto(f"jobs={jobs}", *FAST, cwd=tmp_path, check=False)
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode != 0 and len(said) == 1 and message in said[0], said
    assert "presett" not in message or "job 1 (a.mkv)" in said[0]
    assert not list(tmp_path.glob("*.av1.mkv"))


def info_json(video: str) -> dict[str, object]:
    """What yt-dlp -J writes, cut to what drapto reads."""
    return {"id": "x1", "title": "Talk: part 1/2", "duration": 6.0, "extractor": "youtube",
            "webpage_url": "https://example.invalid/watch?v=x1",
            "chapters": [{"start_time": 0.0, "end_time": 1.5, "title": "Intro"},
                         {"start_time": 1.5, "end_time": 4.5, "title": "Main <part>"},
                         {"start_time": 4.5, "end_time": 6.0, "title": "Outro"}],
            "requested_downloads": [{"filepath": video}]}


@pytest.mark.e2e
def test_ytdlp_info_json_one_clip_per_chapter(films: Path, tmp_path: Path) -> None:
    info = tmp_path / "talk.info.json"
    info.write_text(json.dumps(info_json(str(films / "a.mkv"))), encoding="utf-8")
    run_drapto(f"jobs={info}", "api=auto", "output=out/", *FAST, cwd=tmp_path)
    got = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert got == ["Talk part 1 2 - Intro.av1.mkv", "Talk part 1 2 - Main part.av1.mkv",
                   "Talk part 1 2 - Outro.av1.mkv"]
    assert [frames(tmp_path / "out" / n) for n in got] == [36, 72, 36]


@pytest.mark.e2e
def test_ytdlp_chapters_named_from_standard_input(films: Path, tmp_path: Path) -> None:
    doc = json.dumps(info_json("elsewhere.mkv"))
    result = subprocess.run(
        drapto_argv("jobs=-", "api=ytdlp", f"input={films / 'a.mkv'}", "chapters=outro",
                    "output=out/", *FAST), cwd=tmp_path, input=doc, capture_output=True,
        text=True, timeout=600, check=False, env={**_env(), "DRAPTO_QUALITY": "crf"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["Talk part 1 2 - Outro.av1.mkv"]


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}


@pytest.mark.e2e
def test_generic_response(films: Path, tmp_path: Path) -> None:
    doc = tmp_path / "response.json"
    doc.write_text(json.dumps({"input": str(films / "b.mkv"), "clips": [
        {"start": 0.5, "end": 1.5, "title": "A"},
        {"start": "0:02", "duration": "1", "title": "A"}]}), encoding="utf-8")
    run_drapto(f"jobs={doc}", "api=generic", *FAST, cwd=tmp_path)
    assert frames(tmp_path / "A.av1.mkv") == frames(tmp_path / "A (2).av1.mkv") == 24


@pytest.mark.parametrize(("title", "expected"), [
    ("a/b\\c:d*e?f\"g<h>i|j", "a b c d e f g h i j"),
    ("-rf --delete", "rf --delete"),
    ("..hidden. ", "hidden"),
    ("tab\there\nnew\x00line\x7f", "tab here new line"),
    ("CON", "_CON"),
    ("", "untitled"),
    ("é" * 200, "é" * 75),
])
def test_hostile_titles_become_safe_names(title: str, expected: str) -> None:
    assert safe_name(title, set()) == expected


def test_names_are_unique_and_capped() -> None:
    taken: set[str] = set()
    long = "x" * 400
    names = [safe_name(long, taken) for _ in range(3)]
    assert len(set(names)) == 3 and all(len(n.encode()) <= 150 for n in names)
    assert safe_name("Intro", taken) == "Intro" and safe_name("INTRO", taken) == "INTRO (2)"


def test_recognising_documents() -> None:
    folder = Path("/films")
    assert specs([{"input": "a.mkv"}], "d", folder, "auto")[0].input == folder / "a.mkv"
    generic = specs({"input": "a.mkv", "clips": []}, "d", folder, "auto")[0]
    assert generic.clips == []
    yt = specs(info_json("v.mkv"), "d", folder, "auto")[0]
    assert [c.name for c in yt.clips] == ["Talk: part 1/2 - Intro",
                                          "Talk: part 1/2 - Main <part>",
                                          "Talk: part 1/2 - Outro"]
    whole = specs({"title": "T", "_filename": "v.mkv", "extractor": "x"}, "d", folder,
                  "ytdlp")[0]
    assert (whole.clips, whole.title, whole.input) == ([], "T", folder / "v.mkv")
    with pytest.raises(DraptoError, match="d: cannot tell what this document is"):
        specs({"something": 1}, "d", folder, "auto")
    with pytest.raises(DraptoError, match="no chapter named 'Credits' .chapters: Intro, "):
        specs(info_json("v.mkv"), "d", folder, "ytdlp", chapters="Credits")
    with pytest.raises(DraptoError, match="input=x.mkv: a job list names its inputs"):
        specs([{"input": "a.mkv"}], "d", folder, "jobs", input_override="x.mkv")
    with pytest.raises(DraptoError, match="chapters=Intro: only for a yt-dlp info JSON"):
        specs([{"input": "a.mkv"}], "d", folder, "jobs", chapters="Intro")


def test_the_drapto_command_takes_job_files() -> None:
    from drapto.run.cli import doit_argv, parser

    argv = doit_argv(parser().parse_args(["jobs", "talk.json", "--api", "ytdlp", "-o", "out/",
                                          "--chapters", "Intro", "--set", "preset=8"]))
    assert argv[argv.index("encode") + 1:] == ["output=out/", "jobs=talk.json", "api=ytdlp",
                                               "chapters=Intro", "preset=8"]
    argv = doit_argv(parser().parse_args(["report", "jobs.yaml"]))
    assert argv[argv.index("report") + 1:] == ["jobs=jobs.yaml"]
