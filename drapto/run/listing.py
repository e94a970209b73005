"""``doit list`` as a user reads it: the tasks a user runs first (encode, report), and the
internal ones (one per artifact) only when asked with ``--private``."""

from __future__ import annotations

import signal
from typing import Any

from doit import cmd_list

# The tasks a user runs; every other task makes one artifact of the pipeline.
PUBLIC = ("encode", "report")


class List(cmd_list.List):
    """doit's list, leading with PUBLIC; ``-p/--private`` (or naming tasks) lists every task."""

    def _execute(self, subtasks: bool = False, quiet: bool = True, status: bool = False,
                 private: bool = False, list_deps: bool = False, template: Any = None,
                 sort: str = "name", pos_args: Any = None) -> int:
        # A reader that goes away (doit list | head) ends the listing quietly, as it does
        # any Unix tool's.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if private or pos_args:
            return int(super()._execute(subtasks, quiet, status, True, list_deps, template,
                                        sort, pos_args))
        everything: list[Any] = self.task_list  # type: ignore[has-type]
        by_name = {t.name: t for t in everything}
        self.task_list = [*(by_name[n] for n in PUBLIC if n in by_name),
                          *(t for t in everything if t.subtask_of in PUBLIC)]
        try:
            super()._execute(subtasks, quiet, status, private, list_deps, template,
                             "definition", pos_args)
        finally:
            self.task_list = everything
        hidden = sum(1 for t in everything if not t.subtask_of and t.name not in PUBLIC)
        self.outstream.write(f"({hidden} internal tasks, one per artifact: doit list "
                             "--private)\n")
        return 0
