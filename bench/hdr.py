"""What keeping HDR10+ and moving a Dolby Vision film's active area cost at a film's size:
the Python drapto runs over every frame of a 2-hour film (172,896 frames at 24 fps).

    .venv/bin/python bench/hdr.py [--frames 172896] [--film AV1.mkv]

Measured on the real samples of ../shared/media (one frame's HDR10+ payload from
hdr10plus-black.mkv, one frame's Dolby Vision RPU as libsvtav1 writes it from
dv-p8.1-black.mkv) and on an AV1 film: --film's video (bench/mixed.py --keep leaves one),
else one generated of --frames frames (192x108, 24 fps, the 2-hour mixed film's size):
1. the join's frame rewrite (drapto/media/matroska.py) untouched, with each frame's HDR10+
   metadata OBU added, with each frame's RPU moved by a crop;
2. per frame: reading the source's HDR10+ (one access unit's SEI), the validation's read of
   an RPU's active area and CRC.
FFmpeg's own passes (the stream copies) are not in these figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import common

from drapto.media import dovi, hevc, matroska, obu, proc
from drapto.media.hdr10plus import sei_payloads

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "media"


def per_frame(fn: Callable[[], object], n: int = 2000) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=172_896)
    ap.add_argument("--film", type=Path)
    ns = ap.parse_args()
    with common.workspace("drapto-hdr-", False) as tmp:
        # One access unit of the HDR10+ sample and one frame of a DV encode.
        common.run([proc.ffmpeg(), "-v", "error", "-i", str(SHARED / "hdr10plus-black.mkv"),
                    "-map", "0:v", "-c", "copy", "-bsf:v", "hevc_mp4toannexb",
                    "-frames:v", "2", "-f", "hevc", str(tmp / "au.hevc")])
        au = (tmp / "au.hevc").read_bytes()
        payload = sei_payloads(au)[-1]
        common.run([proc.ffmpeg(), "-v", "error", "-i", str(SHARED / "dv-p8.1-black.mkv"),
                    "-map", "0:v", "-frames:v", "24", "-c:v", "libsvtav1", "-preset", "12",
                    "-dolbyvision", "1", str(tmp / "dv.mkv")])
        rpu = next(p for p in obu.t35_by_frame(tmp / "dv.mkv", tmp / "x")[0]
                   if p.startswith(dovi.DOLBY_T35))
        bars = dovi.with_area(rpu, lambda _: (0, 0, 276, 276))
        common.run([proc.ffmpeg(), "-v", "error", "-i", str(SHARED / "dv-p8.1-black.mkv"),
                    "-map", "0:v", "-c", "copy", "-bsf:v",
                    f"hevc_mp4toannexb,filter_units=pass_types={hevc.RPU_NAL}",
                    "-frames:v", "1", "-f", "hevc", str(tmp / "rpu.hevc")])
        nal = next(hevc.nal_units((tmp / "rpu.hevc").read_bytes()))
        frame_with_rpu = obu.t35_unit(bars) + bytes([6 << 3 | 2, 2, 0, 0])
        # A long AV1 stream: the frames are small, as the mixed film's are.
        film = tmp / "film.mkv"
        source = ["-i", str(ns.film)] if ns.film else [
            "-f", "lavfi", "-i", f"testsrc2=s=192x108:r=24:d={ns.frames / 24}", "-c:v",
            "libsvtav1", "-preset", "12", "-g", "240"]
        common.run([proc.ffmpeg(), "-v", "error", *source, "-map", "0:v",
                    *(["-c", "copy"] if ns.film else []), str(film)])
        rows = []
        for name, edit in (
                ("untouched", lambda f: f),
                ("HDR10+ added", lambda f: obu.with_unit(f, obu.t35_unit(payload))),
                ("Dolby Vision RPU moved (the frame's own OBUs, and one RPU)",
                 lambda f: dovi.cropped_frame(frame_with_rpu, (0, 0, 276, 276)) and f)):
            began = time.perf_counter()
            frames = matroska.rewrite(film, tmp / "out.mkv", edit)
            rows.append((f"join's rewrite, {name}", f"{time.perf_counter() - began:.1f} s",
                         f"{frames} frames"))
        for name, fn in (
                ("source HDR10+ (one access unit's SEI)", lambda: sei_payloads(au)),
                ("source RPU area (HEVC NAL)", lambda: dovi.nal_area(nal)),
                ("validation: an RPU's area and CRC",
                 lambda: dovi.checked_area(bars))):
            seconds = per_frame(fn)
            rows.append((name, f"{seconds * 1e6:.1f} µs a frame",
                         f"{seconds * frames:.1f} s for {frames} frames"))
        common.table(rows, f"HDR metadata over a film of {frames} frames")


if __name__ == "__main__":
    main()
