"""Crash-consistency fuzzing: SIGKILL the whole run at random moments, rerun, repeat.

    .venv/bin/python bench/crashfuzz.py [--kills 20] [--seed 1] [--jobs 2] [--quality vmaf]

A clip with many short segments is encoded once without interruption (the reference, and
the time scale of the kill moments). Then, in series of runs on a fresh work folder, each
run is killed (SIGKILL to its process group) after a seeded random delay, until the kills
are spent; each series is finished with an uninterrupted run. Printed: every kill's moment,
and at the end the kills survived, whether every final output is byte-identical to the
reference, the work redone (encodes started beyond those of the uninterrupted run, from
drapto.log, against the encodes in flight at the kills), and temporary files left after
completion. ``--quality vmaf`` (the default mode, with its calibration and per-segment
search) or ``crf``. Exits 1 when any of those fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import common

from drapto.media.demo import make_sample
from drapto.stages.segments import segment_id

SETTINGS = ("preset=10", "min_segment=0.5", "max_segment=1")


def stamped(work: Path) -> set[str]:
    """The segments whose encode is done (the calibration's: their sample), by id."""
    return {p.stem.split("-", 1)[1] for kind in ("encode", "sample")
            for p in work.glob(f"*/stamps/{kind}-*.json")}


def started(work: Path) -> list[str]:
    """The segments whose encodes drapto.log says were started (corrections too), by id."""
    scenes = list(work.glob("*/scenes.json"))  # none yet: no encode started
    if not scenes:
        return []
    ids = [segment_id(s["start"]) for s in json.loads(scenes[0].read_text())["segments"]]
    log = (scenes[0].parent / "drapto.log").read_text(encoding="utf-8")
    return [ids[int(n)] for n in re.findall(r"start: encoding segment (\d{4})", log)]


def killed(argv: list[str], env: dict[str, str], delay: float) -> bool:
    """Run *argv*, SIGKILL its process group after *delay* s: whether it was killed (else it
    finished first)."""
    child = subprocess.Popen(argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenes", type=int, default=30, help="1-second scenes in the clip")
    ap.add_argument("--quality", choices=("vmaf", "crf"), default="vmaf")
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    settings = (*SETTINGS, f"quality={ns.quality}")
    rng = random.Random(ns.seed)
    with common.workspace("drapto-crashfuzz-", ns.keep) as tmp:
        source = make_sample(tmp / "clip.mkv", scenes=[1.0] * ns.scenes, size="320x180",
                             subtitles=False)
        full = common.drapto(source, tmp / "ref-work", tmp / "ref.mkv", *settings,
                              jobs=ns.jobs, quiet=True).seconds
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
            argv = common.drapto_argv(source, work, out, *settings, jobs=ns.jobs)
            finished = False
            while kills < ns.kills and not finished:
                delay = rng.uniform(0.05, full * 0.6)
                before, log_before = stamped(work), len(started(work))
                if not killed(argv, common.drapto_env(work), delay):
                    finished = True
                    print(f"series {series}: run finished before its kill at {delay:.2f} s")
                    continue
                kills += 1
                done = stamped(work)
                flight = len(set(started(work)[log_before:]) - done)
                in_flight += flight
                print(f"kill {kills:2d} (series {series}) at {delay:6.2f} s: "
                      f"{len(done)}/{segments} segments done (+{len(done - before)}), "
                      f"{flight} in flight")
            if not finished:
                common.drapto(source, work, out, *settings, jobs=ns.jobs, quiet=True)
            same = out.read_bytes() == reference
            identical += same
            starts = started(work)
            redone += len(starts) - ref_starts
            left += [p for p in work.rglob("*") if ".tmp" in p.name]
            left += [p for p in tmp.glob(".*") if ".tmp" in p.name]
            print(f"series {series} done: output identical: {'yes' if same else 'NO'}, "
                  f"encodes started {len(starts)} (uninterrupted: {ref_starts})")

    ok = identical == series and redone <= in_flight and not left
    common.table([
        ("kills survived", f"{kills} over {series} series"),
        ("final outputs byte-identical", f"{identical}/{series}"),
        ("segment encodes redone", f"{redone} (in flight at the kills: {in_flight}; "
         f"{'within' if redone <= in_flight else 'OVER'} that bound)"),
        ("temporary files left after runs", str(len(left))),
    ], title="summary")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
