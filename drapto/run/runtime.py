"""What a doit run of drapto sets up once: logging, the lock, signals, the reporter."""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import re
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from doit.exceptions import TaskFailed, UnmetDependency
from doit.reporter import ExecutedOnlyReporter

from drapto import progress, stages
from drapto.errors import DraptoError
from drapto.media import proc
from drapto.media.records import Report, Scenes, SegmentRecord
from drapto.run.ending import RUN_END
from drapto.stages.report import summary_lines, warning_lines
from drapto.work.job import Job
from drapto.work.ledger import LEDGER
from drapto.work.workdir import Lock

_SEGMENT_KINDS = {k.name: k for k in stages.segment_kinds()}
_REPORT = stages.report.KIND.name
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
    from drapto.settings import documented

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
    RUN_END.add(job)
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
    the end, the summary of the encode (from report.json) with the time of each stage, and
    the run's last lines (drapto/run/ending.py does the end's work: any reporter leaves it)."""

    desc = "drapto: executed tasks only, failures as one line, a summary"

    def __init__(self, outstream: Any, options: Any) -> None:
        super().__init__(outstream, options)
        self._display: progress.Display | None = None
        self._unmet = self._segment_failed = self._failed = False
        self._reported = 0
        self._file_failures: dict[str, str] = {}  # in a batch: each failed file's first word
        self._skipped: list[str] = []  # segments found done, not counted yet

    @property
    def _jobs(self) -> dict[str | None, Job]:
        return RUN_END.jobs

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
        if self._jobs and self._display is None:
            self._display = progress.Display(self.outstream)
            self._display.start()
        super().execute_task(task)
        if task.actions:
            stage = task.name.split(":")[0]
            progress.TRACKER.stage = stage
            if stage not in _SEGMENT_KINDS:
                progress.TRACKER.again("")  # the encodes are over: no more "again"
            else:
                self._plan()

    def _plan(self) -> None:
        if self._jobs and not progress.TRACKER.total_segments:
            with contextlib.suppress(OSError, ValueError, KeyError):
                scenes = [Scenes.read(j.work.scenes) for j in self._jobs.values()]
                progress.TRACKER.plan(sum(s.frames for s in scenes),
                                      sum(len(s.segments) for s in scenes))

    def _segment_done(self, task: Any, encoded_now: bool) -> None:
        # A segment counts once: its encode, or its calibration sample (the film's encode of
        # that segment unless the target was lowered).
        base, sub, _ = task.name.partition(":")
        kind = _SEGMENT_KINDS.get(base) if sub else None
        if not self._jobs or kind is None or kind.per_segment == "again":
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

    def complete_run(self) -> None:
        if self._display:
            self._display.stop.set()
            self._display.clear()
        failed = bool(self._failed or self.runtime_errors or self.failures)
        ending = RUN_END.finish(failed)
        if len(self._jobs) > 1 or RUN_END.batch:
            self._batch_summary(len(ending.skipped))
        if self._unmet and self._segment_failed:
            self.write("drapto: the other segments were encoded and are kept, the output "
                       "was not written: a rerun does only what is left\n")
        for line in ending.lines:
            self.write(f"drapto: {line}\n")
        super().complete_run()
        if ending.status:
            raise SystemExit(ending.status)

    def _batch_summary(self, skipped: int) -> None:
        reports = []
        for job in self._jobs.values():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                reports.append(Report.read(job.work.report))
        if skipped:
            self.write(f"drapto: batch: {skipped} of {len(self._jobs)} files skipped "
                       "(over the size cap)\n")
        if reports:
            self._batch_sizes(reports)
        if self._file_failures:
            missing = sum(1 for k in self._file_failures if k.startswith("job:"))
            self.write(f"drapto: batch: {len(self._file_failures)} of "
                       f"{len(self._jobs) + missing} files failed:\n")
            for _, line in sorted(self._file_failures.items()):
                self.write(f"drapto:   {line}\n")

    def _batch_sizes(self, reports: list[Report]) -> None:
        size_in = sum(r.size_in for r in reports)
        size_out = sum(r.size_out for r in reports)
        self.write(f"drapto: batch: {len(reports)} of {len(self._jobs)} files encoded, "
                   f"{size_in / 2**20:,.1f} MiB -> {size_out / 2**20:,.1f} MiB "
                   f"({100 * (1 - size_out / size_in):.1f} % smaller)\n")
        spans = {k: v for k, v in LEDGER.stage_seconds().items() if v >= 0.05}
        self.write("drapto:   time: " + ", ".join(f"{k} {v:.1f} s" for k, v in spans.items())
                   + "\n")

    def add_failure(self, task: Any, fail_info: Any) -> None:
        if isinstance(fail_info, UnmetDependency):  # said once, at the end
            self._unmet = self._failed = True
            return
        if isinstance(fail_info, TaskFailed) and not fail_info.traceback:
            kind = _SEGMENT_KINDS.get(task.name.split(":")[0])
            self._segment_failed |= bool(kind and kind.per_segment == "first")
            self._failed = True
            self.write(f"drapto: {fail_info.message}\n")
            job = self._job_of(task.name)
            key = str(job.source) if job else task.name
            if job is None or str(job.source) in fail_info.message:
                self._file_failures.setdefault(key, fail_info.message)
            else:
                self._file_failures.setdefault(key, f"{job.source}: {fail_info.message}")
            self.outstream.flush()
            return
        self._failed = True
        super().add_failure(task, fail_info)

    def _job_of(self, name: str) -> Job | None:
        """The file a task is part of (a batch's tasks carry its tag: ``encode:a:0003``)."""
        parts = name.split(":")
        return self._jobs.get(parts[1] if len(parts) > 1 and parts[1] in self._jobs else None)

    def add_success(self, task: Any) -> None:
        super().add_success(task)
        self._segment_done(task, encoded_now=True)
        if task.name.split(":")[0] == _REPORT and task.targets:  # a file's last word
            with contextlib.suppress(OSError, ValueError, KeyError):
                report = Report.read(Path(task.targets[0]))
                spans = LEDGER.stage_seconds(without=_REPORT)
                spans["total"] = time.monotonic() - LEDGER.started
                lines = summary_lines(report, spans if len(self._jobs) == 1 else {})
                self._reported += 1
                if self._display and self._reported >= len(self._jobs):
                    self._display.stop.set()  # the last file's summary: no live line after it
                self.write("drapto: " + "\ndrapto: ".join(lines) + "\n")
                for warning in warning_lines(report):
                    self.write(f"drapto: warning: {warning}\n")
