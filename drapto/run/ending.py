"""The end of a run, whatever reporter doit was given: each file's run recorded (runs.json,
the settings its output was made with), the finished state a no-op rerun compares with,
the work folders of inputs refused before anything was made removed, and the exit status.
Its facts come from the tasks (drapto/work/ledger.py), not from the reporter.

drapto's reporter calls :meth:`RunEnd.finish` and prints its lines; with any other reporter
it runs when the process exits, its lines on stderr.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field

from drapto import stages
from drapto.files import read_json, write_json
from drapto.media.records import Scenes
from drapto.work import outputs
from drapto.work.job import Job
from drapto.work.ledger import LEDGER

# The exit status of a run of one file that was not encoded by policy (over_cap=skip): not a
# failure, but no output either, so that `drapto encode x && rm x` cannot lose a film. In a
# batch, a skipped file is one of its outcomes, and the batch's status is 0.
SKIPPED_STATUS = 3


@dataclass
class Ending:
    lines: list[str]    # what the run says last, one line each (without "drapto: ")
    status: int         # 0: doit's own
    skipped: list[Job]  # files not encoded by their size decision


@dataclass
class RunEnd:
    """What the end of the run needs to know from its set-up (drapto/run/startup.py)."""
    jobs: dict[str | None, Job] = field(default_factory=dict)   # by tag
    batch: bool = False    # a folder or a job file
    whole: bool = False    # each job asked for whole (doit encode), not some of its tasks
    asked: list[str] = field(default_factory=list)   # segment tasks asked for by name
    ended: Ending | None = None

    def add(self, job: Job) -> None:
        self.jobs[job.tag] = job

    def arm(self) -> None:
        """The run is set up and doit is to run its tasks: from now on, the end's work is
        done when the process exits, if the reporter has not done it (a set-up that
        refused the run ends before, with nothing to do)."""
        if self.jobs:
            atexit.register(self._at_exit)

    def finish(self, failed: bool = False) -> Ending:
        """The end's work, once (*failed*: doit saw a failure the tasks did not tell)."""
        if self.ended is None:
            self.ended = self._finish(failed or LEDGER.failed)
        return self.ended

    def _finish(self, failed: bool) -> Ending:
        for tag in LEDGER.reported:
            if tag in self.jobs:
                self._record_run(self.jobs[tag])
        skipped = [job for job in self.jobs.values() if stages.skipped(job)]
        lines = [stages.size.skip_line(job, d) for job in skipped
                 if (d := stages.size.decision(job)) is not None]
        missing = self._missing_segments()
        lines += missing
        if not (missing or failed or LEDGER.ran):
            done = [job for job in self.jobs.values() if job not in skipped]
            # Asked for single tasks (encode:0003), it is those that are up to date.
            lines += [f"up to date: {', '.join(self.asked) or job.output}" for job in done]
            if len(done) > 1:
                lines.append(f"batch: {len(done)} of {len(self.jobs)} files up to date")
        if self.whole and not (missing or failed):
            for job in self.jobs.values():
                if job not in skipped and outputs.is_done(job):
                    outputs.record_finished(job)
        for job in self.jobs.values():
            # Refused before anything was made (not a video, say), or a clip refused by its
            # range (past the end): nothing of it is kept.
            if not job.work.probe.exists() or (job.clip and job.work.failure.exists()
                                               and not job.work.scenes.exists()):
                shutil.rmtree(job.work.path, ignore_errors=True)
        status = 2 if missing else SKIPPED_STATUS if (
            skipped and not self.batch and not failed) else 0
        return Ending(lines, status, skipped)

    def _record_run(self, job: Job) -> None:
        """This run's wall time for *job* (from its first task run to its report), and the
        settings its output was made with (a batch encodes it again when they change)."""
        job.work.failure.unlink(missing_ok=True)
        started = LEDGER.job_started.get(job.tag, LEDGER.started)
        with contextlib.suppress(OSError, ValueError):
            outputs.record_settings(job)
            runs = read_json(job.work.runs) if job.work.runs.exists() else []
            # Stage spans are the run's (in a batch they span files).
            spans = {k: round(v, 1) for k, v in LEDGER.stage_seconds().items()}
            write_json(job.work.runs, [*runs, {"wall_seconds": round(
                time.monotonic() - started, 1), "stages": spans}])

    def _missing_segments(self) -> list[str]:
        """Segment tasks asked for by number (encode:0003) that the film does not have."""
        job = next(iter(self.jobs.values()), None)
        if job is None or len(self.jobs) > 1 or not self.asked:
            return []
        try:
            count = len(Scenes.read(job.work.scenes).segments)
        except (OSError, ValueError, KeyError):
            return []
        return [f"{name}: no such segment; {job.source} has {count} segment"
                f"{'s' if count > 1 else ''} ({name.split(':')[0]}:0000 to "
                f"{name.split(':')[0]}:{count - 1:04d})"
                for name in self.asked if int(name.split(":")[1]) >= count]

    def _at_exit(self) -> None:
        """Under a reporter that did not end the run: its work now, its lines on stderr, and
        its status when doit's own says nothing went wrong."""
        if self.ended is not None:
            return
        ending = self.finish()
        for line in ending.lines:
            sys.stderr.write(f"drapto: {line}\n")
        if ending.status and not LEDGER.failed:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(ending.status)


def asked_segments(argv: list[str]) -> list[str]:
    """The single segment tasks a command line asks for (doit encode:0003 input=…)."""
    names = "|".join(k.name for k in stages.segment_kinds())
    return [a for a in argv[1:] if re.fullmatch(rf"({names}):\d{{4}}", a)]


RUN_END = RunEnd()
