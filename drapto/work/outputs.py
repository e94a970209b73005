"""What a job's output file holds, read from its tags: whose it is (never replace a file
drapto did not write), whether a batch can skip it, and which stowed parts it carries."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

from drapto import __version__
from drapto.errors import DraptoError
from drapto.files import make_key, read_json, write_json
from drapto.media.records import Probe
from drapto.work import workdir
from drapto.work.graph import Task, key_of, stamp_of, stamp_path, target_of
from drapto.work.job import Job
from drapto.work.workdir import file_state, read_stamp


def probed(job: Job) -> Probe | None:
    """probe.json's view of the job's output (None: there is none, or it is no video), read
    once per state of the file: the ownership check, the batch skip and the stowed tasks'
    checks of one run all ask."""
    try:
        st = job.output.stat()
    except OSError:
        return None
    return _probed(str(job.output), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _probed(output: str, size: int, mtime: int) -> Probe | None:
    from drapto.media.probing import read_media

    try:
        return read_media(Path(output))
    except DraptoError:
        return None


def stores(output: Path, work: Path, fingerprint: str) -> list[Path]:
    """The files that may hold this input's stowed work: its *output*, and the last output
    drapto wrote for it (report.json in its *work* folder: the film was renamed, or encoded
    to another folder), each only if it carries this input's fingerprint."""
    found: list[Path] = []
    last = None
    with contextlib.suppress(OSError):
        report = work / "report.json"
        last = _last_output(str(report), report.stat().st_mtime_ns)
    for path in dict.fromkeys(p for p in (output, last) if p is not None):
        try:
            st = path.stat()
        except OSError:
            continue
        info = _probed(str(path), st.st_size, st.st_mtime_ns)
        if info is not None and info.drapto_source == fingerprint:
            found.append(path)
    return found


