"""Files written whole or not at all: atomic writes (a temporary name beside the final one,
renamed into place), JSON records, exclusive locks, scratch files, and the short stable
hash a key is made of. A cluster encode whose run was replaced writes nothing (the lease).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from drapto import PIPELINE_VERSION
from drapto.errors import DraptoError

TMP_MARK = ".tmp"


def make_key(*parts: Any) -> str:
    """A short, stable hash of JSON-serialisable parts (settings, upstream keys)."""
    blob = json.dumps([PIPELINE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def temp_path(final: Path) -> Path:
    """A unique temporary name beside *final*, its real extension last (FFmpeg reads it)."""
    return final.with_name(f".{final.stem}.{secrets.token_hex(4)}{TMP_MARK}{final.suffix}")


# Set for an encode running on a cluster worker (drapto/cluster/worker.py): the work folder's lock
# file and the content it had when the run that asked for the encode held it.
LEASE_ENV = "DRAPTO_LEASE"


def lease_holds() -> bool:
    """Whether the run this process works for still holds its work folder (always, outside
    a cluster encode): a newer run's lock means an older run's encode must write nothing."""
    value = os.environ.get(LEASE_ENV)
    if not value:
        return True
    path, lease = json.loads(value)
    try:
        return bool(Path(path).read_text(encoding="utf-8") == lease)
    except OSError:
        return False


def put_in_place(done: Path, final: Path, leased: bool = True) -> None:
    """Rename a finished file to its final name (atomic); *leased*: a work folder's file,
    not put in place once a newer run holds the folder."""
    if leased and not lease_holds():
        raise DraptoError(f"{final}: not written: a newer run holds the work folder")
    os.replace(done, final)


@contextlib.contextmanager
def atomic_path(final: Path, leased: bool = True) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces *final*, on failure it is removed.
    *leased*: a work folder's file, not written once a newer run holds the folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        yield tmp
        if not tmp.exists():
            raise DraptoError(f"{final}: nothing was written")
        put_in_place(tmp, final, leased)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json(final: Path, data: Any, leased: bool = True) -> None:
    with atomic_path(final, leased) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def locked(path: Path, wait: bool = True) -> IO[str]:
    """*path* opened (created if need be) and locked exclusively (flock) until it is closed.
    Without *wait*, BlockingIOError when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (the lock lives as long as fh)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        fh.close()
        raise
    return fh


@contextlib.contextmanager
def scratch(*finals: Path) -> Iterator[list[Path]]:
    """Temporary files beside *finals*, removed whatever happens."""
    paths = [temp_path(f) for f in finals]
    try:
        yield paths
    finally:
        for p in paths:
            p.unlink(missing_ok=True)
