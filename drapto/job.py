"""One encode job: the input, output and work paths and settings, from doit's variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import settings as settings_mod
from .errors import DraptoError
from .settings import Settings
from .timeparse import clip_range
from .workdir import WorkDir, slug

DEFAULT_WORK = "drapto-work"
OUTPUT_SUFFIX = ".av1.mkv"


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path
    work: WorkDir
    profile: str
    settings: Settings
    clip: tuple[int, int | None] | None = None  # (start, end) µs from the file's start
    tag: str | None = None  # in a batch: the file's part of every task name


VIDEO_SUFFIXES = {".mkv", ".mp4", ".m4v", ".m2ts", ".mts", ".ts", ".mov", ".avi", ".webm",
                  ".mpg", ".mpeg", ".vob", ".wmv", ".flv"}


def batch_inputs(folder: Path) -> list[Path]:
    """The video files of a folder (not its subfolders), by name; drapto's own outputs
    (*.av1.mkv) and hidden files left out."""
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                   and not p.name.endswith(OUTPUT_SUFFIX) and not p.name.startswith("."))
    if not files:
        raise DraptoError(f"{folder}: no video files in it "
                          f"({', '.join(sorted(VIDEO_SUFFIXES))})")
    return files


def jobs_from_vars(vars: Mapping[str, str], base: Path,
                   env: Mapping[str, str] | None = None) -> list[Job]:
    """One job for input=FILE; one per video file, tagged, for input=FOLDER (a batch, whose
    output= is a folder). No input=: none."""
    if not vars.get("input") or not _resolve(base, vars["input"]).is_dir():
        job = from_vars(vars, base, env)
        return [job] if job else []
    folder = _resolve(base, vars["input"])
    out = vars.get("output")
    if out and not (out.endswith(("/", os.sep)) or _resolve(base, out).is_dir()):
        raise DraptoError(f"output={out}: for a folder of inputs, give a folder "
                          "(ending in /)")
    jobs, tags = [], set()
    for path in batch_inputs(folder):
        tag = base_tag = slug_tag(path.stem)
        n = 1
        while tag in tags:
            n += 1
            tag = f"{base_tag}-{n}"
        tags.add(tag)
        single = {**vars, "input": str(path), "output": (out or ".").rstrip("/") + "/"}
        job = from_vars(single, base, env)
        assert job is not None
        jobs.append(dataclasses.replace(job, tag=tag))
    return jobs


def slug_tag(stem: str) -> str:
    """A file's part of task names: its work-directory slug without dots."""
    return slug(stem).replace(".", "_")[:40]


def _resolve(base: Path, value: str) -> Path:
    return Path(os.path.abspath(base / os.path.expanduser(value)))


def from_vars(vars: Mapping[str, str], base: Path,
              env: Mapping[str, str] | None = None) -> Job | None:
    """Build the job from ``doit ... input=… output=… work=… profile=… config=… key=value``.

    Returns None without ``input=`` (``doit list``, ``doit help``). Relative paths are
    relative to *base*, the directory the user ran doit in.
    """
    env = os.environ if env is None else env
    if not vars.get("input"):
        settings_mod.load(vars.get("profile") or env.get("DRAPTO_PROFILE") or "default",
                          None, env, vars)  # still report bad settings early
        return None
    source = _resolve(base, vars["input"])
    if not source.exists():
        raise DraptoError(f"{source}: no such file")
    profile = vars.get("profile") or env.get("DRAPTO_PROFILE") or "default"
    if profile.endswith((".yaml", ".yml")):  # a profile file of the user's own
        profile = str(_resolve(base, profile))
    config_value = vars.get("config") or env.get("DRAPTO_CONFIG")
    config = _resolve(base, config_value) if config_value else None
    settings = settings_mod.load(profile, config, env, vars)
    clip = clip_range(vars.get("start"), vars.get("end"), vars.get("duration"))
    name = source.stem + (_clip_name(clip) if clip else "") + OUTPUT_SUFFIX
    out_value = vars.get("output")
    if out_value:
        output = _resolve(base, out_value)
        if out_value.endswith(("/", os.sep)) or output.is_dir():
            output = output / name
    else:
        output = base / name
    if output.suffix.lower() != ".mkv":
        raise DraptoError(f"output {output}: must end in .mkv")
    if output == source or (output.exists() and os.path.samefile(output, source)):
        raise DraptoError(f"output {output} is the input; choose another output= "
                          "(drapto never overwrites its input)")
    root = work_root(vars, base, env)
    for what, folder in (("output", output.parent), ("work", root)):
        _check_writable(what, folder)
    return Job(source, output, WorkDir(root, source), profile, settings, clip)


def _clip_name(clip: tuple[int, int | None]) -> str:
    """.1.5s-4.5s: a clip's output name says its range (a clip never replaces the film)."""
    end = "end" if clip[1] is None else f"{clip[1] / 1e6:g}s"
    return f".{clip[0] / 1e6:g}s-{end}"


def work_root(vars: Mapping[str, str], base: Path, env: Mapping[str, str] | None = None
              ) -> Path:
    """The root of the work directories: ``work=``, ``DRAPTO_WORK``, else ./drapto-work."""
    env = os.environ if env is None else env
    return _resolve(base, vars.get("work") or env.get("DRAPTO_WORK") or DEFAULT_WORK)


def _check_writable(what: str, folder: Path) -> None:
    """Fail before any work if *folder* (or the part of it that exists) cannot be written."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise DraptoError(f"{what} folder {folder}: cannot write in {existing}")


def svt_threads(workers: int, cores: int | None = None) -> int:
    """SVT-AV1 ``lp`` per encode: twice the encode's share of the cores (at most all of
    them), so that the workers together fill the cores even when some wait on their input
    or the last segments of a run encode alone (measured: a 2-segment film on 2 cores
    took 15 % less time with lp=2 than with lp=1 per encode)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, 2 * cores // max(1, workers)))


def requested_workers(argv: list[str]) -> int | None:
    """The ``-n N``/``--process=N`` given to doit, if any."""
    for i, arg in enumerate(argv):
        value = None
        if arg in ("-n", "--process") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--process="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-n") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None and value.isdigit():
            return int(value)
    return None


DOIT_COMMANDS = {"run", "list", "clean", "forget", "help", "info", "auto", "dumpdb",
                 "ignore", "reset-dep", "strace", "tabcompletion"}
READ_ONLY_COMMANDS = {"list", "help", "info", "dumpdb", "tabcompletion", "strace"}


def doit_command(argv: list[str]) -> str:
    """Which doit sub-command this process runs (``run`` when none is named)."""
    return next((a for a in argv[1:] if a in DOIT_COMMANDS), "run")

