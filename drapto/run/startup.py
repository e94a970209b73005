"""What a run of drapto's dodo sets up once, before doit asks for any task: the jobs from
the command line's variables (or a job file), the refusal of an output drapto did not
write, the batch's finished files skipped, the work folders locked and the worker count.

doit's public API reads one variable by name (``doit.get_var``); a misspelt setting must be
refused, so the variables are read from the command line by doit's own rule: an argument
that does not start with ``-`` and holds ``=``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from drapto.cluster import client as cluster
from drapto.errors import DraptoError
from drapto.media import memory
from drapto.media.memory import svt_threads
from drapto.media.records import Probe
from drapto.run import ending, runtime
from drapto.settings import RUN_VARS, Settings
from drapto.work import outputs
from drapto.work.job import (
    READ_ONLY_COMMANDS,
    Failure,
    Job,
    Plan,
    doit_command,
    jobs_from_file,
    jobs_from_vars,
    requested_workers,
)
from drapto.work.workdir import Lock


def variables(argv: list[str]) -> dict[str, str]:
    """``name=value`` arguments of a doit command line (doit's rule: not an option, holds
    ``=``); a later one wins, as in doit. ``--name=value`` and ``--name value`` say the
    same for a variable or a setting: ``doit help encode`` lists them so."""
    known = {*RUN_VARS, *(f.name for f in dataclasses.fields(Settings))}
    found: dict[str, str] = {}
    args, i = argv[1:], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in known and not eq and i + 1 < len(args):
                i, value = i + 1, args[i + 1]
            if name in known:
                found[name] = value
        elif arg and arg[0] != "-" and "=" in arg:
            name, value = arg.split("=", 1)
            found[name] = value
        i += 1
    return found


def default_workers(job: Job | None) -> int:
    """Parallel tasks when ``-n`` is not given: as many encodes as fit the memory budget
    (estimated for the output height when the input was probed already), one per core."""
    if job is None:
        return 1
    try:
        height = int(Probe.read(job.work.probe).video.height)
    except (OSError, ValueError, KeyError, TypeError):  # not probed yet (or damaged)
        height = 1080
    s = job.settings
    return memory.worker_count(memory.estimate_mib(height, s.preset, s.memory_estimates),
                               memory.budget_mib(s.memory_budget))


@dataclass
class Setup:
    """One run: its variables, jobs (a batch's finished files left out), the failed jobs
    of a job file, the doit command, parallel tasks and SVT-AV1 threads per encode."""
    vars: dict[str, str]
    base: Path
    command: str = "run"
    jobs: list[Job] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    plan: Plan | None = None
    stats_only: bool = False
    workers: int = 1
    threads: int = 1
    locks: list[Lock] = field(default_factory=list)

    @property
    def job(self) -> Job | None:
        """The first job (the worker count and `doit list` look at it), if any."""
        return self.jobs[0] if self.jobs else None


def start(argv: list[str], base: Path) -> Setup:
    """Set the run up; a refusal is one line on stderr and exit status 2, nothing done."""
    try:
        return _start(argv, base)
    except DraptoError as exc:
        runtime.fail(exc)


def _start(argv: list[str], base: Path) -> Setup:
    run = Setup(variables(argv), base, doit_command(argv))
    # `doit report jobs=FILE`: the statistics of a job file's encodes; nothing is encoded.
    run.stats_only = "report" in argv[1:] and "encode" not in argv[1:]
    if run.vars.get("jobs"):
        run.plan = jobs_from_file(run.vars, base)
        if not run.stats_only:
            run.jobs, run.failed = run.plan.jobs, run.plan.failures
    else:
        run.jobs = jobs_from_vars(run.vars, base)
    encoding = run.command == "run" and not run.stats_only
    if encoding and not run.jobs and run.plan is None:
        raise DraptoError("nothing to encode: give input=FILE (a video, or a folder of "
                          "them) or jobs=FILE, e.g. doit encode input=movie.mkv")
    if encoding:
        refuse_foreign_outputs(run.jobs, run.vars.get("overwrite", "no"))
    end = ending.RUN_END
    end.batch = run.plan is not None or len(run.jobs) > 1 or any(j.tag for j in run.jobs)
    end.whole = encoding and whole_job(argv)
    end.asked = ending.asked_segments(argv)
    if end.whole and not end.batch and run.jobs and outputs.finished(run.jobs[0]):
        # Finished, and nothing it was made from changed: no task needs making.
        print(f"drapto: up to date: {run.jobs[0].output}")
        raise SystemExit(0)
    if len(run.jobs) > 1 or any(j.tag for j in run.jobs):  # a batch: finished files skipped
        skipped = [j for j in run.jobs if outputs.is_done(j)]
        again = [c for c in (outputs.changed_settings(j) for j in run.jobs
                             if j not in skipped) if c]
        run.jobs = [j for j in run.jobs if j not in skipped]
        for j in skipped:
            print(f"drapto: up to date: {j.output} (made from {j.source})")
        if again:
            changes = sorted({f"{k} {a} -> {b}" for c in again for k, (a, b) in c.items()})
            print(f"drapto: batch: {len(again)} of {len(run.jobs) + len(skipped)} files will "
                  f"be encoded again, made with other settings: {', '.join(changes)}")
        if not run.jobs and not run.failed:
            print(f"drapto: batch: {len(skipped)} of {len(skipped)} files up to date")
            raise SystemExit(0)
    if run.command not in READ_ONLY_COMMANDS:
        run.locks = [runtime.start(j) for j in run.jobs]
        for executor in sorted({j.settings.executor for j in run.jobs} - {"local"}):
            cluster.client(executor)  # reachable, with workers like this machine, or refused
    run.workers = default_workers(run.job)
    if (run.job is not None and run.job.settings.executor != "local"
            and run.command not in READ_ONLY_COMMANDS):
        run.workers = max(run.workers, cluster.slots(run.job.settings.executor))
    asked = requested_workers(argv)
    run.threads = svt_threads(asked or run.workers)
    if run.job is not None:
        logging.getLogger("drapto").info("workers: %s (default %d), SVT-AV1 lp=%d",
                                         asked or run.workers, run.workers, run.threads)
    end.arm()
    return run


def whole_job(argv: list[str]) -> bool:
    """Whether the command asks for each job whole (``doit encode``), not some of its tasks
    (``doit encode:0003``, ``doit mux``)."""
    return [a for a in argv[1:] if re.fullmatch(r"[a-z_]+(:\S+)?", a) and a != "run"] \
        == ["encode"]


def refuse_foreign_outputs(jobs: list[Job], overwrite: str) -> None:
    """Never replace a file drapto did not write for its input, unless overwrite=yes."""
    foreign = [j for j in jobs if outputs.owner(j) == "foreign"]
    if foreign and overwrite.lower() not in ("yes", "true", "1"):
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise DraptoError(f"{foreign[0].output} exists and drapto did not write it for "
                          f"{foreign[0].source}: not replacing it{more}; overwrite=yes "
                          "replaces it")

