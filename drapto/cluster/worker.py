"""The worker side of ``executor=dask://``: one segment's encode in a child process.

:func:`encode_task` runs in a Dask worker: it starts ``python -m drapto.cluster.worker`` with the
encode's arguments and waits for it. The child runs the same ``run_encode`` as a local run
(atomic writes, the record beside the target), under a watchdog: when the worker that
started it dies, or the run that asked for it is replaced by a newer one (the work folder's
lock holds another lease), the child kills its FFmpeg and exits without writing, so a
killed client or worker leaves nothing writing into the work folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.files import LEASE_ENV, lease_holds
from drapto.media import proc
from drapto.media.memory import svt_threads

WATCH_S = 0.5


def encode_task(payload: str, lease_path: str, lease: str) -> None:
    """Run one encode (``run_encode``'s arguments as JSON) in a child process on this
    worker; raise DraptoError with its message if it failed."""
    try:
        from distributed import get_worker

        slots = get_worker().state.nthreads
    except (ImportError, ValueError):
        slots = 1
    job = {**json.loads(payload), "threads": svt_threads(slots)}
    env = {**os.environ, LEASE_ENV: json.dumps([lease_path, lease]),
           WORKER_ENV: str(os.getpid())}
    child = subprocess.Popen([sys.executable, "-m", "drapto.cluster.worker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, start_new_session=True)
    out, err = child.communicate(json.dumps(job))
    lines = out.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if child.returncode != 0 or not result.get("ok"):
        raise DraptoError(result.get("error") or f"the encode on the worker exited with "
                          f"status {child.returncode}: {err.strip()[-500:]}")


# Names the worker process that started the child: once it is not the child's parent any
# more (it died, the child was adopted), the child stops.
WORKER_ENV = "DRAPTO_WORKER_PID"


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent or not lease_holds():
            proc.stop_children(signal.SIGKILL, grace=0.0)
            os._exit(3)
        time.sleep(WATCH_S)


def main() -> int:
    # Watched from the first moment: the worker may die while this child still imports.
    parent = int(os.environ.get(WORKER_ENV) or os.getppid())
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    from drapto.media.records import Segment
    from drapto.quality.policy import Video
    from drapto.quality.search import start_of
    from drapto.quality.segment_run import run_encode

    job: dict[str, Any] = json.loads(sys.stdin.read())
    paths = ("source", "crop", "target")
    kwargs: dict[str, Any] = {k: Path(v) if k in paths and v is not None else v
                              for k, v in job.items()}
    kwargs["memory_estimates"] = {int(k): v for k, v in kwargs["memory_estimates"].items()}
    kwargs["video"] = Video.from_json(kwargs["video"])
    kwargs["segment"] = Segment.from_json(kwargs["segment"])
    kwargs["start"] = start_of(kwargs["start"])
    try:
        run_encode(**kwargs)
    except DraptoError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
