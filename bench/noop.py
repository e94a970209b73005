"""A no-op rerun of drapto, against doit's default md5 file_dep checking.

    .venv/bin/python bench/noop.py [--minutes 8] [--runs 5] [--big-mib 64] [--keep]

A long tiny clip (many 1.5 s scenes, so hundreds of segments) is encoded once, then the
unchanged `doit encode` is rerun: drapto's stamps (key + size + mtime) must make that cheap
whatever the input's size. For comparison, a throwaway dodo with as many tasks, each with a
file_dep on one big file (doit's default md5 checker), is timed the same way, and again
after a `touch` of the big file (doit then hashes it again, once per task). Both use doit's
sqlite3 backend, so the checker is the only difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from collections.abc import Callable

import common

from drapto.media.demo import make_sample

THROWAWAY_DODO = '''\
from pathlib import Path

BIG = {big!r}
OUT = Path({out!r})
DOIT_CONFIG = {{"backend": "sqlite3", "dep_file": {dep_file!r}}}  # as drapto


def _touch(target):
    Path(target).write_text("x")


def task_t():
    for i in range({n_tasks}):
        target = str(OUT / f"{{i:04d}}")
        yield {{"name": f"{{i:04d}}", "file_dep": [BIG], "targets": [target],
               "actions": [(_touch, [target])]}}
'''


def reruns(again: Callable[[], common.Run], times: int, label: str) -> tuple[list[float], int]:
    """*times* unchanged reruns (*again*: one of them): their times and the tasks they ran."""
    seconds, total = [], 0
    for i in range(times):
        r = again()
        seconds.append(r.seconds)
        total += len(r.executed)
        print(f"  {label} rerun {i + 1}: {r.seconds:.3f} s, executed tasks: {len(r.executed)}")
        for name in r.executed[:10]:
            print(f"    ! {name}")
    return seconds, total


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
    with common.workspace("drapto-noop-", ns.keep) as tmp:
        n_scenes = max(2, round(ns.minutes * 60 / ns.scene))
        source = tmp / "input.mkv"
        with common.timed() as t:
            make_sample(source, scenes=[ns.scene] * n_scenes, size=ns.size, fps=24,
                        audio=False, subtitles=False, chapters=False)
        print(f"clip: {n_scenes} scenes x {ns.scene} s, {ns.size}, "
              f"{source.stat().st_size / 2**20:.2f} MiB, made in {t.seconds:.1f} s")
        work, output = tmp / "work", tmp / "output.mkv"
        settings = ("preset=12", "min_segment=1", "max_segment=2")
        print("command:", shlex.join(common.drapto_argv(source, work, output, *settings)))

        def again() -> common.Run:
            return common.drapto(source, work, output, *settings, quiet=True)
        first = again()
        scenes_json = common.input_folder(work) / "scenes.json"
        n_segments = len(json.loads(scenes_json.read_text())["segments"])
        n_tasks = len(list(scenes_json.parent.glob("stamps/*.json")))
        print(f"first run: {first.seconds:.1f} s, {n_segments} segments, "
              f"{len(first.executed)} tasks executed, {n_tasks} stamps")
        d_times, d_ran = reruns(again, ns.runs, "drapto")
        os.utime(source)  # same content, new mtime: drapto identifies it again from 3 MiB
        d_touch = again()
        print(f"drapto rerun after touch: {d_touch.seconds:.3f} s, "
              f"executed tasks: {len(d_touch.executed)}")

        big = tmp / "big.bin"
        with big.open("wb") as fh:  # random, so that hashing it reads every byte
            for _ in range(ns.big_mib):
                fh.write(os.urandom(1 << 20))
        dodo = tmp / "md5dodo.py"
        dodo.write_text(THROWAWAY_DODO.format(big=str(big), out=str(tmp / "md5out"),
                                              n_tasks=n_tasks,
                                              dep_file=str(tmp / "md5-state.sqlite3")))
        (tmp / "md5out").mkdir()

        def md5() -> common.Run:
            return common.run([sys.executable, "-m", "doit", "-f", str(dodo)], cwd=tmp,
                               quiet=True)
        m_first = md5()
        print(f"md5 dodo first run (records state, hashes per task): {m_first.seconds:.1f} s, "
              f"{len(m_first.executed)} tasks executed")
        m_times, m_ran = reruns(md5, ns.runs, "md5")
        os.utime(big)
        m_touch = md5()
        print(f"md5 rerun after touch: {m_touch.seconds:.1f} s, "
              f"{len(m_touch.executed)} tasks executed")

    d_med, m_med = statistics.median(d_times), statistics.median(m_times)
    common.table([
        ("segments / drapto tasks", f"{n_segments} / {n_tasks}"),
        ("drapto first run", f"{first.seconds:.1f} s"),
        ("drapto no-op rerun", f"min {min(d_times):.3f} s, median {d_med:.3f} s "
         f"({ns.runs} runs), {d_ran} tasks executed"),
        ("drapto rerun after touch", f"{d_touch.seconds:.3f} s, "
         f"{len(d_touch.executed)} tasks executed"),
        ("md5 dodo no-op rerun", f"min {min(m_times):.3f} s, median {m_med:.3f} s "
         f"({ns.big_mib} MiB file_dep), {m_ran} tasks executed"),
        ("md5 dodo rerun after touch", f"{m_touch.seconds:.1f} s"),
        ("md5 no-op / drapto no-op", f"{m_med / d_med:.2f}"),
        ("md5 after touch / drapto after touch", f"{m_touch.seconds / d_touch.seconds:.1f}"),
        ("md5 after touch, per GiB of input", f"{m_touch.seconds / (ns.big_mib / 1024):.1f} s"),
    ], title="summary")


if __name__ == "__main__":
    main()
