"""Fixtures: generated clips, running drapto through doit, reading outputs back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drapto.files import read_json
from drapto.media import proc
from drapto.media.demo import make_sample
from drapto.media.probing import probe
from drapto.media.records import Scenes, SegmentRecord
from drapto.stages.segments import segment_ids

ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
# Fast settings for tiny clips: several segments per clip, the fastest preset.
FAST = ["preset=12", "min_segment=1", "max_segment=2", "crop_samples=6"]
# Learned memory figures and the memory ledger live in the cache folder: the tests' own.
TEST_CACHE = Path(tempfile.mkdtemp(prefix="drapto-test-cache-"))
os.environ["XDG_CACHE_HOME"] = str(TEST_CACHE)
# The tests of tracks, timing, resume and failures encode at a fixed CRF, which is fast;
# quality targeting, the default, has its own tests (test_quality.py), which ask for it.
FIXED_CRF = {"DRAPTO_QUALITY": "crf"}
os.environ.update(FIXED_CRF)


def pytest_configure(config: pytest.Config) -> None:
    """``-m unit`` runs the tests that need no FFmpeg, in seconds; there FFmpeg is a stub
    that fails, so a test that needs it and is not marked ``e2e`` fails at once."""
    if config.getoption("markexpr") == "unit":
        stub = Path(tempfile.mkdtemp(prefix="drapto-no-ffmpeg-")) / "ffmpeg"
        stub.write_text("#!/bin/sh\necho 'FFmpeg called by a unit test: mark it e2e' >&2\n"
                        "exit 97\n", encoding="utf-8")
        stub.chmod(0o755)
        os.environ["IMAGEIO_FFMPEG_EXE"] = str(stub)
        os.environ.pop("DRAPTO_FFMPEG", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test not marked ``e2e`` (it runs FFmpeg on generated or shared media) is a
    ``unit`` test."""
    for item in items:
        if item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.unit)


def drapto_argv(*args: str, jobs: int | None = None) -> list[str]:
    opts = ["-n", str(jobs)] if jobs else []
    return [sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), *opts, "encode", *args]


def run_drapto(*args: str, cwd: Path, jobs: int | None = None,
               env: dict[str, str] | None = None, check: bool = True
               ) -> subprocess.CompletedProcess[str]:
    """``doit encode args...`` from *cwd*; stdout and stderr captured as text."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    full_env.update(FIXED_CRF)
    full_env.update(env or {})
    result = subprocess.run(drapto_argv(*args, jobs=jobs), cwd=cwd, env=full_env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"drapto failed ({result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


def executed(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Names of the tasks a run executed (doit prints '.  name' for each)."""
    return [line[3:].strip() for line in result.stdout.splitlines() if line.startswith(".  ")]


def segment_file(work: Path, index: int, suffix: str = ".mkv") -> Path:
    """Segment *index*'s encode (or its record, ``.json``) that the film is joined from:
    files are named by the segment's first frame; one encoded again for the film's mean is
    in balanced/, a calibration segment's in calibration/ (unless the film's target was
    lowered)."""
    sid = segment_ids(Scenes.read(work / "scenes.json"))[index]
    return work / final_folder(work, sid) / f"{sid}{suffix}"


def final_folder(work: Path, sid: str) -> str:
    """Where the encode of segment *sid* that the film is joined from is, by the film's
    decisions (balance.json, size.json): records of earlier runs may lie beside it."""
    decided = {name: read_json(work / f"{name}.json") for name in ("balance", "size")
               if (work / f"{name}.json").exists()}
    if sid in decided.get("balance", {}).get("segments", {}):
        return "balanced"
    size = decided.get("size")
    sample = (work / "calibration" / f"{sid}.json").exists()
    return "calibration" if sample and size and size["target"] == size["asked"] else "encoded"


# What an encode record holds besides what a test sets, as run_encode writes it (with
# quality targeting: when the test gives a search).
_RECORD = {"start": 0, "frames": 24, "crf": 35.0, "preset": 6, "crop": None, "filters": [],
           "dolby_vision": False, "warnings": [], "bytes": 0, "peak_memory_mib": 0,
           "reserved_mib": 0, "seconds": 0.0}
_SCORED = {"vmaf": 93.0, "vmaf_frames": None, "reached": True, "target_vmaf": 93.0,
           "vmaf_pool": "mean", "band": [91.0, 95.0], "source_bytes": None, "outside": None}
_SEARCH = {"target": 93.0, "tolerance": 2.0, "overshoot": 2.0, "preset": 6,
           "search_preset": 10, "probe_settings": {}, "fast_crf": 35.0, "slope": 0.08,
           "shift": 0.0, "prior": {"shift": 0.0, "slope": 0.08, "first_probe": 35.0,
                                   "band": 0.5, "source": "default"},
           "predicted_crf": 35.0, "probes": [], "finals": []}


