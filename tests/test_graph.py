"""The pipeline's graph as data, with nothing encoded: which settings change which tasks'
keys (a task reruns when what it reads changes, and only then), the jobs and worker count
from the command line, and batch tags.

Each graph is made the way a run makes it (drapto.stages.early and its layers) from a real
probe.json and scenes.json of a generated clip of 7 one-second scenes, and the film-level
decisions (size.json, balance.json) as a run would leave them for such a film."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from drapto.files import read_json, write_json
from drapto.media.demo import make_sample
from drapto.media.probing import probe
from drapto.media.records import Balance, Scenes, SizeDecision
from drapto.quality.search import calibration_indices
from drapto.run.startup import variables
from drapto.settings import Settings
from drapto.stages import early, late, layer, segment_kinds, segment_task
from drapto.stages.scenes import run_scenes
from drapto.stages.segments import segment_id, segment_ids
from drapto.work.graph import Task, full_name, key_of, task_key
from drapto.work.job import jobs_from_vars, requested_workers
from drapto.work.workdir import mark_done

SEGMENTS = {"min_segment": "0.5", "max_segment": "1"}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The clip, its probe.json and scenes.json (a cut at each scene, and more)."""
    folder = tmp_path_factory.mktemp("graph")
    clip = make_sample(folder / "clip.mkv", [1.0] * 7, "256x144")
    write_json(folder / "probe.json", probe(clip))
    run_scenes(clip, folder / "probe.json", folder / "scenes.json", 0.3, 0.3, 0.5, 1.0)
    scenes = read_json(folder / "scenes.json")
    assert len(scenes["segments"]) >= 7, scenes["segments"]
    return {"clip": clip, "probe": read_json(folder / "probe.json"), "scenes": scenes}


def graph(film: dict[str, Any], tmp_path: Path, scenes: dict[str, Any] | None = None,
          threads: int = 1, clip: Path | None = None, **settings: str) -> dict[str, Task]:
    """Every task of a run with these settings, by name, once probe and scenes are made."""
    values = {"input": str(clip or film["clip"]), "output": str(tmp_path / "out.mkv"),
              "work": str(tmp_path / "work"), **SEGMENTS, **settings}
    job = jobs_from_vars(values, tmp_path, env={})[0]
    first = early(job)
    for task, path, data in ((first[0], job.work.probe, film["probe"]),
                             (first[2], job.work.scenes, scenes or film["scenes"])):
        write_json(path, data)
        mark_done(job.work.stamp(full_name(task)), key_of(task), path)
    if job.settings.quality == "vmaf":
        decide(layer(job, threads, 1), "size", job.work.size, SizeDecision(
            93.0, 93.0, 80.0, "skip", "encode", None, False).to_json())
        decide(layer(job, threads, 2), "balance", job.work.balance,
               Balance(93.0, 0.5, None, {}).to_json())
    return {full_name(t): t for t in [*first, *late(job, threads)] if "key" in t.get("meta", {})}


def decide(tasks: list[Task], name: str, path: Path, data: dict[str, Any]) -> None:
    """A film-level decision as its task leaves it: the file and its stamp."""
    task = next(t for t in tasks if t["basename"] == name)
    write_json(path, data)
    mark_done(task["meta"]["stamp"], key_of(task), path)


def keys(tasks: dict[str, Task]) -> dict[str, str]:
    """Each task's key by its stamp's name (a segment's is its first frame, not its
    number)."""
    return {Path(t["meta"]["stamp"]).stem: key_of(t) for t in tasks.values()}


def changed(a: dict[str, Task], b: dict[str, Task]) -> set[str]:
    ka, kb = keys(a), keys(b)
    return {n for n in ka.keys() | kb.keys() if ka.get(n) != kb.get(n)}


