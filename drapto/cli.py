"""The `drapto` command: the same doit tasks, for users who did not clone the repository.

    drapto encode movie.mkv -o out/ --profile film -j 2 --set preset=8
    drapto report --work ~/drapto-work
    drapto list
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

TASKS = Path(__file__).resolve().parent / "tasks.py"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="drapto", description="Re-encode movies to AV1 + Opus MKV; resumable, as a "
        "doit build. Every setting of profiles/default.yaml can be given with --set.")
    sub = ap.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="encode one file", description="Encode one file. "
                         "Run it again after an interruption: finished work is kept.")
    enc.add_argument("input", help="the video file")
    enc.add_argument("-o", "--output", help="output .mkv, or a directory ending in / "
                     "(default: <input name>.av1.mkv in the current directory)")
    enc.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    enc.add_argument("-p", "--profile", help="profile name or .yaml path (default)")
    enc.add_argument("-c", "--config", help="YAML file of settings over the profile")
    enc.add_argument("-j", "--jobs", type=int, help="parallel tasks (default: what the "
                     "memory budget and the cores allow)")
    enc.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a setting, e.g. --set preset=8 (repeatable)")
    rep = sub.add_parser("report", help="statistics of every encode under a work root")
    rep.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    sub.add_parser("list", help="the tasks of the pipeline")
    return ap


def doit_argv(ns: argparse.Namespace) -> list[str]:
    """The doit command line for the parsed arguments."""
    base = ["-f", str(TASKS)]
    if ns.command == "list":
        return ["list", *base]
    if ns.command == "report":
        return ["run", *base, "report", *([f"work={ns.work}"] if ns.work else [])]
    for item in ns.set:
        if "=" not in item:
            raise SystemExit(f"drapto: --set {item}: expected KEY=VALUE")
    opts = ["-n", str(ns.jobs)] if ns.jobs else []
    named = {"input": ns.input, "output": ns.output, "work": ns.work,
             "profile": ns.profile, "config": ns.config}
    return ["run", *base, *opts, "encode",
            *(f"{k}={v}" for k, v in named.items() if v), *ns.set]


def main(argv: Sequence[str] | None = None) -> int:
    from doit.doit_cmd import DoitMain

    ns = parser().parse_args(argv)
    args = doit_argv(ns)
    sys.argv = ["doit", *args]  # the tasks read doit's own options (-n) from it
    return int(DoitMain().run(args))


if __name__ == "__main__":
    sys.exit(main())