@functools.lru_cache(maxsize=256)
def _last_output(report: str, mtime: int) -> Path | None:
    """The output a report.json names, read once per state of the file (every stowed task's
    check asks)."""
    try:
        return Path(read_json(Path(report))["output"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def held(path: Path) -> dict[str, Any]:
    """What an output says it holds: its DRAPTO_VIDEO and DRAPTO_AUDIO tags, the keys of the
    joined video and of each audio track."""
    st = path.stat()
    info = _probed(str(path), st.st_size, st.st_mtime_ns)
    return {"video": info.drapto_video if info else None,
            "audio": ((info.drapto_audio if info else None) or "").split(",")}


def holds(job: Job) -> dict[str, Any]:
    """What the job's outputs hold (:func:`stores`), together."""
    found = [held(p) for p in stores(job.output, job.work.path, job.work.fingerprint)]
    return {"video": [h["video"] for h in found],
            "audio": [key for h in found for key in h["audio"]]}


def made_here(mux: Task | None) -> bool:
    """Whether the output is the file the *mux* task made (its stamp holds that task's key,
    and the file's size and time): then it holds that run's video and audio, known without
    reading the file."""
    if mux is None:
        return False
    stamp, target = stamp_path(mux), target_of(mux)
    return _made(key_of(mux), str(stamp), str(target), file_state(stamp), file_state(target))


@functools.lru_cache(maxsize=64)
def _made(key: str, stamp: str, target: str, *states: tuple[int, ...]) -> bool:
    """:func:`made_here`, read once per state of the stamp and the output (every stowed
    task's check asks)."""
    return workdir.is_done(Path(stamp), key, Path(target))


# The mux task's stamp: read before any task is made (the ownership check at set-up).
MUX_STAMP = "mux"


def muxed_here(job: Job, output: tuple[int, ...]) -> bool:
    """Whether the job's mux stamp describes the output in *output* (its file_state)."""
    return bool(output) and read_stamp(stamp_of(job, MUX_STAMP)).get("target") == \
        list(output[1:])


def owner(job: Job) -> str:
    """Whose the file at the job's output is: ``none`` (there is none), ``ours`` (drapto
    wrote it for this input: its ``DRAPTO_SOURCE`` tag is this input's fingerprint, or a mux
    stamp of this input, or of an earlier content of the same path, describes it) or
    ``foreign`` (anything else, never replaced unless ``overwrite=yes``)."""
    if not job.output.exists():
        return "none"
    if not job.output.is_file():
        return "foreign"
    state = file_state(job.output)
    if muxed_here(job, state):
        return "ours"
    info = probed(job)
    if info is None:
        return "foreign"
    tag = info.drapto_source
    if tag and tag == job.work.fingerprint:
        return "ours"
    # Written for this same path before its content changed: that input's work folder.
    for stamp in job.work.path.parent.glob("*/stamps/mux*.json"):
        if read_stamp(stamp).get("target") == list(state[1:]):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                if Probe.read(stamp.parent.parent / "probe.json").source == str(job.source):
                    return "ours"
    return "foreign"


# Settings that change how a run goes, not what it makes.
MACHINE_SETTINGS = ("memory_budget", "memory_estimates", "executor", "keep_work")


def made_with(job: Job) -> dict[str, Any]:
    """The job's settings that shape its output, as the work folder keeps them (JSON)."""
    values = {k: v for k, v in dataclasses.asdict(job.settings).items()
              if k not in MACHINE_SETTINGS}
    return dict(json.loads(json.dumps(values, sort_keys=True, default=str)))


def settings_of(job: Job) -> dict[str, Any] | None:
    """The settings the job's output was made with (settings.json in its work folder, which
    keeps them per output), or None when none are recorded for that output."""
    try:
        data = read_json(job.work.settings)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if "outputs" not in data:  # written before outputs were told apart: any output's
        return data
    made = data["outputs"].get(str(job.output))
    return made if isinstance(made, dict) else None


def record_settings(job: Job) -> None:
    """Note in settings.json what the job's output was made with (beside other outputs of
    the same input)."""
    try:
        data = read_json(job.work.settings)
    except (OSError, ValueError):
        data = {}
    kept = data.get("outputs", {}) if isinstance(data, dict) else {}
    write_json(job.work.settings, {"outputs": {**kept, str(job.output): made_with(job)}})


def changed_settings(job: Job) -> dict[str, tuple[Any, Any]] | None:
    """The settings whose values differ from those the job's output was made with; None
    when they are not known (nothing recorded for that output)."""
    before = settings_of(job)
    if before is None:
        return None
    now = made_with(job)
    return {k: (before.get(k), v) for k, v in now.items() if before.get(k, v) != v}


# Files a run that changes nothing still writes, and the record of the state itself.
_UNREAD = frozenset({"lock", "drapto.log", "finished.json"})
_CODE = Path(__file__).resolve().parents[1]  # the drapto package, every module of it


def _tree(root: str, into: list[tuple[str, int, int, int]], skip: frozenset[str]) -> None:
    with os.scandir(root) as entries:
        for e in sorted(entries, key=lambda e: e.name):
            if e.name in skip:
                continue
            st = e.stat(follow_symlinks=False)
            into.append((e.path, st.st_ino, st.st_size, st.st_mtime_ns))
            if e.is_dir(follow_symlinks=False):
                _tree(e.path, into, skip)


def work_state(job: Job) -> str:
    """A digest of everything a rerun of a finished job reads to find it up to date: each
    file of its work folder (drapto replaces files whole, so a changed one has another
    inode or time), its output's mux stamp and file, every setting, and drapto's code."""
    files: list[tuple[str, int, int, int]] = []
    _tree(str(job.work.path), files, _UNREAD)
    _tree(str(_CODE), files, frozenset({"__pycache__"}))
    output = file_state(job.output)
    return make_key(files, str(job.output), output, str(job.source), job.clip,
                            dataclasses.asdict(job.settings), __version__)


def finished(job: Job) -> bool:
    """Whether the job's last run finished it and nothing it read changed since: its output
    is the one its mux stamp describes, made with these settings, and the work folder is
    as that run left it. Then a rerun is a no-op without making its tasks."""
    try:
        recorded = read_json(job.work.finished).get("state")
    except (OSError, ValueError, AttributeError):
        return False
    return muxed_here(job, file_state(job.output)) and recorded == work_state(job) \
        and is_done(job)


def record_finished(job: Job) -> None:
    """At the end of a run that left the job finished: the state a no-op compares with."""
    write_json(job.work.finished, {"state": work_state(job)})


def is_done(job: Job) -> bool:
    """In a batch: the file's output exists, drapto wrote it for this input with the
    settings of this run, and drapto's last run of it did not fail (a failed validation
    leaves the output there)."""
    return (not job.work.failure.exists() and owner(job) == "ours"
            and changed_settings(job) == {})
