"""What this run's tasks did, as the tasks themselves tell it (each action is wrapped by
:func:`drapto.graph.make_task`): which ran, which failed and why, when each stage ran, and
which files reached their report. The run's end (drapto/run/ending.py) and the reporter read it,
so what a run leaves behind does not depend on which reporter doit was given.

One ledger per process: doit runs one pipeline per process, and the tasks' actions are the
only ones to write it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from drapto.files import write_json


@dataclass
class Ledger:
    started: float = field(default_factory=time.monotonic)
    ran: bool = False                       # an action ran (not a no-op rerun)
    failures: dict[str, str] = field(default_factory=dict)   # task name: its one line
    errored: bool = False                   # an action raised what is not a refusal
    # Each stage (a task kind) by the time its first action started and its last ended.
    spans: dict[str, list[float]] = field(default_factory=dict)
    job_started: dict[str | None, float] = field(default_factory=dict)  # by a job's tag
    reported: list[str | None] = field(default_factory=list)  # jobs whose report was made
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, stage: str, tag: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            self.ran = True
            self.job_started.setdefault(tag, now)
            self.spans.setdefault(stage, [now, now])

    def end(self, stage: str, tag: str | None, failure: str | None = None,
            name: str = "", errored: bool = False, last: bool = False) -> None:
        """A stage's action ended: with *failure* (its one line), *errored* (a bug), or
        done; *last*: it was the job's report, its last word."""
        with self._lock:
            self.spans.setdefault(stage, [time.monotonic(), 0.0])[1] = time.monotonic()
            if failure is not None:
                self.failures[name] = failure
            self.errored |= errored
            if last and failure is None and not errored:
                self.reported.append(tag)

    def stage_seconds(self, without: str = "") -> dict[str, float]:
        with self._lock:
            return {k: b - a for k, (a, b) in self.spans.items() if k != without}

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.errored


LEDGER = Ledger()


@dataclass(frozen=True)
class Watch:
    """One task's entries in the ledger: its stage, its job's tag and name, and the file
    its failure is written to (failed.json: ``drapto report`` over a job file says why the
    file's run failed); *last*: the task is the job's report, its last word."""
    stage: str
    tag: str | None
    name: str
    failure_file: Path | None = None
    last: bool = False

    def begin(self) -> None:
        LEDGER.begin(self.stage, self.tag)

    def end(self, failure: str | None = None, errored: bool = False) -> None:
        LEDGER.end(self.stage, self.tag, failure, self.name, errored, self.last)
        if failure is not None and self.failure_file is not None:
            with contextlib.suppress(OSError):
                write_json(self.failure_file, {"task": self.name, "message": failure})
