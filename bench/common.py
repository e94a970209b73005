"""What every benchmark runs on: the film and its mezzanine, drapto's command line, one plain
FFmpeg encode, libvmaf on every frame, a timer and the printed table.

Each bench is a short script on this module; docs/pages/benchmarks.md gives what each
answers, its command and today's figures. Ratios are taken side by side: both sides in one
script run, one after the other (a shared machine moves single runs by about ±10 %). FFmpeg
is drapto's own (``drapto.media.proc``: imageio-ffmpeg's unless DRAPTO_FFMPEG says otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's drapto, whichever one the venv installed

from drapto.media import proc  # noqa: E402

CLIPS = REPO / "bench" / "clips"   # downloads and mezzanines kept between runs, not committed
MOVIEPY = "moviepy==2.2.1"
MOVIEPY_ZIP = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/" \
              "moviepy_10_minutes.zip"


# -- folders and time ----------------------------------------------------------------------

@contextlib.contextmanager
def workspace(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary folder for one benchmark run, removed at the end unless *keep*."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Timer:
    seconds: float = 0.0


@contextlib.contextmanager
def timed() -> Iterator[Timer]:
    """The wall time of a ``with`` block: ``with timed() as t: ...``, then ``t.seconds``."""
    t, start = Timer(), time.monotonic()
    try:
        yield t
    finally:
        t.seconds = time.monotonic() - start


# -- the film ------------------------------------------------------------------------------

def film(folder: Path = CLIPS) -> Path:
    """Big Buck Bunny (1280x720, 24 fps, 9:56, H.264 at 0.67 Mbit/s) from the moviepy
    2.2.1 source distribution on PyPI (pip download), kept in *folder*."""
    out = folder / "bbb.mp4"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", MOVIEPY, "-d", str(folder)], check=True)
    with tarfile.open(folder / f"{MOVIEPY.replace('==', '-')}.tar.gz") as tar:
        blob = tar.extractfile(MOVIEPY_ZIP)
        assert blob is not None
        (folder / "moviepy_10_minutes.zip").write_bytes(blob.read())
    with zipfile.ZipFile(folder / "moviepy_10_minutes.zip") as z:
        out.write_bytes(z.read("moviepy_10_minutes/resources/bbb.mp4"))
    return out


def excerpt(src: Path, spec: str, folder: Path) -> Path:
    """START:DURATION seconds of *src*, stream-copied (from the keyframe before START)."""
    start, duration = spec.split(":")
    out = folder / f"{src.stem}-{start}-{duration}.mkv"
    proc.run(["-y", "-v", "error", "-ss", start, "-i", str(src), "-t", duration,
              "-map", "0:v:0", "-map", "0:a", "-c", "copy", "-avoid_negative_ts", "make_zero",
              str(out)], what="cutting the excerpt")
    return out


def mezzanine(src: Path, folder: Path) -> Path:
    """*src* as a high-bitrate mezzanine, as a remux is (x264 CRF 14, veryfast; audio
    copied), kept in *folder*."""
    out = folder / f"{src.stem}-mezzanine.mkv"
    if not out.exists():
        tmp = out.with_name(f".{out.stem}.tmp.mkv")
        proc.run(["-y", "-v", "error", "-i", str(src), "-map", "0:v:0", "-map", "0:a",
                  "-c:v", "libx264", "-crf", "14", "-preset", "veryfast", "-c:a", "copy",
                  str(tmp)], what="making the mezzanine")
        tmp.replace(out)
    return out


def duration(path: Path) -> float:
    """Seconds, as drapto's probe reads them."""
    from drapto.media.probing import probe
    return float(probe(path)["duration_ms"]) / 1000


def video_bytes(path: Path) -> int:
    """The bytes of the first video stream's packets."""
    sizes: list[int] = []

    def packet(line: str) -> None:
        if line and not line.startswith("#"):
            sizes.append(int(line.split(",")[4]))
    proc.run(["-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy",
              "-f", "framecrc", "-"], what="counting the video's bytes", on_line=packet)
    return sum(sizes)


# -- runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    seconds: float
    status: int
    stdout: str

    @property
    def executed(self) -> list[str]:
        """The tasks doit ran (its ``.  name`` lines: drapto's reporter prints no
        up-to-date task)."""
        return [line[3:].strip() for line in self.stdout.splitlines() if line.startswith(".  ")]


def run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        ok: Sequence[int] = (0,), quiet: bool = False) -> Run:
    """Run *argv* and time it; stdout is kept, stderr shown (kept and shown on failure only
    when *quiet*). An exit status not in *ok* ends the bench with the command's last lines."""
    start = time.monotonic()
    done = subprocess.run(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE if quiet else None,
                          text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode not in ok:
        tail = "\n".join((done.stdout + (done.stderr or "")).splitlines()[-20:])
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(argv)}\n{tail}")
    return Run(seconds, done.returncode, done.stdout)


