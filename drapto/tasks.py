"""drapto as doit tasks: `doit encode input=movie.mkv` builds every artifact of one input.

This is the dodo file: the repository's dodo.py imports it, and the `drapto` command runs
doit on it. Variables: input= output= work= profile= config= and any setting of
profiles/default.yaml.
"""

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from doit import create_after, doit_cmd, get_initial_workdir

from drapto import cluster, pipeline, runtime
from drapto.errors import DraptoError
from drapto.job import (
    READ_ONLY_COMMANDS,
    Failure,
    Job,
    Plan,
    doit_command,
    jobs_from_file,
    jobs_from_vars,
    requested_workers,
    svt_threads,
    work_root,
)
from drapto.pipeline import Task
from drapto.settings import documented

VARS = dict(doit_cmd._CMDLINE_VARS or {})
# `doit report jobs=FILE`: the statistics of a job file's encodes; nothing is encoded.
STATS_ONLY = "report" in sys.argv[1:] and "encode" not in sys.argv[1:]
PLAN: Plan | None = None
FAILED: list[Failure] = []
try:
    COMMAND = doit_command(sys.argv)
    if VARS.get("jobs"):
        PLAN = jobs_from_file(VARS, Path(get_initial_workdir()))
        JOBS, FAILED = ([], []) if STATS_ONLY else (PLAN.jobs, PLAN.failures)
    else:
        JOBS = jobs_from_vars(VARS, Path(get_initial_workdir()))
    if COMMAND == "run" and not STATS_ONLY and not JOBS and PLAN is None:
        raise DraptoError("nothing to encode: give input=FILE (a video, or a folder of "
                          "them) or jobs=FILE, e.g. doit encode input=movie.mkv")
    if COMMAND == "run" and not STATS_ONLY:  # never replace a file drapto did not write
        OWNERS = {j.output: pipeline.output_owner(j) for j in JOBS}
        FOREIGN = [j for j in JOBS if OWNERS[j.output] == "foreign"]
        if FOREIGN and VARS.get("overwrite", "no").lower() not in ("yes", "true", "1"):
            more = f" (and {len(FOREIGN) - 1} more)" if len(FOREIGN) > 1 else ""
            raise DraptoError(f"{FOREIGN[0].output} exists and drapto did not write it for "
                              f"{FOREIGN[0].source}: not replacing it{more}; overwrite=yes "
                              "replaces it")
    if len(JOBS) > 1 or any(j.tag for j in JOBS):  # a batch: finished files are skipped
        SKIPPED = [j for j in JOBS if pipeline.output_is_done(j)]
        JOBS = [j for j in JOBS if j not in SKIPPED]
        for j in SKIPPED:
            print(f"drapto: skipped {j.source}: drapto made {j.output} from it already")
        if not JOBS and not FAILED:
            raise SystemExit(0)
    if COMMAND not in READ_ONLY_COMMANDS:
        LOCKS = [runtime.start(j) for j in JOBS]
        for executor in sorted({j.settings.executor for j in JOBS} - {"local"}):
            cluster.client(executor)  # reachable, with workers like this machine, or refused
except DraptoError as exc:
    runtime.fail(exc)
JOB = JOBS[0] if JOBS else None

WORKERS = pipeline.default_workers(JOB)
if JOB is not None and JOB.settings.executor != "local" and COMMAND not in READ_ONLY_COMMANDS:
    WORKERS = max(WORKERS, cluster.slots(JOB.settings.executor))  # one waits on each encode
THREADS = svt_threads(requested_workers(sys.argv) or WORKERS)
if JOB is not None:
    logging.getLogger("drapto").info("workers: %s (default %d), SVT-AV1 lp=%d",
                                     requested_workers(sys.argv) or WORKERS, WORKERS, THREADS)

DOIT_CONFIG = {
    "default_tasks": ["encode"],
    # doit's own record of finished tasks is never used to decide what is done (see
    # drapto/workdir.py): kept in memory, it is not written anywhere.
    "backend": "sqlite3",
    "dep_file": ":memory:",
    "num_process": WORKERS,
    "par_type": "thread",
    "reporter": runtime.Reporter,
    # A failed segment (or file of a batch) does not stop the others: everything that does
    # not depend on it is still done, so a rerun has only that one left to do.
    "continue": True,
}


