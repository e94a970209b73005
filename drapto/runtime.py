"""What a doit run of drapto sets up once: logging, the lock, signals, the reporter."""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from doit.exceptions import TaskFailed, UnmetDependency
from doit.reporter import ExecutedOnlyReporter

from . import outputs, proc, progress, stages
from .errors import DraptoError
from .job import Job
from .records import Scenes, SegmentRecord
from .stages.report import summary_lines, warning_lines
from .workdir import Lock, read_json, write_json

# Single segment tasks asked for on the command line (doit encode:0003 input=…).
ASKED = [a for a in sys.argv[1:] if re.fullmatch(r"(encode|sample|segment|adjust):\d{4}", a)]
# How the run was typed: "doit" (doit encode input=… key=value) or "drapto" (drapto encode
# FILE -o … --key value); the lines a user reads name settings the way they were typed.
SPOKEN = "doit"
_RUN_WORDS = {"doit encode input=": "drapto encode ", "overwrite=yes": "--overwrite",
              "input=FILE": "INPUT", "input=": "", "output=": "-o ",
              "work=": "-w ", "profile=": "--profile ", "config=": "--config ",
              "jobs=": "drapto jobs ", "start=": "--start ", "end=": "--end ",
              "duration=": "--duration "}


@functools.cache
def _setting_words() -> re.Pattern[str]:
    """``key=`` of every setting (the longest names first)."""
    from .settings import documented

    names = "|".join(sorted(documented(), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({names})=(?=\S)")


def spoken(text: str) -> str:
    """*text* in the syntax of the command that was typed: unchanged for doit; for the
    ``drapto`` command, ``key=value`` as ``--key value`` (``output=`` as ``-o``)."""
    if SPOKEN != "drapto":
        return text
    text = _setting_words().sub(lambda m: f"--{m.group(1).replace('_', '-')} ", text)
    for words, option in _RUN_WORDS.items():
        text = re.sub(rf"(?<![\w-]){re.escape(words)}", option, text)
    return text


def fail(exc: DraptoError) -> NoReturn:
    """Stop before any task runs: one line on stderr, exit status 2."""
    sys.stderr.write(spoken(f"drapto: {exc}\n"))
    raise SystemExit(2)


class _LogFile(logging.FileHandler):
    """The run's log file: best effort (a full disk must not add tracebacks to the run)."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    proc.stop_children(signal.SIGTERM)
    atexit.register(proc.kill_leftover_children)
    raise KeyboardInterrupt(f"signal {signum}")


def _excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("drapto: interrupted; finished targets are kept, run the same "
                         "command again to resume\n")
        return
    sys.__excepthook__(kind, value, tb)


_jobs: dict[str | None, Job] = {}
# The exit status of a run of one file that was not encoded by policy (over_cap=skip): not a
# failure, but no output either, so that `drapto encode x && rm x` cannot lose a film. In a
# batch, a skipped file is one of its outcomes, and the batch's status is 0.
SKIPPED_STATUS = 3
# Whether this run is a batch (a folder or a job file), set up once (drapto/setup.py).
batch = False
# Whether this run asks for each job whole (doit encode), so that a finished job's state is
# recorded for the next no-op (drapto/outputs.py: finished).
whole = False


class _About(logging.Filter):
    """In a batch, a file's log gets the lines that name it."""

    def __init__(self, source: Path):
        super().__init__()
        self.source = str(source)

    def filter(self, record: logging.LogRecord) -> bool:
        return self.source in record.getMessage()


def start(job: Job) -> Lock:
    """Lock the work directory, clean a killed run's leftovers, log, handle SIGTERM."""
    lock = Lock(job.work.lock_file, str(job.source))
    lock.acquire()
    _jobs[job.tag] = job
    job.work.clean_leftovers()
    for stale in job.output.parent.glob(f".{job.output.stem}.*.tmp.mkv"):
        stale.unlink(missing_ok=True)
    handler = _LogFile(job.work.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
    if job.tag:
        handler.addFilter(_About(job.source))
    logger = logging.getLogger("drapto")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.excepthook = _excepthook
    return lock


class Reporter(ExecutedOnlyReporter):
    """Prints executed tasks only; an expected failure is one line, without traceback; at
    the end, the summary of the encode (from report.json) with the time of each stage."""

    desc = "drapto: executed tasks only, failures as one line, a summary"

    def __init__(self, outstream: Any, options: Any) -> None:
        super().__init__(outstream, options)
        self._spans: dict[str, list[float]] = {}
        self._started = time.monotonic()
        self._display: progress.Display | None = None
        self._unmet = self._segment_failed = self._failed = False
        self._reported = 0
        self._ran = False
        self._job_started: dict[str | None, float] = {}
        self._file_failures: dict[str, str] = {}  # in a batch: each failed file's first word
        self._skipped: list[str] = []  # segments found done, not counted yet

    def write(self, text: str) -> None:
        text = spoken(text)
        if self._display:
            with self._display.write_lock:  # no redraw between taking the line and the text
                self._display.clear_locked()
                super().write(text)
        else:
            super().write(text)

    def execute_task(self, task: Any) -> None:
        self._count_skipped()
        if _jobs and self._display is None:
            self._display = progress.Display(self.outstream)
            self._display.start()
        super().execute_task(task)
        self._ran |= bool(task.actions)
        job = self._job_of(task.name) if task.actions else None
        if job is not None:
            self._job_started.setdefault(job.tag, time.monotonic())
        if task.actions:
            stage = task.name.split(":")[0]
            progress.TRACKER.stage = stage
            if stage not in ("sample", "encode", "adjust"):
                progress.TRACKER.again("")  # the encodes are over: no more "again"
            if stage in ("sample", "encode"):
                self._plan()
            span = self._spans.setdefault(stage, [time.monotonic(), 0.0])
            span[1] = time.monotonic()

    def _plan(self) -> None:
        if _jobs and not progress.TRACKER.total_segments:
            with contextlib.suppress(OSError, ValueError, KeyError):
                scenes = [Scenes.read(j.work.scenes) for j in _jobs.values()]
                progress.TRACKER.plan(sum(s.frames for s in scenes),
                                      sum(len(s.segments) for s in scenes))

    def _segment_done(self, task: Any, encoded_now: bool) -> None:
        # A segment counts once: its encode, or its calibration sample (the film's encode of
        # that segment unless the target was lowered).
        if not _jobs or not task.name.startswith(("encode:", "sample:", "calibration:")):
            return
        if not encoded_now:  # counted when a task runs: a no-op reads no record
            self._skipped.append(str(task.meta["target"]))
            return
        self._count(str(task.meta["target"]), encoded_now)
        if self._display:
            self._display.segment_done()

    def _count(self, target: str, encoded_now: bool) -> None:
        self._plan()
        with contextlib.suppress(OSError, ValueError, KeyError, IndexError, TypeError):
            record = SegmentRecord.read(Path(target).with_suffix(".json"))
            progress.TRACKER.finish(target, record.frames, record.bytes, encoded_now)

    def _count_skipped(self) -> None:
        """The segments found done so far, into the progress line's counts."""
        for target in self._skipped:
            self._count(target, False)
        self._skipped.clear()

    def skip_uptodate(self, task: Any) -> None:
        self._segment_done(task, encoded_now=False)

    def _record_run(self, job: Job) -> None:
        """This run's wall time for *job* (from its first task run to its report), and the
        settings its output was made with (a batch encodes it again when they change)."""
        started = self._job_started.get(job.tag, self._started)
        with contextlib.suppress(OSError, ValueError):
            outputs.record_settings(job)
            runs = read_json(job.work.runs) if job.work.runs.exists() else []
            # Stage spans are the run's (in a batch they span files).
            stages = {k: round(b - a, 1) for k, (a, b) in self._spans.items()}
            write_json(job.work.runs, [*runs, {"wall_seconds": round(
                time.monotonic() - started, 1), "stages": stages}])

    def complete_run(self) -> None:
        if self._display:
            self._display.stop.set()
            self._display.clear()
        if len(_jobs) > 1 or batch:
            self._batch_summary()
        if self._unmet and self._segment_failed:
            self.write("drapto: the other segments were encoded and are kept, the output "
                       "was not written: a rerun does only what is left\n")
        skipped = [job for job in _jobs.values() if stages.skipped(job)]
        for job in skipped:
            decision = stages.size.decision(job)
            assert decision is not None
            self.write(f"drapto: {stages.size.skip_line(job, decision)}\n")
        missing = self._missing_segments()
        for line in missing:
            self.write(f"drapto: {line}\n")
        if missing:
            self._failed = True
        elif not (self._ran or self._failed or self.runtime_errors or self.failures):
            done = [job for job in _jobs.values() if job not in skipped]
            for job in done:  # a rerun that had nothing to do says so
                # Asked for single tasks (encode:0003), it is those that are up to date.
                self.write(f"drapto: up to date: {', '.join(ASKED) or job.output}\n")
            if len(done) > 1:
                self.write(f"drapto: batch: {len(done)} of {len(_jobs)} files up to date\n")
        if whole and not (missing or self._failed or self.runtime_errors or self.failures):
            for job in _jobs.values():
                if job not in skipped and outputs.is_done(job):
                    outputs.record_finished(job)
        for job in _jobs.values():
            # Refused before anything was made (not a video, say), or a clip refused by its
            # range (past the end): nothing of it is kept.
            if not job.work.probe.exists() or (job.clip and job.work.failure.exists()
                                               and not job.work.scenes.exists()):
                shutil.rmtree(job.work.path, ignore_errors=True)
        super().complete_run()
        if missing:
            raise SystemExit(2)
        if skipped and not batch and not (self._failed or self.runtime_errors):
            raise SystemExit(SKIPPED_STATUS)

    @staticmethod
    def _missing_segments() -> list[str]:
        """Segment tasks asked for by number (encode:0003) that the film does not have."""
        job = next(iter(_jobs.values()), None)
        if job is None or len(_jobs) > 1 or not ASKED:
            return []
        try:
            count = len(Scenes.read(job.work.scenes).segments)
        except (OSError, ValueError, KeyError):
            return []
        return [f"{name}: no such segment; {job.source} has {count} segment"
                f"{'s' if count > 1 else ''} ({name.split(':')[0]}:0000 to "
                f"{name.split(':')[0]}:{count - 1:04d})"
                for name in ASKED if int(name.split(":")[1]) >= count]

    def _batch_summary(self) -> None:
        reports = []
        for job in _jobs.values():
            with contextlib.suppress(OSError, ValueError):
                reports.append(read_json(job.work.report))
        skipped = sum(1 for job in _jobs.values() if stages.skipped(job))
        if skipped:
            self.write(f"drapto: batch: {skipped} of {len(_jobs)} files skipped "
                       "(over the size cap)\n")
        if reports:
            self._batch_sizes(reports)
        if self._file_failures:
            missing = sum(1 for k in self._file_failures if k.startswith("job:"))
            self.write(f"drapto: batch: {len(self._file_failures)} of "
                       f"{len(_jobs) + missing} files failed:\n")
            for _, line in sorted(self._file_failures.items()):
                self.write(f"drapto:   {line}\n")

    def _batch_sizes(self, reports: list[dict[str, Any]]) -> None:
        size_in = sum(r["size_in"] for r in reports)
        size_out = sum(r["size_out"] for r in reports)
        self.write(f"drapto: batch: {len(reports)} of {len(_jobs)} files encoded, "
                   f"{size_in / 2**20:,.1f} MiB -> {size_out / 2**20:,.1f} MiB "
                   f"({100 * (1 - size_out / size_in):.1f} % smaller)\n")
        spans = {k: b - a for k, (a, b) in self._spans.items() if b - a >= 0.05}
        self.write("drapto:   time: " + ", ".join(f"{k} {v:.1f} s" for k, v in spans.items())
                   + "\n")

    def add_failure(self, task: Any, fail_info: Any) -> None:
        self._failed = True
        if isinstance(fail_info, UnmetDependency):  # said once, at the end
            self._unmet = True
            return
        if isinstance(fail_info, TaskFailed) and not fail_info.traceback:
            self._segment_failed |= task.name.split(":")[0] == "encode"
            self.write(f"drapto: {fail_info.message}\n")
            self._record_failure(task.name, fail_info.message)
            job = self._job_of(task.name)
            key = str(job.source) if job else task.name
            if job is None or str(job.source) in fail_info.message:
                self._file_failures.setdefault(key, fail_info.message)
            else:
                self._file_failures.setdefault(key, f"{job.source}: {fail_info.message}")
            self.outstream.flush()
            return
        super().add_failure(task, fail_info)

    @staticmethod
    def _job_of(name: str) -> Job | None:
        """The file a task is part of (a batch's tasks carry its tag: ``encode:a:0003``)."""
        parts = name.split(":")
        return _jobs.get(parts[1] if len(parts) > 1 and parts[1] in _jobs else None)

    @classmethod
    def _record_failure(cls, name: str, message: str) -> None:
        """Why the file's run failed, for ``drapto report`` over a job file."""
        job = cls._job_of(name)
        if job is not None:
            with contextlib.suppress(OSError):
                write_json(job.work.failure, {"task": name, "message": message})

    def add_success(self, task: Any) -> None:
        super().add_success(task)
        self._segment_done(task, encoded_now=True)
        if task.actions and task.name.split(":")[0] in self._spans:
            self._spans[task.name.split(":")[0]][1] = time.monotonic()
        if task.name.split(":")[0] == "report" and task.targets:  # a file's last word
            for job in _jobs.values():
                if job.work.report == Path(task.targets[0]):
                    job.work.failure.unlink(missing_ok=True)
                    self._record_run(job)
            with contextlib.suppress(OSError, ValueError, KeyError):
                report = read_json(Path(task.targets[0]))
                stages = {k: b - a for k, (a, b) in self._spans.items() if k != "report"}
                stages["total"] = time.monotonic() - self._started
                lines = summary_lines(report, stages if len(_jobs) == 1 else {})
                self._reported += 1
                if self._display and self._reported >= len(_jobs):
                    self._display.stop.set()  # the last file's summary: no live line after it
                self.write("drapto: " + "\ndrapto: ".join(lines) + "\n")
                for warning in warning_lines(report):
                    self.write(f"drapto: warning: {warning}\n")