def split(scenes: dict[str, Any], i: int) -> dict[str, Any]:
    """scenes.json as a scene setting that adds one cut in segment *i* makes it."""
    out = copy.deepcopy(scenes)
    seg = out["segments"][i]
    half = seg["frames"] // 2
    step = round(1e6 / out["fps"])
    second = {**seg, "start": seg["start"] + half, "frames": seg["frames"] - half,
              "source_bytes": None, "start_pts_us": seg["start_pts_us"] + half * step}
    out["segments"][i:i + 1] = [{**seg, "frames": half, "source_bytes": None}, second]
    for n, s in enumerate(out["segments"]):
        s["index"] = n
    return out


@pytest.mark.e2e
def test_an_audio_bitrate_changes_only_the_audio_and_what_follows(
        film: dict[str, Any], tmp_path: Path) -> None:
    before = graph(film, tmp_path, audio_bitrates="{2: 128}")
    after = graph(film, tmp_path, audio_bitrates="{2: 96}")
    moved = changed(before, after)
    audio = {n for n in moved if n.startswith("audio-")}
    assert audio and moved == audio | {"mux", "validate", "report"}, moved


@pytest.mark.e2e
def test_a_scene_change_reencodes_only_the_segments_it_changed(
        film: dict[str, Any], tmp_path: Path) -> None:
    """In the default mode (quality targeting): a new cut in an early segment that is not a
    calibration segment. Every other segment keeps its key and its encode's, though those
    after the cut are renumbered; the calibration keeps its key too."""
    segs = film["scenes"]["segments"]
    cal = calibration_indices([s["frames"] for s in segs], Settings().calibration_segments)
    i = next(n for n in range(1, len(segs) - 1) if n not in cal)
    before = graph(film, tmp_path, scene_threshold="0.3")
    after = graph(film, tmp_path, split(film["scenes"], i), scene_threshold="0.25")

    def encode_of(tasks: dict[str, Task], n: int) -> Task:
        return next(tasks[f"{kind}:{n:04d}"] for kind in ("encode", "sample", "calibration")
                    if f"{kind}:{n:04d}" in tasks)
    last = len(segs) - 1  # renumbered, the same segment
    assert encode_of(after, last + 1)["meta"]["stamp"].stem == \
        encode_of(before, last)["meta"]["stamp"].stem
    ids = [segment_id(segs[i]["start"]), segment_id(segs[i]["start"] + segs[i]["frames"] // 2)]
    moved = changed(before, after)
    assert moved == {"scenes", *(f"encode-{sid}" for sid in ids), "balance", "concat", "mux",
                     "validate", "report"}, sorted(moved)


@pytest.mark.e2e
def test_a_crf_changes_the_encodes_and_not_the_segments_or_audio(
        film: dict[str, Any], tmp_path: Path) -> None:
    before = graph(film, tmp_path, quality="crf", crf_hd="30")
    after = graph(film, tmp_path, quality="crf", crf_hd="31")
    moved = changed(before, after)
    ids = segment_ids(Scenes.from_json(film["scenes"]))
    assert moved == {*(f"encode-{sid}" for sid in ids), "concat", "mux", "validate",
                     "report"}, sorted(moved)


@pytest.mark.e2e
def test_where_and_how_wide_it_runs_is_in_no_key(film: dict[str, Any],
                                                 tmp_path: Path) -> None:
    """The executor, SVT-AV1's threads and the memory settings never change the bytes;
    nor does the input's path: a moved film keeps its work."""
    base = keys(graph(film, tmp_path))
    moved = tmp_path / "elsewhere" / "renamed.mkv"
    moved.parent.mkdir()
    shutil.copy(film["clip"], moved)
    assert keys(graph(film, tmp_path, threads=8, executor="dask://127.0.0.1:8786",
                      memory_budget="2G")) == base
    assert keys(graph(film, tmp_path, clip=moved)) == base


@pytest.mark.e2e
def test_every_argument_an_action_is_handed_is_in_its_key(film: dict[str, Any],
                                                          tmp_path: Path) -> None:
    """Change any one argument of any task's action (but the encode's UNKEYED) and its key
    changes: a key cannot leave out what its action reads."""
    tasks = graph(film, tmp_path)
    job = jobs_from_vars({"input": str(film["clip"]), "output": str(tmp_path / "out.mkv"),
                          "work": str(tmp_path / "work"), **SEGMENTS}, tmp_path, env={})[0]
    checked = 0
    for name, task in tasks.items():
        kwargs = task["actions"][0][1][5]
        deps = [tasks[d] for d in task["task_dep"]]
        encodes = {k.name for k in segment_kinds()}
        unkeyed = segment_task.UNKEYED if task["basename"] in encodes else ()
        key = task_key(job, task["basename"], 0, kwargs, deps, unkeyed)
        for arg in kwargs:
            other = task_key(job, task["basename"], 0, {**kwargs, arg: ["changed"]}, deps,
                             unkeyed)
            assert (other == key) == (arg in unkeyed), (name, arg)
            checked += 1
    assert checked > 100


def test_variables_and_workers_from_the_command_line() -> None:
    argv = ["doit", "-n", "3", "encode", "input=a b.mkv", "crf_sd=30", "--verbosity=2",
            "svt_params=tune=0:film-grain=8", "crf_sd=31"]
    assert variables(argv) == {"input": "a b.mkv", "crf_sd": "31",
                               "svt_params": "tune=0:film-grain=8"}
    assert requested_workers(argv) == 3
    assert requested_workers(["doit", "-n4"]) == 4
    assert requested_workers(["doit", "--process=5", "encode"]) == 5
    assert requested_workers(["doit", "encode", "input=x.mkv"]) is None


def test_a_batch_of_files_with_one_name_gets_distinct_tags(tmp_path: Path) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    for name in ("film.mkv", "film.mp4", "Film 2.mkv"):
        (folder / name).write_bytes(name.encode() * 100)
    jobs = jobs_from_vars({"input": str(folder), "output": str(tmp_path / "out") + "/",
                           "work": str(tmp_path / "work")}, tmp_path, env={})
    assert [j.tag for j in jobs] == ["Film_2", "film", "film-2"]
    assert [j.output.name for j in jobs] == ["Film 2.av1.mkv", "film.av1.mkv",
                                             "film.mp4.av1.mkv"]
    assert len({j.work.path for j in jobs}) == 3


def stretched(scenes: dict[str, Any], n: int) -> dict[str, Any]:
    """scenes.json as a film of *n* segments of the first one's length would have it."""
    out = copy.deepcopy(scenes)
    seg, step = out["segments"][0], round(1e6 / out["fps"])
    out["segments"] = [{**seg, "index": i, "start": i * seg["frames"],
                        "start_pts_us": seg["start_pts_us"] + i * seg["frames"] * step}
                       for i in range(n)]
    out["frames"] = n * seg["frames"]
    out["cuts"] = [s["start"] for s in out["segments"][1:]]
    out["last_pts_us"] = out["first_pts_us"] + (out["frames"] - 1) * step
    return out


@pytest.mark.e2e
def test_a_long_film_is_calibrated_on_a_segment_in_sixteen(film: dict[str, Any],
                                                          tmp_path: Path) -> None:
    """760 segments: the size is decided from the first calibration segments as on a
    short film, the calibration grows to 48 segments spread over the film (a segment in
    SEGMENTS_PER_SAMPLE), and every other segment's encode waits for it."""
    tasks = graph(film, tmp_path, stretched(film["scenes"], 760))
    sample = sorted(int(n.rpartition(":")[2]) for n in tasks if n.startswith("sample:"))
    more = sorted(int(n.rpartition(":")[2]) for n in tasks if n.startswith("calibration:"))
    assert len(sample) == 3 and not set(sample) & set(more)
    assert 48 <= len(sample) + len(more) <= 48 + 6
    gaps = [b - a for a, b in zip(sorted(sample + more), sorted(sample + more)[1:])]
    assert max(gaps) <= 2 * 760 // 48
    encodes = [t for n, t in tasks.items() if n.startswith("encode:")]
    assert len(encodes) == 760 - len(sample) - len(more)
    assert all("calibrate" in t["task_dep"] for t in encodes)
    assert len(tasks["calibrate"]["actions"][0][1][5]["records"]) == len(sample) + len(more)