DOCS = {
    "encode": "Encode input= to an AV1 + Opus MKV: the whole pipeline (encode:N is one segment).\n"
              "Variables: input=FILE (required), output=FILE.mkv or DIR/ (default: "
              "<input name>.av1.mkv here), work=DIR (default: ./drapto-work), "
              "profile=NAME (default: default), config=FILE.yaml, and any setting of "
              "profiles/default.yaml as key=value.",
    "probe": "probe.json: streams, tracks, colour and chapters of the input (MediaInfo).",
    "crop": "crop.json: letterbox/pillarbox crop (FFmpeg cropdetect on samples), or none.",
    "scenes": "scenes.json: scene cuts (FFmpeg scdet) and segment boundaries as frame numbers.",
    "segment": "segment:N: the frame range of segment N.",
    "calibrate": "calibration.json: where the quality search of the film's segments starts, "
                 "from the segments searched first.",
    "audio": "audio:N: Opus encode of the input's audio track N.",
    "concat": "video.mkv: the encoded segments joined.",
    "mux": "The output MKV: video, audio, subtitles, chapters, attachments, tags.",
    "validate": "validation.json: the output checked against the source.",
    "report": "report.json: figures per segment and overall; without input=, the statistics "
              "of every encode under work=; with jobs=FILE, of that job file's encodes.",
    "job": "job:N: a job of a job file that cannot run (its input is missing).",
    "tidy": "tidy: the work folder's bulky intermediates removed after a finished encode "
            "(keep_work=yes keeps them).",
}
LATE_TASKS = ["encode", "segment", "calibrate", "audio", "concat", "mux", "validate", "tidy",
              "report"]


def _early(name: str, creator: Callable[[Job], Task]) -> Callable[[], Iterator[Task]]:
    """The creator of a task that exists before scene detection (one per input file)."""
    def create() -> Iterator[Task]:
        if JOB is None:  # doit list / doit help without input=
            yield {"basename": name, "actions": None, "doc": DOCS[name]}
        for job in JOBS:
            yield creator(job)
    create.__doc__ = DOCS[name]
    return create


task_probe = _early("probe", pipeline.task_probe)
task_crop = _early("crop", pipeline.task_crop)
task_scenes = _early("scenes", pipeline.task_scenes)


RUN_VARIABLES = {
    "input": "the video file, or a folder of them (a batch)",
    "output": "the output .mkv, or a folder (ending in /)",
    "work": "root of the work folders (./drapto-work)",
    "profile": "a profile of profiles/ or a .yaml file (default)",
    "config": "a YAML file of settings over the profile",
    "start": "a clip's start (90, 1:30, 1h30m)", "end": "a clip's end",
    "duration": "a clip's length", "jobs": "a job file (YAML/JSON, - for standard input)",
    "api": "what jobs= is: jobs, ytdlp, generic, auto", "chapters": "with api=ytdlp",
    "overwrite": "yes: replace a file drapto did not write for this input",
}


def _variables_help() -> list[dict[str, object]]:
    """`doit help encode`: every variable and setting, written key=value after the task."""
    params: list[dict[str, object]] = [
        {"name": k, "long": k, "default": None, "help": f"{k}=VALUE: {text}"}
        for k, text in RUN_VARIABLES.items()]
    params += [{"name": k, "long": k, "default": None,
                "help": f"{k}=VALUE: {text} (default: {default})"}
               for k, (text, default) in documented().items()]
    for p in params:  # doit formats the help with %
        p["help"] = str(p["help"]).replace("%", "%%")
    return params


def task_job() -> Iterator[Task]:
    """A job of a job file whose input is missing fails alone (job:N), the others run."""
    yield {"basename": "job", "name": None, "doc": DOCS["job"]}
    for failure in FAILED:
        yield pipeline.task_failure(failure)


def _late_tasks() -> Iterator[Task]:
    """Tasks after scene detection: they exist only once scenes.json does. One creator makes
    them all, since doit resolves a task_dep on a subtask (segment:0003) only among tasks
    already loaded."""
    failed = [f"job:{f.number}" for f in FAILED]
    if JOB is None:  # doit list / doit help / doit report without input=; failed jobs only
        yield {"basename": "encode", "actions": None, "doc": DOCS["encode"],
               "task_dep": failed, "params": _variables_help()}
        for name in LATE_TASKS[1:-1]:
            yield {"basename": name, "actions": None, "doc": DOCS[name]}
        if PLAN is not None:
            yield pipeline.task_plan_stats(PLAN, DOCS["report"])
        else:
            yield pipeline.task_stats(work_root(VARS, Path(get_initial_workdir())),
                                      DOCS["report"])
        return
    yield {"basename": "encode", "name": None, "doc": DOCS["encode"],
           "task_dep": [*(pipeline.tagged(job, "tidy") for job in JOBS), *failed]}
    for job in JOBS:
        yield from pipeline.tasks_segment(job)
        yield from pipeline.tasks_encode(job, THREADS)
        yield from pipeline.tasks_audio(job)
        yield from pipeline.tasks_concat(job)
        yield from pipeline.tasks_mux(job)
        yield from pipeline.tasks_validate(job)
        yield from pipeline.tasks_report(job)
        yield from pipeline.tasks_tidy(job)


# What `doit info encode` shows of the tasks made after scene detection.
_late_tasks.__doc__ = DOCS["encode"]
task_encode = _late_tasks if JOB is None else create_after(
    executed="scenes", creates=LATE_TASKS)(_late_tasks)