def record_json(fields: dict[str, Any]) -> dict[str, Any]:
    """A whole encode record (encoded/F.json) of which a test sets *fields* (its search's
    too; a probe's or final encode's bytes are 0 unless set)."""
    if "search" not in fields:
        return {**_RECORD, **fields}
    search = {**_SEARCH, **fields["search"]}
    for kind in ("probes", "finals"):
        search[kind] = [{"bytes": 0, **t} for t in search[kind]]
    return {**_RECORD, **_SCORED, **fields, "search": search}


def a_record(fields: dict[str, Any]) -> SegmentRecord:
    return SegmentRecord.from_json(record_json(fields))


def records_of(work: Path) -> list[dict[str, Any]]:
    """Every segment's encode record that the film is joined from, in order."""
    n = len(read_json(work / "scenes.json")["segments"])
    return [read_json(segment_file(work, i, ".json")) for i in range(n)]


def stamped_segments(work: Path) -> set[str]:
    """The numbers (0003) of the segments whose encode (or calibration sample) is stamped
    done."""
    numbers = {sid: f"{i:04d}"
               for i, sid in enumerate(segment_ids(Scenes.read(work / "scenes.json")))}
    sids = [p.stem.partition("-")[2] for kind in ("encode", "sample", "calibration")
            for p in work.glob(f"stamps/{kind}-*.json")]
    return {numbers[sid] for sid in sids if sid in numbers}


def encodes_run(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The numbers (0003) of the segments a run encoded (encode:N, sample:N or
    calibration:N)."""
    return {t.rpartition(":")[2] for t in executed(result)
            if t.startswith(("encode:", "sample:", "calibration:"))}


def workdir_of(work_root: Path) -> Path:
    dirs = [p for p in work_root.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def gray_frames(path: Path, size: str = "64x36") -> list[bytes]:
    """Every frame of the first video stream, downscaled to gray, in decode order."""
    w, h = (int(x) for x in size.split("x"))
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:V:0",
                          "-vf", f"scale={w}:{h}:flags=area,format=gray",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-"],
                         capture_output=True, check=True, stdin=subprocess.DEVNULL).stdout
    n = w * h
    return [out[i:i + n] for i in range(0, len(out), n)]


def keyframes(path: Path) -> list[int]:
    """Indices of the video packets flagged as keyframes (stream copy, no decode)."""
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:V:0",
                          "-c", "copy", "-f", "framecrc", "-"],
                         capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL).stdout
    packets = [line for line in out.splitlines() if line and not line.startswith("#")]
    return [i for i, line in enumerate(packets) if "F=" not in line]


def media_info(path: Path) -> dict[str, Any]:
    return probe(path)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 256x144, 24 fps: hard cuts at frames 36 and 108, AC-3 5.1(side) 'eng' +
    AAC stereo 'fre', an SRT track 'ger' (forced), three chapters."""
    return make_sample(tmp_path_factory.mktemp("sample") / "sample.mkv")


@pytest.fixture(scope="session")
def encoded(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One complete encode of the sample, shared by the tests that only read it."""
    cwd = tmp_path_factory.mktemp("encoded")
    result = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST, cwd=cwd, jobs=2)
    return {"cwd": cwd, "output": cwd / "out.mkv", "work": workdir_of(cwd / "w"),
            "result": result}


def shared(name: str) -> Path:
    path = SHARED_MEDIA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared media folder is not beside the project)")
    return path


def packet_times(path: Path) -> list[int]:
    """Presentation timestamps (ms) of the first video stream's packets, in decode order,
    relative to the first."""
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:V:0",
                          "-c", "copy", "-copyts", "-f", "framecrc", "-"], capture_output=True,
                         text=True, check=True, stdin=subprocess.DEVNULL).stdout
    lines = [x for x in out.splitlines() if x and not x.startswith("#")]
    tb = next((x.split()[-1] for x in out.splitlines() if x.startswith("#tb 0:")), "1/1000")
    num, den = (int(v) for v in tb.split("/"))
    pts = sorted(int(x.split(",")[2]) for x in lines)
    return [round((p - pts[0]) * 1000 * num / den) for p in pts]


def ffmpeg_make(*args: str) -> None:
    subprocess.run([proc.ffmpeg(), "-v", "error", "-y", *args], check=True,
                   stdin=subprocess.DEVNULL)


def assert_frames_in_place(source: Path, output: Path, reach: int = 1, first: int = 0,
                           count: int | None = None) -> None:
    """Output frame i is source frame *first* + i (the nearest of the source's frames up to
    *reach* either side), for all *count* output frames (default: the rest of the source)."""
    src, out = gray_frames(source), gray_frames(output)
    assert len(out) == (len(src) - first if count is None else count)
    for i, frame in enumerate(out):
        at = first + i
        diffs = {j: sum(abs(x - y) for x, y in zip(frame, src[j], strict=True))
                 for j in range(max(0, at - reach), min(len(src), at + reach + 1))}
        best = min(diffs, key=diffs.__getitem__)
        assert best == at, f"output frame {i} is source frame {best}, not {at}"


@pytest.fixture(scope="session", autouse=True)
def _test_cache() -> Iterator[None]:
    yield
    shutil.rmtree(TEST_CACHE, ignore_errors=True)
