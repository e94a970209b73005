"""drapto as doit tasks: `doit encode input=movie.mkv` builds every artifact of one input.

This is the dodo file: the repository's dodo.py imports it, and the `drapto` command runs
doit on it. Variables: input= output= work= profile= config= and any setting of
profiles/default.yaml. The pipeline's order is drapto/stages/__init__.py; each stage's
module there owns its artifact: its action, its task and its text.
"""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from doit import create_after, get_initial_workdir, task_params

from drapto import runtime, setup, stages
from drapto.graph import Task
from drapto.job import work_root
from drapto.settings import brief, documented

RUN = setup.start(sys.argv, Path(get_initial_workdir()))

DOIT_CONFIG = {
    "default_tasks": ["encode"],
    # doit's own record of finished tasks is never used to decide what is done (see
    # drapto/workdir.py): kept in memory, it is not written anywhere.
    "backend": "sqlite3",
    "dep_file": ":memory:",
    "num_process": RUN.workers,
    "par_type": "thread",
    "reporter": runtime.Reporter,
    # A failed segment (or file of a batch) does not stop the others: everything that does
    # not depend on it is still done, so a rerun has only that one left to do.
    "continue": True,
}

ENCODE_DOC = ("Encode input= to an AV1 + Opus MKV: the whole pipeline (encode:N is one "
              "segment).\nVariables: input=FILE (required), output=FILE.mkv or DIR/ (default: "
              "<input name>.av1.mkv here), work=DIR (default: ./drapto-work), "
              "profile=NAME (default: default), config=FILE.yaml, and any setting of "
              "profiles/default.yaml as key=value.")
JOB_DOC = "job:N: a job of a job file that cannot run (its input is missing)."


def _early(index: int, doc: str) -> Callable[[], Iterator[Task]]:
    """The creator of one of the early tasks, one per input file."""
    def create() -> Iterator[Task]:
        if RUN.job is None:  # doit list / doit help without input=
            yield {"basename": ("probe", "crop", "scenes")[index], "actions": None, "doc": doc}
        for job in RUN.jobs:
            yield stages.early(job)[index]
    create.__doc__ = doc
    return create


task_probe = _early(0, stages.probe.DOC)
task_crop = _early(1, stages.crop.DOC)
task_scenes = _early(2, stages.scenes.DOC)


def task_job() -> Iterator[Task]:
    """A job of a job file whose input is missing fails alone (job:N), the others run."""
    yield {"basename": "job", "name": None, "doc": JOB_DOC}
    for failure in RUN.failed:
        yield stages.report.task_failure(failure)


LATE_DOCS = {"sample": stages.encode.SAMPLE_DOC,
             "calibration": stages.encode.MORE_DOC,
             "calibrate": stages.encode.CALIBRATE_DOC, "size": stages.size.DOC,
             "audio": stages.audio.DOC, "hdr10plus": stages.hdr10plus.DOC,
             "balance": stages.balance.DOC,
             "adjust": stages.encode.ADJUST_DOC, "concat": stages.concat.DOC,
             "mux": stages.mux.DOC, "validate": stages.validate.DOC, "tidy": stages.tidy.DOC}
# The basenames each layer's creator makes (drapto/stages/__init__.py), and the task whose
# run it waits for: a layer is made from what the one before it decided.
LAYERS = ((("sample", "size"), "scenes"),
          (("calibration", "calibrate", "encode", "audio", "hdr10plus", "balance"), "size"),
          (("adjust", "concat", "mux", "validate", "report", "tidy"), "balance"))


def _layer(n: int) -> Callable[[], Iterator[Task]]:
    """The creator of layer *n*: one creator per layer makes the tasks of every input, since
    doit resolves a task_dep on a subtask (sample:0003) only among tasks already loaded."""
    def create(**_: Any) -> Iterator[Task]:  # the parameters were read at set-up
        failed = [f"job:{f.number}" for f in RUN.failed]
        if RUN.job is None:  # doit list / doit help / doit report without input=
            if n == 2:
                yield {"basename": "encode", "actions": None, "doc": ENCODE_DOC,
                       "task_dep": failed}
            for name in LAYERS[n - 1][0]:
                if name in LATE_DOCS:
                    yield {"basename": name, "actions": None, "doc": LATE_DOCS[name]}
            if n == 3:
                yield (stages.report.task_plan_stats(RUN.plan, stages.skipped)
                       if RUN.plan is not None
                       else stages.report.task_stats(work_root(RUN.vars, RUN.base)))
            return
        if n == 2:  # the whole job: every file's last step (a skipped file's is its size)
            yield {"basename": "encode", "name": None, "doc": ENCODE_DOC,
                   "task_dep": ["size", "tidy", *failed]}
        for job in RUN.jobs:
            yield from stages.layer(job, RUN.threads, n)
    create.__doc__ = ENCODE_DOC
    # `doit help encode` lists the variables and settings, and doit accepts them as options.
    return task_params(variables_help())(create) if n == 2 else create


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


def variables_help() -> list[dict[str, object]]:
    """`doit help encode`: every variable and setting, written key=value or --key=value
    after the task (both are read at set-up: drapto/setup.py, ``variables``)."""
    params: list[dict[str, object]] = [
        {"name": k, "long": k, "default": None, "help": f"{k}=VALUE: {text}"}
        for k, text in RUN_VARIABLES.items()]
    params += [{"name": k, "long": k, "default": None,
                "help": f"{brief(text, 60)} (default: {default})"}
               for k, (text, default) in documented().items()]
    for p in params:  # doit formats the help with %
        p["help"] = str(p["help"]).replace("%", "%%")
    return params


# What `doit info encode` shows of the tasks made after scene detection.
if RUN.job is None:
    task_plan, task_encode, task_finish = (_layer(n) for n in (1, 2, 3))
else:
    task_plan, task_encode, task_finish = (
        create_after(executed=after, creates=list(names))(_layer(n))
        for n, (names, after) in enumerate(LAYERS, 1))
