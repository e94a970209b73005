"""Quality targeting at the size of a film: cost against one plain encode, and accuracy
measured independently.

    .venv/bin/python bench/film.py --preset 8                  # the whole 10-minute film
    .venv/bin/python bench/film.py --excerpt 180:120           # 2 minutes at preset 6

The film is Big Buck Bunny (1280x720, 24 fps, 9:56) from the moviepy 2.2.1 source
distribution on PyPI, fetched once into --clips (never committed). In one run, one after
the other:
1. drapto's default encode (quality=vmaf, every setting at its default but the preset and
   the size cap: this H.264 source is so lean that AV1 at VMAF 93 takes about its bytes,
   so the cap would move most segments; the bench prints how many it would have capped);
2. one plain FFmpeg libsvtav1 encode of the same video at the same preset and drapto's
   median CRF;
3. drapto at that fixed CRF (quality=crf): the pipeline's own cost;
4. drapto verifying one final encode per segment, with no search (the final preset as
   search preset over whole segments, one attempt): the floor of any verified search.
Then libvmaf on every frame of drapto's output against the source, pooled per segment.
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
from drapto.stages.segments import segment_ids  # noqa: E402

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
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
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
    ap.add_argument("--target", type=float, default=93.0)
    ap.add_argument("--excerpt", help="START:DURATION in seconds (default: the whole film)")
    ap.add_argument("--jobs", type=int, default=2, help="doit -n (default 2)")
    ap.add_argument("--clips", type=Path, default=REPO / "bench" / "clips",
                    help="where the film is kept between runs")
    ap.add_argument("--keep", action="store_true")
    ns = ap.parse_args()
    film = fetch_film(ns.clips)
    with workspace("drapto-film-", ns.keep) as tmp:
        src = excerpt(film, ns.excerpt, tmp) if ns.excerpt else film
        t_drapto, out, work = drapto(src, tmp, "default", ns, f"target_vmaf={ns.target}",
                                     "max_encoded_percent=0")
        records = [json.loads((work / "encoded" / f"{sid}.json").read_text())
                   for sid in segment_ids(json.loads((work / "scenes.json").read_text()))]
        crfs = [r["crf"] for r in records]
        median_crf = round(statistics.median(crfs))
        t_plain = plain(src, median_crf, ns.preset, tmp / "plain.mkv")
        t_fixed, _, _ = drapto(src, tmp, "fixed", ns, "quality=crf", f"crf_hd={median_crf}")
        t_once, _, _ = drapto(src, tmp, "once", ns, f"target_vmaf={ns.target}",
                              f"search_preset={ns.preset}", "search_sample=1",
                              "search_attempts=1", "max_encoded_percent=0")
        crop = json.loads((work / "crop.json").read_text())["crop"]
        scores = frame_vmaf(out, src, crop)
        segments = json.loads((work / "scenes.json").read_text())["segments"]
        assert len(scores) == sum(s["frames"] for s in segments), "frame counts differ"
        measured = [statistics.fmean(scores[s["start"]:s["start"] + s["frames"]])
                    for s in segments]
        plain_vmaf = statistics.fmean(frame_vmaf(tmp / "plain.mkv", src, None))
    hit = sum(v >= ns.target - 1.0 for v in measured) / len(measured)
    excess = statistics.fmean(v - ns.target for v in measured)
    probes = sum(len(r["search"]["probes"]) for r in records)
    finals = sum(len(r["search"]["finals"]) for r in records)
    over = sum(1 for r in records if r["source_bytes"] and r["bytes"] > 0.8 * r["source_bytes"])
    what = f"{ns.excerpt or 'whole'} of {film.name}, preset {ns.preset}, -n {ns.jobs}"
    print(f"{what}: {len(records)} segments, CRF {min(crfs):g}-{max(crfs):g} (median "
          f"{median_crf}); {probes} probes and {finals} final encodes")
    print(f"  cost: drapto {t_drapto:.0f} s / plain at CRF {median_crf} {t_plain:.0f} s = "
          f"{t_drapto / t_plain:.2f} x; fixed CRF {t_fixed:.0f} s = {t_fixed / t_plain:.2f} x;"
          f" verified once {t_once:.0f} s = {t_once / t_plain:.2f} x")
    print(f"  accuracy (libvmaf, every frame): {hit:.1%} of segments >= target-1, mean "
          f"excess {excess:+.2f}, min {min(measured):.2f}; whole file "
          f"{statistics.fmean(scores):.2f} (plain encode {plain_vmaf:.2f})")
    print(f"  bytes: video {sum(r['bytes'] for r in records)} = "
          f"{sum(r['bytes'] for r in records) / sum(r['source_bytes'] for r in records):.2f} "
          f"of the source's; {over} of {len(records)} segments above the default cap (80 %)")


if __name__ == "__main__":
    main()
