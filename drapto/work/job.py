"""One encode job: the input, output and work paths and settings, from doit's variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drapto import settings as settings_mod
from drapto.errors import DraptoError
from drapto.media.timeparse import Clip, clip_range
from drapto.settings import Settings
from drapto.work import jobfile
from drapto.work.workdir import WorkDir, slug

DEFAULT_WORK = "drapto-work"
OUTPUT_SUFFIX = ".av1.mkv"


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path
    work: WorkDir
    profile: str
    settings: Settings
    clip: Clip | None = None
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
    jobs, tags, outputs = [], set(), set()
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
        if job.output in outputs:  # film.mkv and film.mp4: the second keeps its extension
            job = dataclasses.replace(job, output=job.output.with_name(
                f"{path.stem}{path.suffix.lower()}{OUTPUT_SUFFIX}"))
        outputs.add(job.output)
        jobs.append(dataclasses.replace(job, tag=tag))
    return distinct_work(jobs)


def distinct_work(jobs: list[Job]) -> list[Job]:
    """Jobs of one run whose inputs have the same content (copies of one film, one clip asked
    twice) get work folders of their own: one run never locks a folder twice."""
    seen: dict[Path, int] = {}
    out = []
    for job in jobs:
        n = seen[job.work.path] = seen.get(job.work.path, 0) + 1
        if n > 1:
            root = job.work.path.parent
            job = dataclasses.replace(job, work=WorkDir(root, job.source, job.clip, copy=n))
        out.append(job)
    return out


def slug_tag(stem: str) -> str:
    """A file's part of task names: its work-directory slug without dots."""
    return slug(stem).replace(".", "_")[:40]


def _resolve(base: Path, value: str) -> Path:
    return Path(os.path.abspath(base / os.path.expanduser(value)))


def from_vars(vars: Mapping[str, str], base: Path,
              env: Mapping[str, str] | None = None,
              job_settings: Mapping[str, Any] | None = None,
              where: str = "the job file") -> Job | None:
    """Build the job from ``doit ... input=… output=… work=… profile=… config=… key=value``
    (and, for a job of a job file, its own settings, named *where* in errors).

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
    settings = settings_mod.load(profile, config, env, vars, job_settings, where)
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
    return Job(source, output, WorkDir(root, source, clip), profile, settings, clip)


@dataclass(frozen=True)
class Failure:
    """A job of a job file that cannot run (its input is missing): it fails alone."""
    number: int
    label: str        # the output it would have made, or its input
    message: str


@dataclass(frozen=True)
class Plan:
    """What a job file asks for: the jobs that can run and those that cannot."""
    document: str
    jobs: list[Job]
    failures: list[Failure]


def jobs_from_file(vars: Mapping[str, str], base: Path,
                   env: Mapping[str, str] | None = None) -> Plan:
    """Every job and clip of ``jobs=FILE`` (drapto/work/jobfile.py), each a Job with a tag and a
    work folder of its own; ``output=`` is the folder for those that name no output."""
    name, folder, doc = jobfile.read_document(vars["jobs"], base)
    found = jobfile.specs(doc, name, folder, vars.get("api") or "jobs", vars.get("input"),
                          vars.get("chapters"))
    out = vars.get("output")
    if out and not (out.endswith(("/", os.sep)) or _resolve(base, out).is_dir()):
        raise DraptoError(f"output={out}: with jobs=, give a folder (ending in /) for the "
                          "jobs that name no output")
    default_dir = _resolve(base, out) if out else base
    common = {k: v for k, v in vars.items() if k not in settings_mod.RUN_VARS or k == "work"}
    jobs: list[Job] = []
    failures: list[Failure] = []
    taken: dict[Path, set[str]] = {}
    tags: set[str] = set()
    for spec in found:
        assert spec.input is not None
        source = Path(os.path.abspath(spec.input))
        clips: list[jobfile.Clip | None] = [*spec.clips] or [None]
        for number, clip in enumerate(clips, 1):
            where = spec.where + (f", clip {number}" if clip else "")
            try:
                rng = clip_range(clip.start, clip.end, clip.duration) if clip else None
                output = _job_output(spec, clip, rng, source, default_dir, taken)
            except DraptoError as exc:
                raise DraptoError(f"{where}: {exc}") from None
            if not source.is_file():  # one failure per missing input, whatever its clips
                failures.append(Failure(spec.number, output.name if len(clips) == 1
                                        else source.name,
                                        f"{spec.where}: input {source}: no such file"))
                break
            single = {**common, "input": str(source), "output": str(output),
                      **{k: v for k, v in (("profile", spec.profile or vars.get("profile")),
                                           ("config", spec.config or vars.get("config")))
                         if v}}
            if clip:
                single.update({k: v for k, v in (("start", clip.start), ("end", clip.end),
                                                 ("duration", clip.duration)) if v})
            try:
                job = from_vars(single, base, env, spec.settings, spec.where)
            except DraptoError as exc:
                message = str(exc)
                raise DraptoError(message if spec.where in message
                                  else f"{where}: {message}") from None
            assert job is not None
            tag = base_tag = slug_tag(output.name[:-len(OUTPUT_SUFFIX)])
            n = 1
            while tag in tags:
                n += 1
                tag = f"{base_tag}-{n}"
            tags.add(tag)
            jobs.append(dataclasses.replace(job, tag=tag))
    return Plan(name, distinct_work(jobs), failures)


def _job_output(spec: jobfile.JobSpec, clip: jobfile.Clip | None,
                rng: Clip | None, source: Path, default_dir: Path,
                taken: dict[Path, set[str]]) -> Path:
    """Where a job (or one of its clips) writes: the job's output, else a name made from
    its title (or the input's name and the clip's range) in its folder, unique there."""
    given = spec.output
    if given and not (given.endswith("/") or Path(given).is_dir()):
        if spec.clips:
            raise DraptoError(f"output {given}: a job with clips needs a folder (ending "
                              "in /)")
        return Path(given)
    folder = Path(given) if given else default_dir
    title = clip.name if clip else spec.title
    stem = title or source.stem + (_clip_name(rng) if rng else "")
    name = jobfile.safe_name(stem, taken.setdefault(folder, set()))
    return folder / f"{name}{OUTPUT_SUFFIX}"


def _clip_name(clip: Clip) -> str:
    """.1.5s-4.5s: a clip's output name says its range (a clip never replaces the film)."""
    end = "end" if clip.end_us is None else f"{clip.end_us / 1e6:g}s"
    return f".{clip.start_us / 1e6:g}s-{end}"


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

