"""Segment encodes on a Dask cluster against local runs with the same cores.

    .venv/bin/python bench/cluster.py                  # 1 and 2 single-threaded workers
    .venv/bin/python bench/cluster.py --seconds 96 --preset 6

One script run, one after the other, on a generated clip (drapto's sample, 8 scenes): drapto
with -n 1 here, then on a local Dask cluster of 1 single-threaded worker; -n 2 here, then 2
workers. Prints each run's time, segments per minute and the ratio cluster / local, whether
both gave the same bytes, and what each segment moves between the hosts when the work
folder is shared: the source bytes its encodes read (every final encode reads its segment
again), the bytes it writes and the size of the task message.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import common

from drapto.media.demo import make_sample
from drapto.stages.segments import segment_id


def moved(folder: Path) -> tuple[float, float, int]:
    """Per segment: source bytes read by its encodes, bytes written, and the encode's task
    message (its arguments as JSON)."""
    segments = json.loads((folder / "scenes.json").read_text())["segments"]
    read = written = 0.0
    for seg in segments:
        record = common.record_of(folder, segment_id(seg["start"]))
        read += seg["source_bytes"] * len((record.get("search") or {}).get("finals") or [1])
        written += record["bytes"]
    sent = [int(m.group(1)) for m in re.finditer(r"\((\d+) bytes of arguments\)",
                                                  (folder / "drapto.log").read_text())]
    return read / len(segments), written / len(segments), max(sent, default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=48.0, help="clip length (8 scenes)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--preset", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    ns = ap.parse_args()
    from distributed import LocalCluster

    with common.workspace("drapto-bench-cluster-", ns.keep) as tmp:
        clip = make_sample(tmp / "clip.mkv", scenes=[ns.seconds / 8] * 8, size=ns.size)
        print(f"clip: {ns.size}, {ns.seconds:g} s, preset {ns.preset}, default mode "
              "(quality targeting); 2 cores")
        rows: list[tuple[str, ...]] = [("workers", "local", "cluster", "cluster / local",
                                        "same bytes")]
        for workers in (1, 2):
            local, remote = tmp / f"local-{workers}", tmp / f"cluster-{workers}"
            t_local = common.drapto(clip, local, local.with_suffix(".mkv"),
                                     f"preset={ns.preset}", jobs=workers).seconds
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              resources={"MEMORY": 4000}, dashboard_address=None,
                              host="127.0.0.1") as cluster:
                executor = cluster.scheduler_address.replace("tcp://", "dask://")
                t_cluster = common.drapto(clip, remote, remote.with_suffix(".mkv"),
                                           f"preset={ns.preset}", f"executor={executor}",
                                           jobs=workers).seconds
            folder = common.input_folder(remote)
            n = len(json.loads((folder / "scenes.json").read_text())["segments"])
            same = local.with_suffix(".mkv").read_bytes() == remote.with_suffix(".mkv").read_bytes()
            rows.append((str(workers), f"-n {workers}: {t_local:.1f} s "
                         f"({60 * n / t_local:.1f} segments/min)",
                         f"{t_cluster:.1f} s ({60 * n / t_cluster:.1f} segments/min)",
                         f"{t_cluster / t_local:.2f}", str(same)))
        common.table(rows)
        read, written, message = moved(folder)
        print(f"per segment ({n} segments): reads {read / 2**20:.2f} MiB of source "
              f"(every final encode reads it again), writes {written / 2**20:.2f} MiB, "
              f"task message about {message} bytes")


if __name__ == "__main__":
    main()
