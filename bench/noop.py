"""Benchmark drapto's no-op rerun against doit's default md5 file_dep checking.

    .venv/bin/python bench/noop.py [--minutes 8] [--runs 5] [--big-mib 64] [--keep]

A long tiny clip (many ~1.5 s scenes, so hundreds of segments) is encoded once, then the
unchanged `doit encode` is rerun: drapto's stamps (key + size + mtime) must make that
cheap whatever the input's size. For comparison, a throwaway dodo with as many tasks, each
with file_dep on a big file (doit's default md5 checker), is timed the same way, and again
after `touch` of the big file (doit then re-hashes it, once per task). Both use doit's
sqlite3 backend, so the checker is the only difference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import workspace

from drapto.sample import make_sample

REPO = Path(__file__).resolve().parents[1]
CHUNK = 16 << 20

THROWAWAY_DODO = '''\
from pathlib import Path

BIG = {big!r}
OUT = Path({out!r})
N_TASKS = {n_tasks}
DOIT_CONFIG = {{"backend": "sqlite3", "dep_file": {dep_file!r}}}  # as drapto


def _touch(target):
    Path(target).write_text("x")


def task_t():
    for i in range(N_TASKS):
        target = str(OUT / f"{{i:04d}}")
        yield {{"name": f"{{i:04d}}", "file_dep": [BIG], "targets": [target],
               "actions": [(_touch, [target])]}}
'''


def run(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        sys.exit(f"failed ({proc.returncode}): {argv}\n{tail}")
    return elapsed, proc


def executed(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """Lines doit prints for a task it executed ('.  name')."""
    return [line for line in proc.stdout.splitlines() if line.startswith(".  ")]


def timed_reruns(argv: list[str], cwd: Path, runs: int, label: str) -> tuple[list[float], int]:
    """Times of *runs* unchanged reruns and the total of task lines they executed."""
    times, total = [], 0
    for i in range(runs):
        elapsed, proc = run(argv, cwd)
        times.append(elapsed)
        ran = executed(proc)
        total += len(ran)
        print(f"  {label} rerun {i + 1}: {elapsed:.3f} s, executed tasks: {len(ran)}")
        for line in ran[:10]:
            print(f"    ! {line}")
    return times, total


def write_big(path: Path, mib: int) -> None:
    """Random (incompressible) data, so hashing it really reads every byte."""
    with open(path, "wb") as fh:
        for _ in range(mib * (1 << 20) // CHUNK):
            fh.write(os.urandom(CHUNK))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=8.0, help="clip length (default 8: 320 "
                    "scenes of 1.5 s, one segment each)")
    ap.add_argument("--scene", type=float, default=1.5, help="scene length in seconds")
    ap.add_argument("--size", default="64x64", help="frame size of the clip")
    ap.add_argument("--runs", type=int, default=5, help="timed no-op reruns")
    ap.add_argument("--big-mib", type=int, default=64,
                    help="big file for the md5 dodo (its cost grows linearly with this)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ns = ap.parse_args()

    with workspace("drapto-noop-", ns.keep) as tmp:
        print(f"temp dir: {tmp}")
        n_scenes = max(2, round(ns.minutes * 60 / ns.scene))
        source = tmp / "input.mkv"
        t0 = time.perf_counter()
        make_sample(source, scenes=[ns.scene] * n_scenes, size=ns.size, fps=24,
                    audio=False, subtitles=False, chapters=False)
        t_sample = time.perf_counter() - t0
        in_size = source.stat().st_size
        print(f"clip: {n_scenes} scenes x {ns.scene} s, {ns.size}, {in_size / 2**20:.2f} MiB, "
              f"made in {t_sample:.1f} s")

        work, output = tmp / "work", tmp / "output.mkv"
        drapto = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "encode",
                  f"input={source}", f"work={work}", f"output={output}", "preset=12",
                  "min_segment=1", "max_segment=2"]
        print("command:", " ".join(drapto))
        t_first, proc = run(drapto, REPO)
        (scenes_json,) = work.glob("*/scenes.json")
        n_segments = len(json.loads(scenes_json.read_text())["segments"])
        n_tasks = len(list(scenes_json.parent.glob("stamps/*.json")))
        print(f"first run: {t_first:.1f} s, {n_segments} segments, {len(executed(proc))} "
              f"tasks executed, {n_tasks} stamps")

        d_times, d_ran = timed_reruns(drapto, REPO, ns.runs, "drapto")
        os.utime(source)  # same content, new mtime: drapto re-identifies it from 3 MiB
        d_touch, proc = run(drapto, REPO)
        d_touch_ran = len(executed(proc))
        print(f"drapto rerun after touch: {d_touch:.3f} s, executed tasks: {d_touch_ran}")

        big = tmp / "big.bin"
        t0 = time.perf_counter()
        write_big(big, ns.big_mib)
        print(f"big file: {big.stat().st_size / 2**30:.2f} GiB written in "
              f"{time.perf_counter() - t0:.1f} s")
        dodo = tmp / "md5dodo.py"
        dodo.write_text(THROWAWAY_DODO.format(big=str(big), out=str(tmp / "md5out"),
                                              n_tasks=n_tasks,
                                              dep_file=str(tmp / "md5-state.sqlite3")))
        (tmp / "md5out").mkdir()
        md5 = [sys.executable, "-m", "doit", "-f", str(dodo)]
        t_record, proc = run(md5, tmp)
        print(f"md5 dodo first run (records state, hashes per task): {t_record:.1f} s, "
              f"{len(executed(proc))} tasks executed")
        m_times, m_ran = timed_reruns(md5, tmp, ns.runs, "md5")
        os.utime(big)
        t_touch, proc = run(md5, tmp)
        print(f"md5 rerun after touch: {t_touch:.1f} s, {len(executed(proc))} tasks executed")

        d_med, m_med = statistics.median(d_times), statistics.median(m_times)
        print("\n=== summary ===")
        rows = [
            ("input clip", f"{in_size / 2**20:.2f} MiB, {n_scenes} scenes, {ns.size}"),
            ("segments / drapto tasks", f"{n_segments} / {n_tasks}"),
            ("drapto first run", f"{t_first:.1f} s"),
            ("drapto no-op rerun", f"min {min(d_times):.3f} s, median {d_med:.3f} s "
             f"({ns.runs} runs)"),
            ("drapto tasks executed on reruns", str(d_ran)),
            ("drapto rerun after touch", f"{d_touch:.3f} s, {d_touch_ran} tasks executed"),
            ("big file for md5 dodo", f"{big.stat().st_size / 2**30:.2f} GiB"),
            ("md5 dodo first run", f"{t_record:.1f} s"),
            ("md5 dodo no-op rerun", f"min {min(m_times):.3f} s, median {m_med:.3f} s, "
             f"{m_ran} tasks executed"),
            ("md5 dodo rerun after touch", f"{t_touch:.1f} s"),
            ("ratio md5 no-op / drapto no-op", f"{m_med / d_med:.2f}"),
            ("ratio md5 after touch / drapto after touch", f"{t_touch / d_touch:.1f}"),
            ("md5 after touch, per GiB of input", f"{t_touch / (ns.big_mib / 1024):.1f} s"),
        ]
        for name, value in rows:
            print(f"{name:<38} {value}")


if __name__ == "__main__":
    main()
