"""Memory-aware parallel encoding on a 1080p clip, against one plain FFmpeg encode.

    .venv/bin/python bench/parallel.py [--seconds 12] [--preset 8] [--small-budget 600M]

Prints, for drapto with the default budget and with a deliberately small one: the workers
chosen, the peak total resident memory of the encoder processes (sampled every 0.1 s)
against the budget, the CPU utilisation of the machine during the encode phase, and the
wall time against one plain FFmpeg libsvtav1 encode of the same clip at the same settings,
measured in the same run. Each run uses a fresh cache folder (no learned estimates).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402

from drapto import proc  # noqa: E402
from drapto.sample import make_sample  # noqa: E402


class Sampler(threading.Thread):
    """Peak summed RSS of FFmpeg processes under *root*, and CPU % while any is running."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.stop, self.peak, self.cpu = root, threading.Event(), 0, []

    def run(self) -> None:
        psutil.cpu_percent()
        while not self.stop.wait(0.1):
            try:
                root = psutil.Process(self.root)
                kids = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            rss = 0
            for k in kids:
                try:
                    if "ffmpeg" in k.name():
                        rss += k.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, rss)
            if rss:
                self.cpu.append(psutil.cpu_percent())


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, Sampler]:
    start = time.monotonic()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
    sampler = Sampler(child.pid)
    sampler.start()
    _, err = child.communicate()
    sampler.stop.set()
    if child.returncode != 0:
        sys.exit(f"failed: {argv}\n{err.decode(errors='replace')[-2000:]}")
    return time.monotonic() - start, sampler


def drapto_run(clip: Path, tmp: Path, name: str, preset: int, budget: str | None,
               jobs: int | None = None) -> dict[str, object]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / f"cache-{name}"))
    argv = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"),
            *(["-n", str(jobs)] if jobs else []), "encode",
            f"input={clip}", f"work={tmp / name}", f"output={tmp / name}.mkv",
            f"preset={preset}", "crf_hd=25", "min_segment=2", "max_segment=3", "crop=off"]
    if budget:
        argv.append(f"memory_budget={budget}")
    wall, sampler = timed(argv, env)
    log = next((tmp / name).glob("*/drapto.log")).read_text(encoding="utf-8")
    workers = re.search(r"workers: (\d+)", log)
    budgets = [int(b) for b in re.findall(r"of (\d+) MiB held", log)]
    waits = len(re.findall(r"waits for", log))
    return {"wall": wall, "workers": workers.group(1) if workers else "?",
            "peak_mib": sampler.peak >> 20, "budget_mib": min(budgets) if budgets else 0,
            "cpu": sum(sampler.cpu) / len(sampler.cpu) if sampler.cpu else 0.0,
            "waits": waits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--preset", type=int, default=8)
    ap.add_argument("--small-budget", default="600M")
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    with workspace("drapto-parallel-", ns.keep) as tmp:
        scenes = [ns.seconds / 4] * 4
        clip = make_sample(tmp / "clip1080.mkv", scenes=scenes, size="1920x1080",
                           audio=False, subtitles=False, chapters=False)
        plain_argv = [proc.ffmpeg(), "-v", "error", "-i", str(clip), "-map", "0:v:0",
                      "-c:v", "libsvtav1", "-preset", str(ns.preset), "-crf", "25",
                      "-pix_fmt", "yuv420p10le", "-svtav1-params", "tune=0",
                      str(tmp / "plain.mkv")]
        plain, plain_s = timed(plain_argv, dict(os.environ, SVT_LOG="1"))
        runs = {"default budget": drapto_run(clip, tmp, "auto", ns.preset, None),
                f"-n 2 and budget {ns.small_budget}": drapto_run(
                    clip, tmp, "small", ns.preset, ns.small_budget, jobs=2)}
        print(f"clip: 1920x1080, {ns.seconds:g} s, 4 scenes; preset {ns.preset}, CRF 25; "
              f"{os.cpu_count()} cores, {psutil.virtual_memory().available >> 20} MiB free")
        print(f"plain FFmpeg encode: {plain:.1f} s, peak {plain_s.peak >> 20} MiB, "
              f"CPU {sum(plain_s.cpu) / max(1, len(plain_s.cpu)):.0f} %")
        for name, r in runs.items():
            print(f"drapto, {name}: workers {r['workers']}, peak encoder RSS "
                  f"{r['peak_mib']} MiB of a {r['budget_mib']} MiB budget, CPU during encodes "
                  f"{r['cpu']:.0f} %, waits {r['waits']}, wall {r['wall']:.1f} s = "
                  f"{r['wall'] / plain:.2f} x plain")  # type: ignore[operator]


if __name__ == "__main__":
    main()
