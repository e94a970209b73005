"""A full-length film of mixed content at the defaults: encodes per segment, the film's mean,
the screen, the no-op rerun and the doit process's memory, beside one plain encode.

    .venv/bin/python bench/mixed.py [--minutes 120] [--preset 10] [--keep]

The film is generated (and kept in --clips), the same on every machine (seeded): 48 shots
of 4-12 s from eight lavfi sources (test cards, fractals, cellular automata, gradients, a
zone plate), each with its own hue shift and the same colour tags, x264 CRF 16 at 192x108,
joined in a seeded random order by FFmpeg's concat demuxer to the length asked; stereo
AAC, a subtitle each minute, a chapter each 10 minutes. Documentaries, anthologies and TV
seasons vary like this; a feature film varies less. One after the other, with nothing else encoding:
1. drapto with every setting at its default but the preset (and ``max_encoded_percent=0``:
   the cap would skip this source, whose x264 at CRF 16 is lean at 192x108);
2. no-op reruns of the same command;
3. one plain encode at the same preset and drapto's median CRF.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import common
import psutil

from drapto.media import proc

SOURCES = ["testsrc2=s=192x108", "smptebars=s=192x108", "rgbtestsrc=s=192x108",
           "mandelbrot=s=192x108", "cellauto=rule=110:s=192x108:seed=36",
           "life=s=192x108:mold=10:seed=36",
           "gradients=s=192x108", "zoneplate=s=192x108"]
SHOTS = 48
TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        "-color_range", "tv"]


def make_film(folder: Path, minutes: float) -> Path:
    """The generated film (made once per length)."""
    film = folder / f"mixed{minutes:g}.mkv"
    if film.exists():
        return film
    work = folder / f"mixed{minutes:g}.parts"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(36)
    shots = []
    for i in range(SHOTS):
        shot = work / f"shot{i:02d}.mkv"
        seconds = rng.randint(4, 12)
        if not shot.exists():
            common.run([proc.ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"{SOURCES[i % len(SOURCES)]}:r=24", "-t", str(seconds),
                        "-vf", f"hue=h={i * 7.5}:s={0.6 + (i % 5) * 0.2},format=yuv420p",
                        "-c:v", "libx264", "-preset", "fast", "-crf", "16", *TAGS,
                        str(work / "tmp.mkv")])
            (work / "tmp.mkv").rename(shot)
        shots.append((shot, seconds))
    listing, total, lines = work / "order.txt", 0.0, []
    while total < minutes * 60:
        shot, seconds = rng.choice(shots)
        lines.append(f"file '{shot}'\n")
        total += seconds
    listing.write_text("".join(lines))
    video = work / "video.mkv"
    common.run([proc.ffmpeg(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                str(listing), "-c", "copy", str(video)])
    srt = work / "subs.srt"
    srt.write_text("".join(f"{m + 1}\n{m // 60:02d}:{m % 60:02d}:01,000 --> "
                           f"{m // 60:02d}:{m % 60:02d}:03,000\nminute {m}\n\n"
                           for m in range(int(total // 60))))
    meta = work / "chapters.txt"
    meta.write_text(";FFMETADATA1\n" + "".join(
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={c * 600_000}\n"
        f"END={min((c + 1) * 600_000, int(total * 1000))}\ntitle=Part {c + 1}\n"
        for c in range(int(total // 600) + (total % 600 > 0))))
    common.run([proc.ffmpeg(), "-v", "error", "-y", "-i", str(video),
                "-f", "lavfi", "-i", f"sine=f=330:sample_rate=48000:d={total}",
                "-i", str(srt), "-i", str(meta),
                "-map", "0:v", "-map", "1:a", "-map", "2:s", "-map_chapters", "3",
                "-c:v", "copy", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-c:s", "srt",
                str(work / "tmp.mkv")])
    (work / "tmp.mkv").rename(film)
    return film


class Peak:
    """The largest resident size of one process (not its children), polled."""

    def __init__(self) -> None:
        self.mib = 0.0
        self._stop = threading.Event()

    def watch(self, argv_part: str) -> None:
        def poll() -> None:
            while not self._stop.is_set():
                for p in psutil.process_iter(["cmdline", "memory_info"]):
                    cmd = p.info["cmdline"] or []
                    if "doit" in cmd and argv_part in " ".join(cmd) and p.info["memory_info"]:
                        self.mib = max(self.mib, p.info["memory_info"].rss / 2**20)
                time.sleep(0.2)
        threading.Thread(target=poll, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def encodes(folder: Path) -> dict[str, int]:
    """Final encodes per kind of record: calibration, encoded, balanced."""
    out = {}
    for kind in ("calibration", "encoded", "balanced"):
        n = 0
        for path in (folder / kind).glob("*.json"):
            if path.name.endswith(".search.json"):
                continue
            n += len((json.loads(path.read_text()).get("search") or {}).get("finals", []))
        out[kind] = n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--preset", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--noops", type=int, default=3)
    ap.add_argument("--no-plain", action="store_true", help="skip the plain encode")
    ap.add_argument("--clips", type=Path, default=common.CLIPS)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ns = ap.parse_args()
    with common.timed() as made:
        film = make_film(ns.clips, ns.minutes)
    print(f"film: {film} ({common.duration(film) / 60:.1f} min), ready in {made.seconds:.0f} s")
    with common.workspace("drapto-mixed-", ns.keep) as tmp:
        work, out = tmp / "work", tmp / "film.av1.mkv"
        settings = (f"preset={ns.preset}", "max_encoded_percent=0", *ns.set)
        peak = Peak()
        peak.watch(f"work={work}")
        first = common.drapto(film, work, out, *settings, jobs=ns.jobs)
        peak.stop()
        folder = common.input_folder(work)
        lines = first.stdout.splitlines()
        warnings = [line for line in lines if line.startswith("drapto: warning:")]
        noop_peak = Peak()
        noop_peak.watch(f"work={work}")
        noops = [common.drapto(film, work, out, *settings, jobs=ns.jobs, quiet=True)
                 for _ in range(ns.noops)]
        noop_peak.stop()
        scenes = json.loads((folder / "scenes.json").read_text())
        segs = scenes["segments"]
        balance = json.loads((folder / "balance.json").read_text())
        records = [common.record_of(folder, f"{seg['start']:08d}") for seg in segs]
        n = len(records)
        frames = sum(r["frames"] for r in records)
        mean = sum(r["vmaf"] * r["frames"] for r in records) / frames
        target = json.loads((folder / "size.json").read_text())["target"]
        low = [r for r in records if r["vmaf"] < target - 2 and r["crf"] > 10]
        count = encodes(folder)
        crfs = [r["crf"] for r in records]
        rows: list[tuple[str, Any]] = [
            ("segments", n),
            ("final encodes: calibration / first / balance",
             f"{count['calibration']} / {count['encoded']} / {count['balanced']}"),
            ("encodes per segment", f"{sum(count.values()) / n:.2f}"),
            ("segments balanced", len(balance.get("segments", {}))),
            ("film mean VMAF (kept encodes)", f"{mean:.2f} (target {target:g})"),
            ("segments below target - 2 (not at crf_min)", len(low)),
            ("median CRF", f"{statistics.median(crfs):g}"),
            ("drapto wall", f"{first.seconds:.0f} s"),
            ("warning lines at the end", len(warnings)),
            ("lines drapto printed (not a terminal)",
             sum(line.startswith("drapto: ") for line in lines)),
            ("report.html", f"{(folder / 'report.html').stat().st_size / 1024:.0f} KiB"
             if (folder / "report.html").exists() else "none"),
            ("no-op reruns", ", ".join(f"{r.seconds:.2f} s" for r in noops)),
            ("no-op tasks run", sum(len(r.executed) for r in noops)),
            ("doit peak RSS: encode / no-op", f"{peak.mib:.0f} / {noop_peak.mib:.0f} MiB"),
        ]
        if not ns.no_plain:
            plain_s = common.plain(film, tmp / "plain.mkv", statistics.median(crfs), ns.preset)
            rows.append(("plain encode at the median CRF", f"{plain_s:.0f} s"))
            rows.append(("drapto / plain", f"{first.seconds / plain_s:.2f} x"))
            rows.append(("video bytes drapto / plain",
                         f"{common.video_bytes(out) / common.video_bytes(tmp / 'plain.mkv'):.2f}"))
        common.table(rows, title=f"mixed film, {ns.minutes:g} min, preset {ns.preset}, "
                                 f"-n {ns.jobs}" + (f", {' '.join(ns.set)}" if ns.set else ""))
        print("\n".join(warnings[:5]))


if __name__ == "__main__":
    main()
