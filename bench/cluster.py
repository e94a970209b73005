"""Segment encodes on a Dask cluster against local runs with the same cores.

    .venv/bin/python bench/cluster.py                  # 1 and 2 single-threaded workers
    .venv/bin/python bench/cluster.py --seconds 96 --preset 6

One script run, one after the other, on a generated clip (drapto's sample at 1280x720):
drapto with -n 1 here, then on a local Dask cluster of 1 single-threaded worker; -n 2 here,
then 2 workers. Prints each run's time, segments per minute and the ratio cluster / local,
and what each segment moves between the hosts when the work folder is shared: the source
bytes its encodes read (every final encode reads its segment again), the bytes it writes
and the size of the task message.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import record_of, workspace  # noqa: E402

from drapto.sample import make_sample  # noqa: E402
from drapto.stages.segments import segment_id  # noqa: E402


def run(clip: Path, cwd: Path, jobs: int, preset: int, executor: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    argv = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", str(jobs),
            "encode", f"input={clip}", "output=out.mkv", f"preset={preset}",
            *([f"executor={executor}"] if executor else [])]
    started = time.monotonic()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def moved(work: Path) -> tuple[float, float, int]:
    """Per segment: source bytes read by its encodes, bytes written, and the encode's task
    message (its arguments as JSON)."""
    root = next(work.iterdir())
    scenes = json.loads((root / "scenes.json").read_text())
    read = written = 0.0
    for seg in scenes["segments"]:
        record = record_of(root, segment_id(seg["start"]))
        encodes = len((record.get("search") or {}).get("finals") or [1])
        read += seg["source_bytes"] * encodes
        written += record["bytes"]
    n = len(scenes["segments"])
    sent = [int(m.group(1)) for m in re.finditer(r"\((\d+) bytes of arguments\)",
                                                  (root / "drapto.log").read_text())]
    return read / n, written / n, max(sent, default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=48.0, help="clip length (8 scenes)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--preset", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    args = ap.parse_args()
    from distributed import LocalCluster

    with workspace("drapto-bench-cluster-", args.keep) as tmp:
        clip = make_sample(tmp / "clip.mkv", scenes=[args.seconds / 8] * 8, size=args.size)
        print(f"clip: {args.size}, {args.seconds:g} s, preset {args.preset}, default mode "
              "(quality targeting); 2 cores")
        for workers in (1, 2):
            local = tmp / f"local-{workers}"
            local.mkdir()
            t_local = run(clip, local, workers, args.preset, None)
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              resources={"MEMORY": 4000}, dashboard_address=None,
                              host="127.0.0.1") as cluster:
                remote = tmp / f"cluster-{workers}"
                remote.mkdir()
                executor = cluster.scheduler_address.replace("tcp://", "dask://")
                t_cluster = run(clip, remote, workers, args.preset, executor)
            segments = len(json.loads(next((remote / "drapto-work").glob("*/scenes.json"))
                                      .read_text())["segments"])
            same = (local / "out.mkv").read_bytes() == (remote / "out.mkv").read_bytes()
            print(f"{workers} worker(s): local -n {workers} {t_local:.1f} s "
                  f"({60 * segments / t_local:.1f} segments/min), cluster {t_cluster:.1f} s "
                  f"({60 * segments / t_cluster:.1f} segments/min): cluster / local = "
                  f"{t_cluster / t_local:.2f}; same bytes: {same}")
        read, written, message = moved(remote / "drapto-work")
        print(f"per segment ({segments} segments): reads {read / 2**20:.2f} MiB of source "
              f"(every final encode reads it again), writes {written / 2**20:.2f} MiB, "
              f"task message about {message} bytes")


if __name__ == "__main__":
    main()
