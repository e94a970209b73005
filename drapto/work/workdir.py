"""The work directory of one input: every artifact's path, its stamps, the lock.

A target is *done* when its stamp (``stamps/<task>.json``) holds the task's key and the
target's current size and mtime. Stamps are written after the target is in place, so a run
killed at any moment leaves either a finished target with its stamp, or something that is
redone. Nothing depends on doit's own database, which is only written when a run ends.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from drapto.errors import DraptoError
from drapto.files import TMP_MARK, locked, read_json, write_json
from drapto.media.timeparse import Clip


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or "input"


class WorkDir:
    """Paths of every artifact of one input under the work root."""

    def __init__(self, root: Path, source: Path, clip: Clip | None = None,
                 copy: int = 1):
        # Found by the source's content, not its path: a moved, renamed or copied film finds
        # its work again. A clip has a folder of its own (its scenes and audio are not the
        # film's).
        try:
            self.fingerprint = content_fingerprint(source, source.stat().st_size)
        except OSError as exc:
            raise DraptoError(f"{source}: cannot be read: {exc.strerror or exc}") from None
        part = "" if clip is None else \
            f"-clip{clip.start_us}-{'end' if clip.end_us is None else clip.end_us}"
        # Two copies of one film in one run (a batch) each have a folder of their own.
        suffix = f"-{self.fingerprint[:16]}{part}" + (f"-copy{copy}" if copy > 1 else "")
        found = sorted(p for p in root.glob(f"*{suffix}") if p.is_dir()) if root.is_dir() else []
        self.path = found[0] if found else root / f"{slug(source.stem)}{suffix}"
        self.probe = self.path / "probe.json"
        self.scenes = self.path / "scenes.json"
        self.crop = self.path / "crop.json"
        self.calibration = self.path / "calibration.json"
        self.size = self.path / "size.json"
        self.balance = self.path / "balance.json"
        self.video = self.path / "video.mkv"
        self.hdr10plus = self.path / "hdr10plus.t35"
        self.concat_list = self.path / "concat.txt"
        self.validation = self.path / "validation.json"
        self.report = self.path / "report.json"
        self.failure = self.path / "failed.json"  # why the last run failed, until one succeeds
        # Each run's wall time for this file (no task reads it: `doit report` shows it).
        self.runs = self.path / "runs.json"
        self.settings = self.path / "settings.json"  # what the output was made with
        # The state of everything a finished run's no-op reads (drapto/work/outputs.py: finished).
        self.finished = self.path / "finished.json"
        self.log = self.path / "drapto.log"
        self.lock_file = self.path / "lock"
        self.stamps = self.path / "stamps"

    # A segment's files are named by its id, its first frame (drapto/stages/segments.py).
    def encoded(self, sid: str) -> Path:
        return self.path / "encoded" / f"{sid}.mkv"

    def record(self, sid: str) -> Path:
        """What the encode of segment *sid* did (settings, Dolby Vision, warnings)."""
        return self.path / "encoded" / f"{sid}.json"

    def sample(self, sid: str) -> Path:
        """A calibration segment's encode, searched from the defaults."""
        return self.path / "calibration" / f"{sid}.mkv"

    def adjusted(self, sid: str) -> Path:
        """A segment encoded again to bring the film's mean to the target (balance.json)."""
        return self.path / "balanced" / f"{sid}.mkv"

    def audio(self, index: int) -> Path:
        return self.path / "audio" / f"{index}.mka"

    def stamp(self, task: str) -> Path:
        return self.stamps / (task.replace(":", "-") + ".json")

    def clean_leftovers(self) -> list[Path]:
        """Remove temporary files a killed run left behind (call with the lock held)."""
        removed = []
        if self.path.is_dir():
            for p in self.path.rglob(f"*{TMP_MARK}*"):
                if p.is_file() and p.name.startswith("."):
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed


SAMPLE = 1 << 20


def content_fingerprint(path: Path, size: int) -> str:
    """A hash of the size and three 1 MiB samples (start, middle, end): what identifies a
    source when its modification time changed but its content may not have (a copy, a
    touch). Reads 3 MiB whatever the file's size."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        for offset in sorted({0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)}):
            fh.seek(offset)
            h.update(fh.read(SAMPLE))
    return h.hexdigest()[:20]


def file_state(path: Path | str) -> tuple[int, ...]:
    """A file's state, cheaply (inode, size, time), for caching what was read from it:
    drapto replaces its files whole (written aside, then renamed), so new content is a new
    inode and time. Empty when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _fingerprint(target: Path) -> list[int] | None:
    try:
        st = target.stat()
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def is_done(stamp: Path, key: str, target: Path,
            stowed: Callable[[], bool] | None = None) -> bool:
    """doit ``uptodate`` check: the stamp matches the key and the target is the one stamped;
    or *stowed* says the output holds what this key makes: the target was removed after a
    finished run (the stamp says ``stowed``), or the stamp is another run's since (then the
    stamp is made this key's, stowed, and a file at the target removed). No stamp, or an
    unreadable one, is never done."""
    data = read_stamp(stamp)
    if data.get("key") == key:
        current = _fingerprint(target)
        if current is not None and data.get("target") == current:
            return True
        # Stowed: removed, or taken back from the output since (a re-mux needed it).
        return bool(data.get("stowed") and stowed is not None and stowed())
    if not data.get("key") or stowed is None or not stowed():
        return False  # no stamp, or an unreadable one: made again, never trusted
    # The stamp is another run's (other settings, another output), but the output holds
    # what this key makes: a file at the target is that other run's, never this one's.
    # Stowed under this key, the output gives the content back when a later step needs it.
    target.unlink(missing_ok=True)
    write_json(stamp, {"key": key, "target": None, "stowed": True})
    return True


def stow(stamp: Path, target: Path) -> None:
    """Remove a finished task's bulky target, keeping its stamp as ``stowed`` (its content
    is in the output)."""
    data = read_stamp(stamp)
    if data.get("key"):
        write_json(stamp, {"key": data["key"], "target": None, "stowed": True})
    target.unlink(missing_ok=True)


def mark_done(stamp: Path, key: str, target: Path) -> None:
    write_json(stamp, {"key": key, "target": _fingerprint(target)})


def read_stamp(stamp: Path) -> dict[str, Any]:
    """A stamp's content (its key, and the target's size and mtime), or {} if unreadable."""
    try:
        data = read_json(stamp)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Lock:
    """An exclusive lock on a work directory, held for the life of the run (flock)."""

    def __init__(self, path: Path, what: str):
        self.path = path
        self.what = what
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        try:
            fh = locked(self.path, wait=False)
        except BlockingIOError:
            try:
                holder = (self.path.read_text(encoding="utf-8").split() or ["?"])[0]
            except OSError:
                holder = "?"
            raise DraptoError(f"{self.what}: another drapto run (pid {holder}) is already "
                              f"working on it; lock {self.path}") from None
        fh.seek(0)
        fh.truncate()
        # The pid says who holds it; the token makes each run's claim (its lease) unique.
        fh.write(f"{os.getpid()} {secrets.token_hex(8)}\n")
        fh.flush()
        self._fh = fh


