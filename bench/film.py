"""Quality targeting at the size of a film, in the default mode as shipped: its cost against
one plain encode, and its accuracy measured independently.

    .venv/bin/python bench/film.py --excerpt 180:120 --source mezzanine   # preset 6
    .venv/bin/python bench/film.py --excerpt 180:120 --source lean        # the skip
    .venv/bin/python bench/film.py --preset 8 --source mezzanine          # the whole film

The film is Big Buck Bunny (1280x720, 24 fps, 9:56) from the moviepy 2.2.1 source
distribution on PyPI, fetched once into --clips (never committed). ``lean`` is its own
H.264 (about 600 kbit/s), stream-copied: AV1 at VMAF 93 takes more than its bytes, so the
default over_cap=skip stops after the calibration. ``mezzanine`` is the same video
re-encoded with x264 ``-crf 14 -preset veryfast`` (audio copied), a high-bitrate source as
a remux is, where the cap cannot bind. In one run, one after the other:
1. drapto with every setting at its default but the preset;
2. one plain FFmpeg libsvtav1 encode of the same video at the same preset and drapto's
   median CRF (for a skip: the calibration's CRF);
then libvmaf on every frame of both outputs against the source: per segment, the film's
frame-weighted mean, and the plain encode's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402

from drapto import proc  # noqa: E402

ZIP = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/" \
      "moviepy_10_minutes.zip"


def fetch_film(folder: Path) -> Path:
    """bbb.mp4 from the moviepy 2.2.1 sdist (pip download), kept in *folder*."""
    film = folder / "bbb.mp4"
    if film.exists():
        return film
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", "moviepy==2.2.1", "-d", str(folder)], check=True)
    with tarfile.open(folder / "moviepy-2.2.1.tar.gz") as tar:
        blob = tar.extractfile(ZIP)
        assert blob is not None
        (folder / "moviepy_10_minutes.zip").write_bytes(blob.read())
    with zipfile.ZipFile(folder / "moviepy_10_minutes.zip") as z:
        film.write_bytes(z.read("moviepy_10_minutes/resources/bbb.mp4"))
    return film


def mezzanine(src: Path, folder: Path) -> Path:
    """*src* re-encoded as a high-bitrate mezzanine (x264 CRF 14, veryfast; audio copied),
    kept in *folder*."""
    out = folder / f"{src.stem}-mezzanine.mkv"
    if not out.exists():
        with_tmp = out.with_name(f".{out.stem}.tmp.mkv")
        proc.run(["-y", "-v", "error", "-i", str(src), "-map", "0:v:0", "-map", "0:a",
                  "-c:v", "libx264", "-crf", "14", "-preset", "veryfast", "-c:a", "copy",
                  str(with_tmp)], what="making the mezzanine")
        with_tmp.replace(out)
    return out


def excerpt(film: Path, spec: str, tmp: Path) -> Path:
    """START:DURATION seconds of the film, stream-copied (from the keyframe before START)."""
    start, duration = spec.split(":")
    out = tmp / f"bbb-{start}-{duration}.mkv"
    proc.run(["-v", "error", "-ss", start, "-i", str(film), "-t", duration, "-map", "0:v:0",
              "-map", "0:a", "-c", "copy", "-avoid_negative_ts", "make_zero", str(out)],
             what="cutting the excerpt")
    return out


def drapto(src: Path, tmp: Path, name: str, ns: argparse.Namespace, *settings: str
           ) -> tuple[float, Path, Path]:
    """One drapto run from a fresh work folder and cache folder: (seconds, output, work)."""
    work, out = tmp / f"work-{name}", tmp / f"{name}.av1.mkv"
    argv = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", str(ns.jobs),
            "encode", f"input={src}", f"work={work}", f"output={out}", f"preset={ns.preset}",
            *settings]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
    env["XDG_CACHE_HOME"] = str(tmp / f"cache-{name}")
    start = time.monotonic()
    done = subprocess.run(argv, check=False, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode not in (0, 3):  # 3: not encoded, over the size cap
        raise SystemExit(f"drapto failed ({done.returncode}):\n{done.stdout}")
    return time.monotonic() - start, out, next(work.glob("*/"))


def plain(src: Path, crf: int, preset: int, out: Path) -> float:
    start = time.monotonic()
    proc.run(["-y", "-v", "error", "-i", str(src), "-map", "0:v:0", "-c:v", "libsvtav1",
              "-preset", str(preset), "-crf", str(crf), "-pix_fmt", "yuv420p10le",
              "-svtav1-params", "tune=0", str(out)], what=f"plain encode at CRF {crf}")
    return time.monotonic() - start


def frame_vmaf(distorted: Path, src: Path, crop: list[int] | None) -> list[float]:
    """libvmaf on every frame, 10 bits, the source cropped as drapto cropped it."""
    log = distorted.with_suffix(".vmaf.json")
    ref = f"crop={':'.join(map(str, crop))}," if crop else ""
    proc.run(["-v", "error", "-i", str(distorted), "-i", str(src), "-filter_complex",
              "[0:v]settb=AVTB,setpts=N,format=yuv420p10le[d];"
              f"[1:v]{ref}settb=AVTB,setpts=N,format=yuv420p10le[r];"
              f"[d][r]libvmaf=log_fmt=json:log_path={log.name}:n_threads={os.cpu_count()}",
              "-f", "null", "-"], what="VMAF", cwd=log.parent)
    return [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", type=int, default=6)
    ap.add_argument("--excerpt", help="START:DURATION in seconds (default: the whole film)")
    ap.add_argument("--source", choices=("lean", "mezzanine"), default="mezzanine")
    ap.add_argument("--jobs", type=int, default=2, help="doit -n (default 2)")
    ap.add_argument("--clips", type=Path, default=REPO / "bench" / "clips",
                    help="where the film is kept between runs")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--floor", action="store_true",
                    help="also drapto at the median CRF with quality=crf: the pipeline's own cost")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting changed from its default (said beside every figure)")
    ns = ap.parse_args()
    film = fetch_film(ns.clips)
    with workspace("drapto-film-", ns.keep) as tmp:
        src = excerpt(film, ns.excerpt, tmp) if ns.excerpt else film
        if ns.source == "mezzanine":
            src = mezzanine(src, ns.clips if not ns.excerpt else tmp)
        t_drapto, out, work = drapto(src, tmp, "default", ns, *ns.set)
        changed = f"the default settings but {' '.join(ns.set)}" if ns.set else \
            "the default settings"
        what = (f"{ns.excerpt or 'whole'} of {film.name} ({ns.source}, "
                f"{src.stat().st_size * 8 / 1000 / duration(src):.0f} kbit/s), preset "
                f"{ns.preset}, -n {ns.jobs}, {changed}")
        size = json.loads((work / "size.json").read_text())
        if size["action"] == "skip":
            crf = round(statistics.median(json.loads(p.read_text())["crf"]
                                          for p in (work / "calibration").glob("*.json")))
            t_plain = plain(src, crf, ns.preset, tmp / "plain.mkv")
            print(f"{what}: skipped (predicted {size['predicted_percent']:g} % of the "
                  f"source's video, cap {size['cap_percent']:g} %)")
            print(f"  cost of the skip: drapto {t_drapto:.0f} s / plain at CRF {crf} "
                  f"{t_plain:.0f} s = {t_drapto / t_plain:.2f} x; the plain encode took "
                  f"{(tmp / 'plain.mkv').stat().st_size / src.stat().st_size:.0%} of the "
                  "source's bytes")
            return
        report = json.loads((work / "report.json").read_text())
        records = report["segments"]
        median_crf = round(statistics.median(r["crf"] for r in records))
        t_plain = plain(src, median_crf, ns.preset, tmp / "plain.mkv")
        t_fixed = drapto(src, tmp, "fixed", ns, "quality=crf", f"crf_hd={median_crf}")[0] \
            if ns.floor else None
        crop = json.loads((work / "crop.json").read_text())["crop"]
        scores = frame_vmaf(out, src, crop)
        segments = json.loads((work / "scenes.json").read_text())["segments"]
        assert len(scores) == sum(s["frames"] for s in segments), "frame counts differ"
        measured = [statistics.fmean(scores[s["start"]:s["start"] + s["frames"]])
                    for s in segments]
        plain_scores = frame_vmaf(tmp / "plain.mkv", src, None)
        plain_bytes = video_bytes(tmp / "plain.mkv")
    v = report["vmaf"]
    target = v["target"]
    print(f"{what}: {len(records)} segments, CRF {report['crf_min']:g}-"
          f"{report['crf_max']:g} (median {median_crf}); {v['final_encodes']} final "
          f"encodes, {v['balanced']} encoded again for the film's mean")
    fixed = "" if t_fixed is None else (f"; drapto at CRF {median_crf}, quality=crf "
                                        f"{t_fixed:.0f} s = {t_fixed / t_plain:.2f} x")
    print(f"  cost: drapto {t_drapto:.0f} s / plain at CRF {median_crf} {t_plain:.0f} s = "
          f"{t_drapto / t_plain:.2f} x{fixed}")
    print(f"  accuracy (libvmaf, every frame, 10 bits): film mean {statistics.fmean(scores):.2f}"
          f" (target {target:g}; drapto's own figure {v['mean']:.2f}); segments "
          f"{min(measured):.2f}-{max(measured):.2f}, "
          f"{sum(m < target - 2 for m in measured)} below {target - 2:g}")
    plain_min = min(statistics.fmean(plain_scores[s["start"]:s["start"] + s["frames"]])
                    for s in segments)
    print(f"  bytes: drapto's video {report['video_bytes']} at VMAF "
          f"{statistics.fmean(scores):.2f}; the plain encode's {plain_bytes} at "
          f"{statistics.fmean(plain_scores):.2f} (its lowest segment {plain_min:.2f})")


def duration(path: Path) -> float:
    from drapto.stages.probe import probe
    return float(probe(path)["duration_ms"]) / 1000


def video_bytes(path: Path) -> int:
    """The bytes of the first video stream's packets."""
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0",
                          "-c", "copy", "-f", "framecrc", "-"], capture_output=True,
                         text=True, check=True).stdout
    return sum(int(line.split(",")[4]) for line in out.splitlines()
               if line and not line.startswith("#"))


if __name__ == "__main__":
    main()
