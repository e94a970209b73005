"""Memory-aware parallel encoding on a 1080p clip, against one plain FFmpeg encode.

    .venv/bin/python bench/parallel.py [--seconds 12] [--preset 8] [--small-budget 600M]

Prints, for drapto with the default budget and with a deliberately small one (-n 2): the
workers chosen, the peak total resident memory of the encoder processes (sampled every
0.1 s) against the budget, the CPU use of the machine while they run, how often an encode
waited for memory, and the wall time against one plain FFmpeg libsvtav1 encode of the same
clip at the same settings, measured in the same run. Each drapto run has a fresh cache
folder (no learned estimates).
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import common
import psutil

from drapto.media.demo import make_sample

SETTINGS = ("crf_hd=25", "min_segment=2", "max_segment=3", "crop=off")


@contextmanager
def sampled() -> Iterator[dict[str, float]]:
    """While the block runs: the peak summed RSS (MiB) of this process's FFmpeg descendants
    and the machine's mean CPU % while any runs."""
    out, stop, cpu = {"peak_mib": 0.0, "cpu": 0.0}, threading.Event(), []

    def sample() -> None:
        me = psutil.Process()
        psutil.cpu_percent()
        while not stop.wait(0.1):
            rss = 0
            for p in me.children(recursive=True):
                try:
                    if "ffmpeg" in p.name():
                        rss += p.memory_info().rss
                except psutil.Error:
                    pass
            out["peak_mib"] = max(out["peak_mib"], rss / 2**20)
            if rss:
                cpu.append(psutil.cpu_percent())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["cpu"] = sum(cpu) / len(cpu) if cpu else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--preset", type=int, default=8)
    ap.add_argument("--small-budget", default="600M")
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    with common.workspace("drapto-parallel-", ns.keep) as tmp:
        clip = make_sample(tmp / "clip1080.mkv", scenes=[ns.seconds / 4] * 4,
                           size="1920x1080", audio=False, subtitles=False, chapters=False)
        with sampled() as plain:
            t_plain = common.plain(clip, tmp / "plain.mkv", 25, ns.preset)
        rows = [("run", "workers", "peak encoder RSS", "budget", "CPU", "waits", "wall",
                 "x plain"),
                ("plain FFmpeg encode", "-", f"{plain['peak_mib']:.0f} MiB", "-",
                 f"{plain['cpu']:.0f} %", "-", f"{t_plain:.1f} s", "1.00")]
        for name, extra, jobs in (("drapto, default budget", (), None),
                                  (f"drapto, -n 2, budget {ns.small_budget}",
                                   (f"memory_budget={ns.small_budget}",), 2)):
            work = tmp / f"work-{len(rows)}"
            with sampled() as s:
                r = common.drapto(clip, work, tmp / f"{work.name}.mkv", f"preset={ns.preset}",
                                   *SETTINGS, *extra, jobs=jobs, quiet=True)
            log = (common.input_folder(work) / "drapto.log").read_text(encoding="utf-8")
            workers = re.search(r"workers: (\d+)", log)
            budgets = [int(b) for b in re.findall(r"of (\d+) MiB held", log)]
            rows.append((name, workers.group(1) if workers else "?",
                         f"{s['peak_mib']:.0f} MiB", f"{min(budgets, default=0)} MiB",
                         f"{s['cpu']:.0f} %", str(len(re.findall(r"waits for", log))),
                         f"{r.seconds:.1f} s", f"{r.seconds / t_plain:.2f}"))
    print(f"clip: 1920x1080, {ns.seconds:g} s, 4 scenes; preset {ns.preset}, CRF 25; "
          f"{os.cpu_count()} cores, {psutil.virtual_memory().available >> 20} MiB free")
    common.table(rows)


if __name__ == "__main__":
    main()
