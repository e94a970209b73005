"""Segment encodes on a Dask cluster (``executor=dask://HOST:PORT``).

doit still plans and records locally: each ``encode:N`` action sends its encode (with its
probes, final encodes and verification) to the cluster, waits for it, and the local process
writes the stamp, so resume and no-op work as in a local run. The input and the work folder
must be at the same path on every host (shared storage). Each worker advertises its memory
as a Dask resource (``dask worker --resources MEMORY=<MiB>``) and each encode asks for its
estimate. Workers must run the same drapto and FFmpeg as this machine (the bytes depend on
them): they are checked once per run, and a mismatch is refused with one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from drapto import PIPELINE_VERSION, __version__
from drapto.errors import DraptoError
from drapto.media import memory, proc
from drapto.media.records import Crop

log = logging.getLogger("drapto")
RESOURCE = "MEMORY"
# How often a waiting encode looks whether the run is being stopped (seconds).
POLL_S = 0.5
# Re-runs of an encode that raised on a worker (a worker that died is handled by the
# scheduler: its tasks run again elsewhere, up to its allowed-failures, then KilledWorker).
RETRIES = 1
# Times an encode the cluster cancelled on its own is sent again.
RESUBMITS = 2
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def scheduler_address(executor: str) -> str:
    """``dask://HOST:PORT`` as Dask's ``tcp://HOST:PORT``; ``dask+tls://`` as ``tls://``."""
    for scheme, dask_scheme in (("dask+tls://", "tls://"), ("dask://", "tcp://")):
        if executor.startswith(scheme):
            return dask_scheme + executor[len(scheme):]
    raise DraptoError(f"executor={executor}: expected local or dask://HOST:PORT")


def identity() -> dict[str, str]:
    """What the bytes depend on besides the input and the settings: drapto's version and
    FFmpeg's build (its -version text names the version and every configure option)."""
    text = proc.version_text()
    return {"drapto": f"{__version__} (pipeline {PIPELINE_VERSION})",
            "ffmpeg": text.splitlines()[0] if text else "?",
            "ffmpeg_build": hashlib.sha256(text.encode()).hexdigest()[:16]}


def client(executor: str) -> Any:
    """The run's Dask client for *executor*, connected and checked once."""
    with _lock:
        if executor in _clients:
            return _clients[executor]
        try:
            from distributed import Client
        except ImportError:
            raise DraptoError(f"executor={executor}: Dask is not installed here: "
                              "pip install -e '.[dask]'") from None
        address = scheduler_address(executor)
        try:
            c = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DraptoError(f"executor={executor}: no Dask scheduler answers at {address} "
                              f"({exc})") from None
        try:
            check_workers(executor, c)
        except DraptoError:
            c.close()
            raise
        _clients[executor] = c
        return c


def check_workers(executor: str, c: Any) -> None:
    """Refuse a cluster without workers, without the memory resource, or whose workers run
    another drapto or FFmpeg than this machine."""
    workers = c.scheduler_info()["workers"]
    if not workers:
        raise DraptoError(f"executor={executor}: the scheduler has no workers")
    bare = [w for w, info in workers.items() if RESOURCE not in (info.get("resources") or {})]
    if bare:
        raise DraptoError(f"executor={executor}: worker {bare[0]} advertises no memory: "
                          f"start it with --resources {RESOURCE}=<MiB>")
    ours = identity()
    for worker, theirs in sorted(c.run(identity).items()):
        for what in ("drapto", "ffmpeg_build"):
            if theirs.get(what) != ours[what]:
                name = "drapto" if what == "drapto" else "FFmpeg"
                mine = ours["drapto" if what == "drapto" else "ffmpeg"]
                other = theirs.get("drapto" if what == "drapto" else "ffmpeg")
                raise DraptoError(f"executor={executor}: worker {worker} runs another "
                                  f"{name} ({other}) than this machine ({mine}); the bytes "
                                  "would differ")


def slots(executor: str) -> int:
    """How many encodes the cluster runs at once: its workers' threads."""
    workers = client(executor).scheduler_info()["workers"].values()
    return sum(int(w.get("nthreads") or 1) for w in workers)


def lease_of(work: Path) -> str:
    """The current run's claim on a work folder (the lock file's content): an encode sent
    to the cluster by a run that has since been replaced stops and writes nothing."""
    return (work / "lock").read_text(encoding="utf-8")


def run_encode_remote(executor: str, name: str, kwargs: dict[str, Any]) -> None:
    """``run_encode(**kwargs)`` on the cluster; returns when its target and record are in
    the work folder, or raises DraptoError."""
    from drapto.cluster.worker import encode_task

    height = Crop.read(kwargs["crop"]).height_out
    need = memory.estimate_mib(height, kwargs["video"].preset, kwargs["memory_estimates"])
    target = Path(kwargs["target"])
    work = target.parent.parent
    payload = json.dumps({k: str(v) if isinstance(v, Path) else
                          v.to_json() if k in ("video", "segment") else
                          v.key_fields() if k == "start" else v
                          for k, v in kwargs.items() if k != "threads"}, default=str)
    c = client(executor)
    for attempt in range(RESUBMITS + 1):
        log.info("%s: sent to %s (%d bytes of arguments)", name, executor, len(payload))
        future = c.submit(encode_task, payload, str(work / "lock"), lease_of(work),
                          resources={RESOURCE: need}, pure=False, retries=RETRIES,
                          key=f"drapto-{name}-{uuid.uuid4().hex[:8]}")
        status = _wait(future, name)
        if status == "finished":
            return
        if status == "error":
            exc = future.exception()
            if type(exc).__name__ == "KilledWorker":
                raise DraptoError(f"{name}: every worker that ran it died ({exc})")
            if isinstance(exc, DraptoError):
                raise DraptoError(str(exc))
            raise DraptoError(f"{name}: the cluster at {executor} failed: "
                              f"{type(exc).__name__}: {exc}")
        # Cancelled by the cluster, not by this run: the scheduler forgot it, restarted or
        # lost this client's connection. The encode is whole or nothing, so it is sent again.
        reason = getattr(getattr(future, "_state", None), "exception", None)
        log.warning("%s: the cluster at %s cancelled it (%s)%s", name, executor,
                    reason or "no reason given",
                    "; sending it again" if attempt < RESUBMITS else "")
    raise DraptoError(f"{name}: the cluster at {executor} cancelled it "
                      f"{RESUBMITS + 1} times")


def _wait(future: Any, name: str) -> str:
    """Wait for *future* to finish, fail or be cancelled, and say which. Waits on the
    future's own state: ``Future.result(timeout)`` raises UnboundLocalError from Dask's
    ``sync`` when the future is cancelled while it waits."""
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    while not done.wait(POLL_S):
        if proc.stopping():
            future.cancel()
            raise DraptoError(f"{name}: interrupted")
    return str(future.status)
