"""The `drapto` command: the same doit tasks, for users who did not clone the repository.

    drapto encode movie.mkv -o out/ --preset 8 --target-vmaf 94 -n 2
    drapto report --work ~/drapto-work
    drapto list
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from drapto import __version__
from drapto.settings import brief, documented

TASKS = Path(__file__).resolve().parents[1] / "tasks.py"


# The settings people change first, shown beside the input and output (their help in a
# few words); the rest are in the advanced groups below them, shown by --help-all.
COMMON = ("preset", "target_vmaf", "quality", "crf_hd", "max_encoded_percent", "over_cap",
          "crop", "deinterlace", "audio_languages", "subtitle_languages", "keep_work")
SHORT = {"preset": "SVT-AV1's speed: 0 slowest and best .. 13 fastest",
         "target_vmaf": "the quality: the film's mean VMAF (HDR: --target-vmaf-hdr)",
         "quality": "vmaf: each segment's CRF searched for the target; crf: one fixed CRF "
                    "(--crf-hd), faster"}
# What `drapto encode --help` and `drapto jobs --help` show (at most 10 options each);
# --help-all shows every option.
FIRST = {"encode": ("output", "start", "end", "duration", "overwrite", "parallel", "set",
                    "setting_preset", "setting_target_vmaf", "setting_quality"),
         "jobs": ("api", "chapters", "input", "output", "overwrite", "parallel", "set",
                  "setting_preset", "setting_target_vmaf", "setting_quality")}
ADVANCED = {
    "quality targeting": ("target_vmaf_hdr", "vmaf_pool", "vmaf_tolerance", "vmaf_overshoot",
                          "film_tolerance", "vmaf_subsample", "search", "crf_min",
                          "crf_max", "search_start_crf", "search_preset", "search_sample",
                          "search_attempts", "calibration_segments"),
    "encoder": ("crf_uhd", "pixel_format", "svt_params", "dolby_vision", "crf_dv",
                "crf_dv_uhd"),
    "picture analysis": ("crop_samples", "crop_limit", "crop_limit_hdr", "scene_threshold",
                         "scene_threshold_hdr", "min_segment", "max_segment"),
    "tracks": ("audio_bitrates", "audio_bitrate_per_channel", "audio_drop_titles",
               "audio_tracks", "audio_copy", "subtitle_drop_titles", "subtitle_tracks"),
    "machine": ("memory_budget", "memory_estimates", "executor"),
}


def _metavar(default: object) -> str:
    return "N" if isinstance(default, int) else "X" if isinstance(default, float) else "VALUE"


def _settings_options(p: argparse.ArgumentParser, common: argparse._ArgumentGroup) -> None:
    """One option per setting (--target-vmaf 94), made from profiles/default.yaml, so the
    options, the settings and their help cannot drift apart: the common ones in *common*,
    the rest in advanced groups (a setting in none of them is under "other")."""
    settings = documented()
    placed = {k for keys in ADVANCED.values() for k in keys} | set(COMMON)
    groups = {**{k: common for k in COMMON}}
    for title, keys in [*ADVANCED.items(),
                        ("other", tuple(k for k in settings if k not in placed))]:
        if keys:
            group = p.add_argument_group(f"advanced: {title}")
            groups.update({k: group for k in keys})
    for key, (text, default) in settings.items():
        groups[key].add_argument(f"--{key.replace('_', '-')}", dest=f"setting_{key}",
                                 metavar=_metavar(default),
                                 help=f"{SHORT.get(key) or brief(text)} (default: {default})"
                                 .replace("%", "%%"))


def _work_options(p: argparse.ArgumentParser, group: argparse._ArgumentGroup,
                  what: str) -> None:
    group.add_argument("-n", "--parallel", type=int, metavar="N",
                       help="encodes at once (default: what the memory budget and the "
                       "cores allow)")
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help=f"a setting{what}, e.g. --set preset=8 (repeatable)")
    group.add_argument("-p", "--profile", help="profile name or .yaml path (default)")
    group.add_argument("-c", "--config", help="YAML file of settings over the profile")
    group.add_argument("-w", "--work", help="root of the work folders (./drapto-work)")
    # -j was the old spelling of --parallel.
    p.add_argument("-j", dest="parallel", type=int, help=argparse.SUPPRESS)


def versions() -> str:
    """drapto's version, and those of the FFmpeg and SVT-AV1 whose bytes it promises."""
    import re
    import subprocess

    from drapto.media import proc

    ff = proc.ffmpeg()
    first = subprocess.run([ff, "-version"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, check=False).stdout.split("\n")[0]
    svt = subprocess.run([ff, "-v", "info", "-f", "lavfi", "-i", "color=s=64x64:d=0.04",
                          "-frames:v", "1", "-c:v", "libsvtav1", "-preset", "12", "-f",
                          "null", "-"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=False).stderr
    m = re.search(r"SVT-AV1 Encoder Lib (\S+)", svt)
    return "\n".join([f"drapto {__version__}", f"FFmpeg: {first or 'not found'} ({ff})",
                      f"SVT-AV1: {m.group(1) if m else 'not found'}"])


class _Versions(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="drapto's, FFmpeg's and "
                         "SVT-AV1's versions")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(versions())
        parser.exit()


ENCODE_USAGE = "drapto encode INPUT [-o OUTPUT] [--preset N] [--target-vmaf X] [options]"


def _first_only(sub: argparse.ArgumentParser, name: str) -> None:
    """Hide every option of *sub* but those people change first (they still work)."""
    for action in sub._actions:
        if action.option_strings and action.dest not in (*FIRST[name], "help", "help_all"):
            action.help = argparse.SUPPRESS


def parser(full: bool = False) -> argparse.ArgumentParser:
    """drapto's arguments; *full*: the help lists every option (--help-all), not only the
    ones people change first."""
    ap = argparse.ArgumentParser(
        prog="drapto", description="Re-encode movies to AV1 + Opus MKV; resumable, as a "
        "doit build. Every setting of profiles/default.yaml is an option of encode and jobs.")
    ap.add_argument("--version", action=_Versions)
    sub = ap.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="encode a file, a clip of it, or a folder of files",
                         usage=ENCODE_USAGE,
                         description="Encode a video file (or a clip of it: --start, --end, "
                         "--duration), or every video file of a folder (a batch). Run it "
                         "again after an interruption: finished work is kept.")
    enc.add_argument("input", help="the video file, or a folder of them")
    main = enc.add_argument_group("the options people change first")
    main.add_argument("-o", "--output", help="output .mkv, or a directory ending in / "
                      "(default: <input name>.av1.mkv in the current directory)")
    main.add_argument("--start", metavar="T", help="a clip's start: 90, 1:30, 1h30m")
    main.add_argument("--end", metavar="T", help="a clip's end (or --duration)")
    main.add_argument("--duration", metavar="T", help="a clip's length")
    main.add_argument("--overwrite", action="store_true", help="replace an output file that "
                      "drapto did not write for this input")
    _work_options(enc, main, "")
    _settings_options(enc, main)
    enc.add_argument("--help-all", action="help", help="every option (profiles, the work "
                     "folder, every setting); the settings reference: docs/pages/settings.md")
    jobs = sub.add_parser("jobs", help="encode the jobs and clips of a job file",
                          description="Encode every job and clip of a YAML/JSON job file "
                          "(- for standard input), or of a yt-dlp info JSON (--api ytdlp).")
    jobs.add_argument("file", help="the job file, or - for standard input")
    first = jobs.add_argument_group("the options people change first")
    first.add_argument("--api", choices=("jobs", "ytdlp", "generic", "auto"),
                       help="what the file is (default: a list of jobs)")
    first.add_argument("--chapters", help="with --api ytdlp: the chapters to cut, by title, "
                       "comma-separated (default: every chapter)")
    first.add_argument("-i", "--input", help="with --api ytdlp/generic: the video file, "
                       "instead of the one the document names")
    first.add_argument("-o", "--output", help="folder for the jobs that name no output")
    first.add_argument("--overwrite", action="store_true", help="replace outputs that "
                       "drapto did not write for their inputs")
    _work_options(jobs, first, " for every job")
    _settings_options(jobs, first)
    jobs.add_argument("--help-all", action="help", help="every option (profiles, the work "
                      "folder, every setting)")
    if not full:
        _first_only(enc, "encode")
        _first_only(jobs, "jobs")
    rep = sub.add_parser("report", help="statistics of every encode under a work root, or "
                         "of a job file's jobs")
    rep.add_argument("file", nargs="?", help="a job file: its jobs done, failed or left")
    rep.add_argument("--api", choices=("jobs", "ytdlp", "generic", "auto"))
    rep.add_argument("-w", "--work", help="root of the work directories (./drapto-work)")
    sub.add_parser("list", help="the tasks of the pipeline")
    return ap


def _subparser(ap: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name, ap)
    return ap


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; an unknown option gets the same "did you mean" as an unknown setting."""
    import difflib

    args = list(sys.argv[1:] if argv is None else argv)
    ap = parser(full="--help-all" in args)
    before = args[:args.index("--")] if "--" in args else args
    for arg in before[1:]:  # a file named like an option: say how to name it
        if arg.startswith("-") and arg != "-" and Path(arg).exists():
            _subparser(ap, before[0]).error(
                f"{arg} is read as an option: write ./{arg} for the file (or put it after --)")
    ns, extra = ap.parse_known_args(args)
    if extra:
        sub = _subparser(ap, ns.command)
        unknown = next((x for x in extra if x.startswith("-")), extra[0])
        known = [o for o in sub._option_string_actions if o.startswith("--")]
        close = difflib.get_close_matches(unknown.split("=")[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        sub.error(f"unknown option {unknown}{hint}")
    return ns


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
    opts = ["-n", str(ns.parallel)] if ns.parallel else []
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


# doit's commands that drapto replaces (whatever folder it is run from).
COMMANDS = {"COMMAND": {"list": "drapto.run.listing:List"}}


def main(argv: Sequence[str] | None = None) -> int:
    from doit.doit_cmd import DoitMain

    try:
        ns = parse(argv)
        if ns.command in ("list", "report"):  # a closed pipe ends them quietly
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        args = doit_argv(ns)
        sys.argv = ["doit", *args]  # the tasks read doit's own options (-n) from it
        from drapto.run import runtime

        runtime.SPOKEN = "drapto"  # its lines name settings as --key value
        return int(DoitMain(extra_config=COMMANDS).run(args))
    except BrokenPipeError:  # the reader went away (drapto list | head): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