def drapto_argv(src: Path, work: Path, out: Path, *settings: str,
                jobs: int | None = None) -> list[str]:
    """``doit [-n JOBS] encode input=SRC work=WORK output=OUT KEY=VALUE...``"""
    return [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"),
            *(["-n", str(jobs)] if jobs else []), "encode",
            f"input={src}", f"work={work}", f"output={out}", *settings]


def drapto_env(work: Path) -> dict[str, str]:
    """A bench's drapto sees the defaults: no DRAPTO_* variable of the user's but the FFmpeg
    (the benches' own), a cache folder of its own beside *work* (no memory estimates
    learned by other runs), and Python's bytecode kept as a user's is."""
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("DRAPTO_") or k == "DRAPTO_FFMPEG")
           and k != "PYTHONDONTWRITEBYTECODE"}  # a user's Python keeps its bytecode
    env["XDG_CACHE_HOME"] = str(work.with_name(f"{work.name}.cache"))
    return env


def drapto(src: Path, work: Path, out: Path, *settings: str, jobs: int | None = None,
           ok: Sequence[int] = (0,), quiet: bool = False) -> Run:
    """One drapto run (settings as KEY=VALUE), timed."""
    return run(drapto_argv(src, work, out, *settings, jobs=jobs), cwd=REPO,
               env=drapto_env(work), ok=ok, quiet=quiet)


def input_folder(work: Path) -> Path:
    """The folder of the (one) input in a work root: WORK/<name>-<hash>/."""
    found = next((p for p in work.iterdir() if p.is_dir()), None) if work.is_dir() else None
    if found is None:
        raise SystemExit(f"{work}: no input folder (drapto stopped before it made one)")
    return found


def plain(src: Path, out: Path, crf: float, preset: int) -> float:
    """One plain FFmpeg encode of *src*'s video with drapto's encoder settings (libsvtav1 at
    *crf* and *preset*, 10 bits, tune=0), in one piece: its wall time."""
    with timed() as t:
        proc.run(["-y", "-v", "error", "-i", str(src), "-map", "0:v:0", "-c:v", "libsvtav1",
                  "-preset", str(preset), "-crf", f"{crf:g}", "-pix_fmt", "yuv420p10le",
                  "-svtav1-params", "tune=0", str(out)], what=f"plain encode at CRF {crf:g}")
    return t.seconds


def frame_vmaf(distorted: Path, ref: Path, crop: Sequence[int] | None = None,
               pix_fmt: str = "yuv420p10le", log: Path | None = None) -> list[float]:
    """libvmaf on every frame of *distorted* against *ref* (cropped as drapto cropped it),
    both in *pix_fmt*, paired by frame number; the log is kept (*log*, else beside
    *distorted*)."""
    log = log or distorted.with_suffix(".vmaf.json")
    cut = f"crop={':'.join(map(str, crop))}," if crop else ""
    proc.run(["-v", "error", "-i", str(distorted), "-i", str(ref), "-filter_complex",
              f"[0:v]settb=AVTB,setpts=N,format={pix_fmt}[d];"
              f"[1:v]{cut}settb=AVTB,setpts=N,format={pix_fmt}[r];"
              f"[d][r]libvmaf=log_fmt=json:log_path={log.name}:n_threads={os.cpu_count()}",
              "-f", "null", "-"], what="VMAF", cwd=log.parent)
    return [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]]


def per_segment(scores: Sequence[float], segments: Sequence[dict[str, Any]]) -> list[float]:
    """Each segment's mean of *scores* (scenes.json's segments: start, frames)."""
    return [statistics.fmean(scores[s["start"]:s["start"] + s["frames"]]) for s in segments]


def record_of(folder: Path, sid: str) -> dict[str, Any]:
    """The record of the encode of segment *sid* that the film was joined from, by the
    film's decisions: encoded again for the film's mean, its calibration sample (unless the
    target was lowered), or its encode. *folder*: the input's folder of a work root."""
    def read(name: str) -> Any:
        path = folder / name
        return json.loads(path.read_text()) if path.exists() else None
    balance, size = read("balance.json") or {}, read("size.json")
    kind = "encoded"
    if sid in balance.get("segments", {}):
        kind = "balanced"
    elif (folder / "calibration" / f"{sid}.json").exists() and size and \
            size["target"] == size["asked"]:
        kind = "calibration"
    return dict(read(f"{kind}/{sid}.json"))


# -- printing ------------------------------------------------------------------------------

def versus(name: str, seconds: float, base: str, base_seconds: float) -> str:
    """``drapto 168 s / plain at CRF 39 76 s = 2.20 x``"""
    return f"{name} {seconds:.0f} s / {base} {base_seconds:.0f} s = {seconds / base_seconds:.2f} x"


def table(rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    """Print *rows* (the first one the header, when it is one) as aligned columns."""
    if title:
        print(f"\n=== {title} ===")
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells if i < len(row))
              for i in range(max(map(len, cells)))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
