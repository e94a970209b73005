"""executor=dask://: segment encodes on a Dask cluster (a scheduler and worker processes
started here on loopback), the same bytes as a local run, a worker killed mid-run, a worker
with another FFmpeg refused, and a killed client whose encodes stop when the next run
starts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import drapto_argv, executed, run_drapto

from drapto.media import proc
from drapto.media.demo import make_sample

pytestmark = pytest.mark.e2e  # every test here runs FFmpeg

pytest.importorskip("distributed", reason="Dask is an optional extra: pip install -e '.[dask]'")

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]
# The default mode (quality targeting), fast, 6 segments.
SETTINGS = ["preset=12", "min_segment=0.5", "max_segment=1", "crop_samples=4"]
# Encodes that take seconds, so that one is still running when its worker or client dies.
SLOW = ["preset=4", "min_segment=0.5", "max_segment=1", "crop_samples=4"]
# How soon an orphaned encode must stop (its watchdog looks twice a second).
STOP_S = 2.0
DEFAULT_MODE = {"DRAPTO_QUALITY": "vmaf"}


def wait_for(cond: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Cluster:
    """A scheduler on 127.0.0.1 and worker processes (no nanny: killing one kills it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, argv: list[str], env: dict[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{len(self.procs)}.log", "wb")  # noqa: SIM115
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             env={**os.environ, **(env or {})}, cwd=self.folder)
        self.procs.append(p)
        return p

    def start(self, workers: int = 2, env: dict[str, str] | None = None) -> Cluster:
        self._start([*DASK, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(self.file)])
        wait_for(self.file.exists, "the scheduler")
        for _ in range(workers):
            self.add_worker(env)
        return self

    def add_worker(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = self._start([*WORKER, "--scheduler-file", str(self.file), "--nthreads", "1",
                         "--no-nanny", "--resources", "MEMORY=4000", "--no-dashboard",
                         "--host", "127.0.0.1"], env)
        self.workers.append(p)
        expected = len(self.workers)
        wait_for(lambda: self.count() >= expected, f"{expected} workers")
        return p

    def count(self) -> int:
        from distributed import Client

        with Client(json.loads(self.file.read_text())["address"], timeout="5s") as c:
            return len(c.scheduler_info()["workers"])

    @property
    def executor(self) -> str:
        return json.loads(self.file.read_text())["address"].replace("tcp://", "dask://")

    def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


@contextlib.contextmanager
def cluster(folder: Path, workers: int = 2, env: dict[str, str] | None = None
            ) -> Iterator[Cluster]:
    folder.mkdir(parents=True, exist_ok=True)
    c = Cluster(folder)
    try:
        yield c.start(workers, env)
    finally:
        c.stop()


def local_run(clip: Path, settings: list[str], cwd: Path) -> Path:
    """The output of a local run: what every cluster run must equal byte for byte."""
    run_drapto(f"input={clip}", "output=out.mkv", *settings, cwd=cwd, env=DEFAULT_MODE)
    return cwd / "out.mkv"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("cluster") / "clip.mkv", [1.0] * 6, "256x144")


@pytest.fixture(scope="module")
def local(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_run(clip, SETTINGS, tmp_path_factory.mktemp("local"))


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("slow") / "slow.mkv", [1.0] * 6, "640x360")


@pytest.fixture(scope="module")
def slow_local(slow_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_run(slow_clip, SLOW, tmp_path_factory.mktemp("slow-local"))


def start_slow_run(clip: Path, c: Cluster, cwd: Path) -> subprocess.Popen[str]:
    """A run on the cluster, in the background, its output piped."""
    return subprocess.Popen(drapto_argv(f"input={clip}", "output=out.mkv", *SLOW,
                                        f"executor={c.executor}", jobs=2),
                            cwd=cwd, env={**os.environ, **DEFAULT_MODE},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)


def remote_children() -> list[psutil.Process]:
    """The encode processes that cluster workers started (python -m drapto.cluster.worker)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "drapto.cluster.worker" in (p.info["cmdline"] or []):
                found.append(p)
    return found


def test_cluster_run_gives_the_local_bytes_and_a_rerun_does_nothing(
        clip: Path, local: Path, tmp_path: Path) -> None:
    with cluster(tmp_path / "cluster") as c:
        run_drapto(f"input={clip}", "output=out.mkv", *SETTINGS, f"executor={c.executor}",
                   cwd=tmp_path, env=DEFAULT_MODE)
        assert (tmp_path / "out.mkv").read_bytes() == local.read_bytes()
        again = run_drapto(f"input={clip}", "output=out.mkv", *SETTINGS,
                           f"executor={c.executor}", cwd=tmp_path, env=DEFAULT_MODE)
        assert executed(again) == []
    # The executor is not part of any key: a local run of the same work redoes nothing.
    assert executed(run_drapto(f"input={clip}", "output=out.mkv", *SETTINGS, cwd=tmp_path,
                               env=DEFAULT_MODE)) == []


def test_a_worker_killed_mid_run(slow_clip: Path, slow_local: Path, tmp_path: Path) -> None:
    """Its segment runs again on the other worker; its own encode stops at once (it never
    writes), and the output is the local run's."""
    with cluster(tmp_path / "cluster") as c:
        run = start_slow_run(slow_clip, c, tmp_path)
        victim = c.workers[0]
        wait_for(lambda: any(ch.ppid() == victim.pid for ch in remote_children()),
                 "an encode on the first worker")
        orphans = [ch for ch in remote_children() if ch.ppid() == victim.pid]
        os.killpg(victim.pid, signal.SIGKILL)
        wait_for(lambda: not any(running(p) for p in orphans),
                 "the killed worker's encode to stop", STOP_S)
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
    assert (tmp_path / "out.mkv").read_bytes() == slow_local.read_bytes()


def test_a_worker_with_another_ffmpeg_is_refused(clip: Path, tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-version" ]; then\n'
                    f'  echo "ffmpeg version 0.0-other"; exit 0\nfi\n'
                    f'exec "{proc.ffmpeg()}" "$@"\n', encoding="utf-8")
    fake.chmod(0o755)
    with cluster(tmp_path / "cluster", workers=1, env={"DRAPTO_FFMPEG": str(fake)}) as c:
        result = run_drapto(f"input={clip}", "output=out.mkv", *SETTINGS,
                            f"executor={c.executor}", cwd=tmp_path, check=False)
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode != 0 and len(said) == 1, said
    assert "runs another FFmpeg (ffmpeg version 0.0-other) than this machine" in said[0]
    assert not (tmp_path / "out.mkv").exists()


def test_a_killed_client_leaves_nothing_writing_after_the_next_run_starts(
        slow_clip: Path, slow_local: Path, tmp_path: Path) -> None:
    with cluster(tmp_path / "cluster", workers=1) as c:
        argv = drapto_argv(f"input={slow_clip}", "output=out.mkv", *SLOW,
                           f"executor={c.executor}", jobs=2)
        first = subprocess.Popen(argv, cwd=tmp_path, env={**os.environ, **DEFAULT_MODE},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: bool(remote_children()), "an encode on the worker")
        orphans = remote_children()
        lock = next(tmp_path.glob("drapto-work/*/lock"))
        lease = lock.read_text()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
        assert all(running(p) for p in orphans), "the encode finished before the test"
        second = start_slow_run(slow_clip, c, tmp_path)
        # The new run's lock is the old encodes' signal to stop.
        wait_for(lambda: lock.read_text() != lease, "the next run's lock")
        wait_for(lambda: not any(running(p) for p in orphans),
                 "the old run's encodes to stop", STOP_S)
        out, _ = second.communicate(timeout=300)
        assert second.returncode == 0, out
    assert (tmp_path / "out.mkv").read_bytes() == slow_local.read_bytes()


def test_an_encode_the_cluster_cancels_is_sent_again(
        slow_clip: Path, slow_local: Path, tmp_path: Path) -> None:
    """A scheduler may cancel a future on its own (a lost connection, a restart, a key it
    forgot): the run sends the encode again, says so in its log, and ends with the local
    bytes."""
    from distributed import Client, Future

    with cluster(tmp_path / "cluster") as c:
        run = start_slow_run(slow_clip, c, tmp_path)
        wait_for(lambda: bool(remote_children()), "an encode on a worker")
        with Client(json.loads(c.file.read_text())["address"], timeout="5s") as other:
            keys = [k for ks in other.processing().values() for k in ks]
            assert keys, "no encode was running"
            other.cancel([Future(k, client=other) for k in keys], force=True)
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
    said = next(tmp_path.glob("drapto-work/*/drapto.log")).read_text()
    assert "cancelled it" in said and "sending it again" in said, said
    assert (tmp_path / "out.mkv").read_bytes() == slow_local.read_bytes()


def running(p: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    return False
