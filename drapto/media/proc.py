"""Running FFmpeg: argv lists only, stdin isolated, commands logged, children tracked.

Every external program drapto starts goes through :func:`run`. Live children are kept in a
registry so that SIGTERM/SIGINT can stop them before drapto exits (no orphaned encoders).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from drapto.errors import DraptoError

log = logging.getLogger("drapto")

REQUIRED_ENCODERS = ("libsvtav1", "libopus")
REQUIRED_FILTERS = ("libvmaf", "scdet", "cropdetect")

_children: set[subprocess.Popen[bytes]] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


@dataclass(frozen=True)
class Result:
    argv: list[str]
    stderr: str  # the first 2000 lines
    peak_rss: int  # bytes: the child's peak resident memory (0 if unknown)


def ffmpeg_path() -> str:
    """The FFmpeg binary: ``DRAPTO_FFMPEG`` if set, else the one imageio-ffmpeg ships."""
    override = os.environ.get("DRAPTO_FFMPEG")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise DraptoError(f"DRAPTO_FFMPEG={override}: not an executable file")
        return override
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@lru_cache(maxsize=4)
def _checked(path: str) -> str:
    listing = subprocess.run([path, "-encoders"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, check=False)
    enc = listing.stdout
    flt = subprocess.run([path, "-hide_banner", "-filters"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, check=False).stdout
    have_enc = {line.split()[1] for line in enc.splitlines() if len(line.split()) > 1}
    have_flt = {line.split()[1] for line in flt.splitlines() if len(line.split()) > 1}
    missing = [e for e in REQUIRED_ENCODERS if e not in have_enc]
    missing += [f for f in REQUIRED_FILTERS if f not in have_flt]
    version = re.search(r"ffmpeg version n?(\d+)\.", listing.stderr)
    if version and int(version.group(1)) < 7:  # git builds ("N-…") are taken as recent
        missing.append(f"loopback decoders (-dec, FFmpeg 7 or newer; this is "
                       f"{version.group(1)}.x), which the VMAF verification uses")
    if missing:
        raise DraptoError(f"FFmpeg at {path} lacks what drapto needs: {', '.join(missing)} "
                          "(use imageio-ffmpeg's build, or a DRAPTO_FFMPEG that has them)")
    return path


_check_lock = threading.Lock()


def ffmpeg() -> str:
    """The checked FFmpeg binary (the capability check runs once per process)."""
    with _check_lock:
        return _checked(ffmpeg_path())


def version_text() -> str:
    """``ffmpeg -version``: the version and every configure option of the build."""
    return subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False).stdout


def run(args: Sequence[str], *, what: str, cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None, env: dict[str, str] | None = None,
        on_err: Callable[[str], None] | None = None) -> Result:
    """Run ``ffmpeg args...``; raise DraptoError naming *what* with the end of stderr on failure.

    *on_line* receives each stdout line as it arrives (for ``-progress pipe:1``); *on_err*
    each stderr line (from another thread, in order).
    """
    if _stopping.is_set():
        raise DraptoError(f"{what}: interrupted")
    argv = [ffmpeg(), "-nostdin", "-hide_banner", *args]
    log.info("start: %s: %s", what, shlex.join(argv))
    child_env = dict(os.environ, SVT_LOG="1", **(env or {}))
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env)
    with _children_lock:  # stop_children() sets the flag under this lock: no child slips by
        _children.add(proc)
        late = _stopping.is_set()
    if late:
        proc.kill()
        proc.wait()
        with _children_lock:
            _children.discard(proc)
        raise DraptoError(f"{what}: interrupted")
    tail: deque[str] = deque(maxlen=30)
    head: list[str] = []

    def read_err() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            tail.append(line)
            if on_err:
                on_err(line)
            if len(head) < 2000:
                head.append(line)

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    peak = 0
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if on_line:
                on_line(raw.decode("utf-8", "replace").rstrip())
        try:
            # wait4 gives this child's own peak resident memory (ru_maxrss, KiB on Linux):
            # exact, where sampling would miss short peaks.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak = usage.ru_maxrss * 1024
        except ChildProcessError:  # already reaped (drapto is stopping)
            pass
        code = proc.wait()
        reader.join()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with _children_lock:
            _children.discard(proc)
    log.info("exit %s: %s (peak memory %d MiB)", code, what, peak >> 20)
    if code != 0:
        if _stopping.is_set():
            raise DraptoError(f"{what}: interrupted")
        last = "\n    ".join(list(tail)[-8:]) or "(no output)"
        log.info("FFmpeg's last lines (%s):\n    %s", what, "\n    ".join(tail))
        raise DraptoError(f"{what}: FFmpeg exited with status {code}:\n    {last}",
                          "\n".join(tail))
    return Result(argv, "\n".join(head), peak)


def stopping() -> bool:
    """Whether drapto is stopping (SIGTERM/SIGINT received)."""
    return _stopping.is_set()


def stop_children(sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Stop every live child (on SIGTERM/SIGINT) and wait for them, killing those that take
    longer than *grace* seconds; later :func:`run` calls refuse to start."""
    with _children_lock:
        _stopping.set()
        children = list(_children)
    for proc in children:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    for proc in children:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()


def kill_leftover_children() -> None:
    """At exit: SIGKILL any child process still running (one started by a worker thread in
    the moment drapto was told to stop), so no encoder outlives drapto."""
    import psutil

    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
