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

from drapto import stages
from drapto.run import runtime
from drapto.run import startup as setup
from drapto.settings import brief, documented
from drapto.work.graph import Alone, Kind, Task
from drapto.work.job import work_root

RUN = setup.start(sys.argv, Path(get_initial_workdir()))
ENCODE = "encode"  # the whole job's task, and the command a user types

DOIT_CONFIG = {
    "default_tasks": [ENCODE],
    # doit's own record of finished tasks is never used to decide what is done (see
    # drapto/work/workdir.py): kept in memory, it is not written anywhere.
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


def _early(kind: Kind) -> Callable[[], Iterator[Task]]:
    """The creator of one of the early tasks, one per input file."""
    index = stages.kinds(0).index(kind)

    def create() -> Iterator[Task]:
        if RUN.job is None:  # doit list / doit help without input=
            yield {"basename": kind.name, "actions": None, "doc": kind.doc}
        for job in RUN.jobs:
            yield stages.early(job)[index]
    create.__doc__ = kind.doc
    return create


def task_job() -> Iterator[Task]:
    """A job of a job file whose input is missing fails alone (job:N), the others run."""
    yield {"basename": "job", "name": None, "doc": JOB_DOC}
    for failure in RUN.failed:
        yield stages.report.task_failure(failure)


# Each layer's creator, by the name doit knows it by (doit info encode); the middle one
# also makes the whole job's task, `encode`.
LAYER_NAMES = ("plan", ENCODE, "finish")
assert len(LAYER_NAMES) == stages.layers(), "a creator name for each layer of PIPELINE"


def _alone(kind: Kind) -> Task:
    """*kind*'s task in a run without input=."""
    if kind.alone is None:
        return {"basename": kind.name, "actions": None, "doc": kind.doc}
    return kind.alone(Alone(RUN.plan, work_root(RUN.vars, RUN.base), stages.skipped))


def _layer(n: int) -> Callable[[], Iterator[Task]]:
    """The creator of layer *n*: one creator per layer makes the tasks of every input, since
    doit resolves a task_dep on a subtask (sample:0003) only among tasks already loaded."""
    def create(**_: Any) -> Iterator[Task]:  # the parameters were read at set-up
        failed = [f"job:{f.number}" for f in RUN.failed]
        whole = whole_layer(n)
        if RUN.job is None:  # doit list / doit help / doit report without input=
            if whole:
                yield {"basename": ENCODE, "actions": None, "doc": ENCODE_DOC,
                       "task_dep": failed}
            for kind in stages.kinds(n):
                if kind.name != ENCODE:  # the whole job's task says what encode:N is
                    yield _alone(kind)
            return
        if whole:  # the whole job: every file's last step (a skipped file's is its size)
            yield {"basename": ENCODE, "name": None, "doc": ENCODE_DOC,
                   "task_dep": [stages.decider(1).name, stages.kinds(stages.layers())[-1].name,
                                *failed]}
        for job in RUN.jobs:
            yield from stages.layer(job, RUN.threads, n)
    create.__doc__ = ENCODE_DOC
    # `doit help encode` lists the variables and settings, and doit accepts them as options.
    return task_params(variables_help())(create) if whole_layer(n) else create


def whole_layer(n: int) -> bool:
    """Whether layer *n*'s creator is the one that makes the whole job's task."""
    return LAYER_NAMES[n - 1] == ENCODE


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
    after the task (both are read at set-up: drapto/run/startup.py, ``variables``)."""
    params: list[dict[str, object]] = [
        {"name": k, "long": k, "default": None, "help": f"{k}=VALUE: {text}"}
        for k, text in RUN_VARIABLES.items()]
    params += [{"name": k, "long": k, "default": None,
                "help": f"{brief(text, 60)} (default: {default})"}
               for k, (text, default) in documented().items()]
    for p in params:  # doit formats the help with %
        p["help"] = str(p["help"]).replace("%", "%%")
    return params


# doit's creators, one per early kind (task_probe, task_crop, task_scenes) and one per layer
# (task_plan, task_encode, task_finish), each made after the decision its layer waits for.
for _kind in stages.kinds(0):
    globals()[f"task_{_kind.name}"] = _early(_kind)
for _n, _name in enumerate(LAYER_NAMES, 1):
    globals()[f"task_{_name}"] = _layer(_n) if RUN.job is None else create_after(
        executed=stages.decider(_n - 1).name,
        creates=[k.name for k in stages.kinds(_n)])(_layer(_n))
