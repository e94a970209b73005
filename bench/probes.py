"""How well fast probes predict the final encode: the data behind ``search_preset`` and the
probe window.

    .venv/bin/python bench/probes.py [--presets 8,9,10,11] [--clips bikes,bbb,mixed]
                                     [--subsample 1,2,3] [--scales 1,0.5]
                                     [--windows middle,start]

For every segment of the clips (drapto's own scene cuts, segments of 2-5 s), the CRF at
which the final encode (the whole segment at preset 6) reaches the target VMAF is found
from five encodes (CRF 28, 36, ... 60; VMAF of every frame; ln(100 - VMAF) interpolated, as
the search does). The same is done for the probes: the middle quarter of the segment (at
least 24 frames) at each probe preset. The *shift* is the difference of the two CRFs. The
search learns the shift per film (the median over its segments), so what decides how often
a final encode misses is how far a segment's shift lies from its film's median: printed
per preset, with each probe's time against the final encode's (same CRFs, one after the
other).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402
from phases import segments as drapto_segments  # noqa: E402
from quality import bench_clips  # noqa: E402

from drapto import proc  # noqa: E402
from drapto.quality import bracketed, solve  # noqa: E402
from drapto.stages.encode import probe_window  # noqa: E402

CRFS = (28, 36, 44, 52, 60)


def segments(src: Path, tmp: Path) -> list[tuple[int, int]]:
    """drapto's segments of *src* (scene cuts, 2-5 s): first frame and frame count."""
    return [(s["start"], s["frames"]) for s in drapto_segments(src, tmp)]


def encode(src: Path, first: int, count: int, preset: int, crf: int, tmp: Path,
           scale: float = 1.0) -> tuple[list[float], float]:
    """Per-frame VMAF (every frame) and seconds of one encode of frames
    first..first+count-1; with *scale* < 1, the frames are scaled down first (encode and
    reference alike)."""
    log = tmp / "probe.vmaf.json"
    resize = "" if scale == 1 else f"scale=trunc(iw*{scale}/2)*2:-2:flags=bicubic,"
    graph = (f"[0:v:0]select=between(n\\,{first}\\,{first + count - 1}),{resize}"
             "setpts=N/FRAME_RATE/TB,split=2[venc][vref]")
    score = ("[dec:0]settb=AVTB,setpts=N,format=yuv420p10le[vd];"
             "[vref]settb=AVTB,setpts=N,format=yuv420p10le[vr];"
             f"[vd][vr]libvmaf=log_fmt=json:log_path={log.name}:n_threads=2[vo]")
    started = time.monotonic()
    proc.run(["-y", "-v", "error", "-i", str(src), "-filter_complex", graph, "-map", "[venc]",
              "-fps_mode", "passthrough", "-c:v", "libsvtav1", "-preset", str(preset),
              "-pix_fmt", "yuv420p10le", "-svtav1-params", f"tune=0:crf={crf}",
              str(tmp / "probe.mkv"), "-dec", "0:0", "-filter_complex", score, "-map", "[vo]",
              "-f", "null", "-"], what="probe encode", cwd=tmp)
    seconds = time.monotonic() - started
    frames = json.loads(log.read_text())["frames"]
    return [f["metrics"]["vmaf"] for f in frames], seconds


def crossing(curve: dict[int, float], target: float) -> float | None:
    """The CRF where the curve crosses *target*, as the search solves it; None when it is not
    reached within CRF 28-60 (e.g. a static card): left out."""
    if not bracketed(curve, target):
        return None
    return solve(curve, target)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="8,9,10,11")
    ap.add_argument("--clips", default="bikes,bbb")
    ap.add_argument("--target", type=float, default=93.0)
    ap.add_argument("--subsample", default="1",
                    help="score the probes on every N-th frame (libvmaf n_subsample), e.g. "
                         "1,2,3: taken from the same per-frame scores")
    ap.add_argument("--scales", default="1",
                    help="probe at these fractions of the width and height, e.g. 1,0.5")
    ap.add_argument("--windows", default="middle",
                    help="where the probe window lies in the segment: middle, start")
    ns = ap.parse_args()
    presets = [(int(p), int(k), float(z), w) for p in ns.presets.split(",")
               for k in ns.subsample.split(",") for z in ns.scales.split(",")
               for w in ns.windows.split(",")]
    with workspace("drapto-probes-", False) as tmp:
        clips = bench_clips(ns.clips.split(","), tmp)
        shifts: dict[tuple[int, int, float, str], dict[str, list[float]]] = {
            p: {} for p in presets}
        cost: dict[tuple[int, int, float, str], list[float]] = {p: [] for p in presets}
        for name in ns.clips.split(","):
            for i, (start, frames) in enumerate(segments(clips[name], tmp)):
                runs = [encode(clips[name], start, frames, 6, c, tmp) for c in CRFS]
                final = crossing(dict(zip(CRFS, (statistics.fmean(v) for v, _ in runs))),
                                 ns.target)
                final_s = sum(s for _, s in runs)
                line = [f"{name} {i}: final CRF {final:.2f}" if final else f"{name} {i}: -"]
                offset, count = probe_window(frames, 0.25)
                probes: dict[tuple[int, float, str], list[tuple[list[float], float]]] = {}
                for p, k, z, w in presets:
                    if (p, z, w) not in probes:
                        first = start + (offset if w == "middle" else 0)
                        probes[p, z, w] = [encode(clips[name], first, count, p, c, tmp, z)
                                           for c in CRFS]
                    cost[p, k, z, w].append(sum(s for _, s in probes[p, z, w]) / final_s)
                    fast = crossing(dict(zip(CRFS, (statistics.fmean(v[::k])
                                                    for v, _ in probes[p, z, w]))),
                                    ns.target)
                    if final is not None and fast is not None:
                        shifts[p, k, z, w].setdefault(name, []).append(final - fast)
                        line.append(f"p{p}/{k}/x{z:g}/{w} shift {final - fast:+.2f}")
                print(", ".join(line), flush=True)
        for p, k, z, w in presets:
            devs = [abs(s - statistics.median(v)) for v in shifts[p, k, z, w].values()
                    for s in v]
            print(f"probes at preset {p}, scale {z:g}, window at the {w}, every {k}. frame "
                  f"scored: shift per film "
                  f"{ {n: [round(s, 1) for s in v] for n, v in shifts[p, k, z, w].items()} }, "
                  f"mean distance from the film's median {statistics.fmean(devs):.2f} CRF, "
                  f"probe time / final encode time (all frames scored) "
                  f"{statistics.fmean(cost[p, k, z, w]):.2f}")


if __name__ == "__main__":
    main()
