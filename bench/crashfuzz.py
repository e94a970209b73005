"""Crash-consistency fuzzing: SIGKILL the whole run at random moments, rerun, repeat.

    .venv/bin/python bench/crashfuzz.py [--kills 20] [--seed 1] [--jobs 2] [--quality vmaf]

A clip with many short segments is encoded once without interruption (the reference and
the time scale for the kill moments). Then, in series of runs on a fresh work directory,
each run is killed (SIGKILL to its process group) after a seeded random delay, until the
kills are spent; each series is finished with an uninterrupted run. Printed: every kill's
moment, and at the end the kills survived, whether every final output is byte-identical to
the reference, the work redone (encodes started beyond those of the uninterrupted run, from
drapto.log, against the encodes in flight at the kills), and temporary files left after
completion. ``--quality vmaf`` (the default mode, with its calibration and per-segment
search) or ``crf``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402

from drapto.sample import make_sample  # noqa: E402

SETTINGS = ["preset=10", "min_segment=0.5", "max_segment=1"]


QUALITY = ["quality=vmaf"]


def argv(source: Path, work: Path, output: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", str(jobs),
            "encode", f"input={source}", f"work={work}", f"output={output}", *SETTINGS,
            *QUALITY]


def stamped(work: Path) -> set[str]:
    return {p.stem[len("encode-"):] for p in work.glob("*/stamps/encode-*.json")}


def started(work: Path) -> list[str]:
    logs = list(work.glob("*/drapto.log"))
    text = logs[0].read_text(encoding="utf-8") if logs else ""
    return re.findall(r"start: encoding segment (\d{4})", text)


def leftovers(*folders: Path) -> list[Path]:
    return [p for d in folders for p in d.rglob("*") if ".tmp" in p.name]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenes", type=int, default=30, help="1-second scenes in the clip")
    ap.add_argument("--quality", choices=("vmaf", "crf"), default="vmaf")
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    QUALITY[:] = [f"quality={ns.quality}"]
    rng = random.Random(ns.seed)
    with workspace("drapto-crashfuzz-", ns.keep) as tmp:
        source = make_sample(tmp / "clip.mkv", scenes=[1.0] * ns.scenes, size="320x180",
                             subtitles=False)
        t0 = time.monotonic()
        subprocess.run(argv(source, tmp / "ref-work", tmp / "ref.mkv", ns.jobs), check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        full = time.monotonic() - t0
        reference = (tmp / "ref.mkv").read_bytes()
        segments = len(stamped(tmp / "ref-work"))
        ref_starts = len(started(tmp / "ref-work"))  # with quality=vmaf, corrections too
        print(f"clip: {ns.scenes} scenes, {segments} segments; uninterrupted run {full:.1f} s; "
              f"seed {ns.seed}, -n {ns.jobs}")

        kills = series = identical = redone = in_flight = 0
        left: list[Path] = []
        while kills < ns.kills:
            series += 1
            work, out = tmp / f"work{series}", tmp / f"out{series}.mkv"
            finished = False
            while kills < ns.kills and not finished:
                delay = rng.uniform(0.05, full * 0.6)
                before, log_before = stamped(work), len(started(work))
                run = subprocess.Popen(argv(source, work, out, ns.jobs), start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       stdin=subprocess.DEVNULL)
                try:
                    run.wait(timeout=delay)
                    finished = True
                    print(f"series {series}: run finished before its kill at {delay:.2f} s")
                except subprocess.TimeoutExpired:
                    os.killpg(run.pid, signal.SIGKILL)
                    run.wait()
                    kills += 1
                    done = stamped(work)
                    flight = len(set(started(work)[log_before:]) - done)
                    in_flight += flight
                    print(f"kill {kills:2d} (series {series}) at {delay:6.2f} s: "
                          f"{len(done)}/{segments} segments done (+{len(done - before)}), "
                          f"{flight} in flight")
            if not finished:
                subprocess.run(argv(source, work, out, ns.jobs), check=True,
                               capture_output=True, stdin=subprocess.DEVNULL)
            same = out.read_bytes() == reference
            identical += same
            starts = started(work)
            redone += len(starts) - ref_starts
            left += leftovers(work) + [p for p in tmp.glob(".*") if ".tmp" in p.name]
            print(f"series {series} done: output identical: {'yes' if same else 'NO'}, "
                  f"encodes started {len(starts)} (uninterrupted: {ref_starts})")

        print("\n=== summary ===")
        print(f"kills survived:                   {kills} over {series} series")
        print(f"final outputs byte-identical:     {identical}/{series} "
              f"({'yes' if identical == series else 'NO'})")
        print(f"segment encodes redone:           {redone} "
              f"(encodes in flight at the kills: {in_flight}; "
              f"{'within' if redone <= in_flight else 'OVER'} that bound)")
        print(f"temporary files left after runs:  {len(left)}")
        sys.exit(0 if identical == series and redone <= in_flight and not left else 1)


if __name__ == "__main__":
    main()
