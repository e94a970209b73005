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

from . import __version__
from .settings import documented

TASKS = Path(__file__).resolve().parent / "tasks.py"


def _settings_options(p: argparse.ArgumentParser) -> None:
    """One option per setting (--target-vmaf 94), made from profiles/default.yaml, so the
    options, the settings and their help cannot drift apart."""
    group = p.add_argument_group("settings (each also DRAPTO_<KEY> or --set key=value; "
                                 "defaults from profiles/default.yaml)")
    for key, (text, default) in documented().items():
        group.add_argument(f"--{key.replace('_', '-')}", dest=f"setting_{key}",
                           metavar="VALUE", help=f"{text} (default: {default})"
                           .replace("%", "%%"))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="drapto", description="Re-encode movies to AV1 + Opus MKV; resumable, as a "
        "doit build. Every setting of profiles/default.yaml is an option of encode and jobs.")
    ap.add_argument("--version", action="version", version=f"drapto {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="encode a file, a clip of it, or a folder of files",
                         description="Encode a video file (or a clip of it: --start, --end, "
                         "--duration), or every video file of a folder (a batch). Run it "
                         "again after an interruption: finished work is kept.")
    enc.add_argument("input", help="the video file, or a folder of them")
    enc.add_argument("-o", "--output", help="output .mkv, or a directory ending in / "
                     "(default: <input name>.av1.mkv in the current directory)")
    enc.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    enc.add_argument("-p", "--profile", help="profile name or .yaml path (default)")
    enc.add_argument("-c", "--config", help="YAML file of settings over the profile")
    enc.add_argument("-j", "--jobs", type=int, help="parallel tasks (default: what the "
                     "memory budget and the cores allow)")
    enc.add_argument("--start", help="a clip's start: 90, 1:30, 1h30m")
    enc.add_argument("--end", help="a clip's end (or --duration)")
    enc.add_argument("--duration", help="a clip's length")
    enc.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a setting, e.g. --set preset=8 (repeatable)")
    enc.add_argument("--overwrite", action="store_true", help="replace an output file that "
                     "drapto did not write for this input")
    _settings_options(enc)
    jobs = sub.add_parser("jobs", help="encode the jobs and clips of a job file",
                          description="Encode every job and clip of a YAML/JSON job file "
                          "(- for standard input), or of a yt-dlp info JSON (--api ytdlp).")
    jobs.add_argument("file", help="the job file, or - for standard input")
    jobs.add_argument("--api", choices=("jobs", "ytdlp", "generic", "auto"),
                      help="what the file is (default: a list of jobs)")
    jobs.add_argument("--chapters", help="with --api ytdlp: the chapters to cut, by title, "
                      "comma-separated (default: every chapter)")
    jobs.add_argument("-i", "--input", help="with --api ytdlp/generic: the video file, "
                      "instead of the one the document names")
    jobs.add_argument("-o", "--output", help="folder for the jobs that name no output")
    jobs.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    jobs.add_argument("-p", "--profile", help="profile name or .yaml path (default)")
    jobs.add_argument("-c", "--config", help="YAML file of settings over the profile")
    jobs.add_argument("-j", "--jobs", type=int, help="parallel tasks")
    jobs.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="a setting for every job, e.g. --set preset=8 (repeatable)")
    jobs.add_argument("--overwrite", action="store_true", help="replace outputs that drapto "
                      "did not write for their inputs")
    _settings_options(jobs)
    rep = sub.add_parser("report", help="statistics of every encode under a work root, or "
                         "of a job file's jobs")
    rep.add_argument("file", nargs="?", help="a job file: its jobs done, failed or left")
    rep.add_argument("--api", choices=("jobs", "ytdlp", "generic", "auto"))
    rep.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    sub.add_parser("list", help="the tasks of the pipeline")
    return ap


def doit_argv(ns: argparse.Namespace) -> list[str]:
    """The doit command line for the parsed arguments."""
    base = ["-f", str(TASKS)]
    if ns.command == "list":
        return ["list", *base]
    if ns.command == "report":
        return ["run", *base, "report", *([f"work={ns.work}"] if ns.work else []),
                *([f"jobs={ns.file}"] if ns.file else []),
                *([f"api={ns.api}"] if ns.api else [])]
    for item in ns.set:
        if "=" not in item:
            raise SystemExit(f"drapto: --set {item}: expected KEY=VALUE")
    opts = ["-n", str(ns.jobs)] if ns.jobs else []
    named = {"input": ns.input, "output": ns.output, "work": ns.work,
             "profile": ns.profile, "config": ns.config,
             **{k: getattr(ns, k, None) for k in ("start", "end", "duration")}}
    if ns.command == "jobs":
        named.update(jobs=ns.file, api=ns.api, chapters=ns.chapters)
    if ns.overwrite:
        named["overwrite"] = "yes"
    given = {k[len("setting_"):]: v for k, v in vars(ns).items()
             if k.startswith("setting_") and v is not None}
    settings = [*(f"{k}={v}" for k, v in given.items()), *ns.set]
    return ["run", *base, *opts, "encode",
            *(f"{k}={v}" for k, v in named.items() if v), *settings]


def main(argv: Sequence[str] | None = None) -> int:
    from doit.doit_cmd import DoitMain

    ns = parser().parse_args(argv)
    args = doit_argv(ns)
    sys.argv = ["doit", *args]  # the tasks read doit's own options (-n) from it
    return int(DoitMain().run(args))


if __name__ == "__main__":
    sys.exit(main())
