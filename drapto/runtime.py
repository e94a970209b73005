"""What a doit run of drapto sets up once: logging, the lock, signals, the reporter."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from doit.exceptions import TaskFailed
from doit.reporter import ExecutedOnlyReporter

from . import proc
from .errors import DraptoError
from .job import Job
from .workdir import Lock, read_json


def fail(exc: DraptoError) -> None:
    """Stop before any task runs: one line on stderr, exit status 2."""
    sys.stderr.write(f"drapto: {exc}\n")
    raise SystemExit(2)


class _LogFile(logging.FileHandler):
    """The run's log file: best effort (a full disk must not add tracebacks to the run)."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    proc.stop_children(signal.SIGTERM)
    raise KeyboardInterrupt(f"signal {signum}")


def _excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("drapto: interrupted; finished targets are kept, run the same "
                         "command again to resume\n")
        return
    sys.__excepthook__(kind, value, tb)


def start(job: Job) -> Lock:
    """Lock the work directory, clean a killed run's leftovers, log, handle SIGTERM."""
    lock = Lock(job.work.lock_file, str(job.source))
    lock.acquire()
    job.work.clean_leftovers()
    for stale in job.output.parent.glob(f".{job.output.stem}.*.tmp.mkv"):
        stale.unlink(missing_ok=True)
    handler = _LogFile(job.work.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
    logger = logging.getLogger("drapto")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.excepthook = _excepthook
    return lock


class Reporter(ExecutedOnlyReporter):
    """Prints executed tasks only; an expected failure is one line, without traceback."""

    desc = "drapto: executed tasks only, failures as one line"

    def add_failure(self, task: Any, fail_info: Any) -> None:
        if isinstance(fail_info, TaskFailed) and not fail_info.traceback:
            self.outstream.write(f"drapto: {fail_info.message}\n")
            self.outstream.flush()
            return
        super().add_failure(task, fail_info)

    def add_success(self, task: Any) -> None:
        super().add_success(task)
        if task.name == "validate":  # the run's last word: what was written, and warnings
            with contextlib.suppress(OSError, ValueError, KeyError):
                result = read_json(Path(task.targets[0]))
                self.outstream.write(f"drapto: {result['summary']}\n")
                for warning in result["warnings"]:
                    self.outstream.write(f"drapto: warning: {warning}\n")
