"""Where a segment's time goes under quality targeting: each part of the search timed on its
own, as drapto runs it, against the final encode of the same segment.

    .venv/bin/python bench/phases.py [--clips bikes,bbb,mixed] [--segments 3] [--crf 40]

For a few segments of each clip (drapto's own scene cuts, segments of 2-5 s; evenly
spread), one after the other with nothing else running, through drapto's own encode call:
- the final encode (preset 6) without VMAF, and with the verification in the same run
  (libvmaf on every ``vmaf_subsample``-th frame): the verification's share;
- a probe (the middle quarter, at least 24 frames, preset 10, every frame scored), and the
  same probe without the scoring: the scoring's share;
- the same call for a single frame of the probe window: what every run pays before it
  encodes (the process, the seek, decoding from the keyframe before the segment);
- with ``--scoring yuv420p,yuv420p10le``, the verification and the probe again scored in
  each further pixel format (drapto scores an 8-bit source in 8 bits);
- a probe and a final encode run side by side, against one after the other: on 2 cores
  each encode already uses both, so running the search beside the encodes adds no
  throughput.
Printed per segment and summed, as ratios to the final encode without VMAF.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import workspace  # noqa: E402
from quality import bench_clips  # noqa: E402

from drapto.encoding import Video  # noqa: E402
from drapto.quality import Scoring  # noqa: E402
from drapto.stages.encode import _encode_range, probe_window  # noqa: E402

MODEL = "vmaf_v0.6.1"
VERIFY_SUBSAMPLE, PROBE_SUBSAMPLE = 5, 1


def segments(src: Path, tmp: Path, lengths: tuple[float, float] = (2.0, 5.0),
             ) -> list[dict[str, Any]]:
    """drapto's segments of *src* (scene cuts, *lengths* seconds), as its encode stage
    takes them."""
    work = tmp / f"scenes-{src.stem}"
    subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "scenes",
                    f"input={src}", f"work={work}", f"min_segment={lengths[0]}",
                    f"max_segment={lengths[1]}"],
                   check=True, stdout=subprocess.DEVNULL)
    scenes = json.loads(next(work.glob("*/scenes.json")).read_text())
    return [{"index": i, "start": s["start"], "frames": s["frames"],
             "pts_us": s["start_pts_us"], "first": i == 0}
            for i, s in enumerate(scenes["segments"])]


def timed(src: Path, seg: dict[str, Any], out: Path, preset: int, crf: float, **kw: Any
          ) -> float:
    started = time.monotonic()
    video = Video(preset=preset, pixel_format="yuv420p10le", svt_params="tune=0", crf=crf)
    _encode_range(src, seg, out, video, [], [], 2, **kw)
    return time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default="bikes,bbb,mixed")
    ap.add_argument("--segments", type=int, default=3, help="segments per clip")
    ap.add_argument("--crf", type=float, default=40.0)
    ap.add_argument("--preset", type=int, default=6)
    ap.add_argument("--search-preset", type=int, default=10)
    ap.add_argument("--min-segment", type=float, default=2.0)
    ap.add_argument("--max-segment", type=float, default=5.0)
    ap.add_argument("--scoring", default="yuv420p",
                    help="pixel formats libvmaf scores in, the first as drapto would")
    ns = ap.parse_args()
    scoring, *others = ns.scoring.split(",")
    verify = Scoring(MODEL, VERIFY_SUBSAMPLE, scoring)
    probe = Scoring(MODEL, PROBE_SUBSAMPLE, scoring)
    keys = ("final", "verified", "probe", "unscored", "one frame", "serial", "side by side",
            *(f"{k} in {fmt}" for fmt in others for k in ("verified", "probe")))
    total = dict.fromkeys(keys, 0.0)
    with workspace("drapto-phases-", False) as tmp:
        clips = bench_clips(ns.clips.split(","), tmp)
        for name in ns.clips.split(","):
            src = clips[name]
            segs = segments(src, tmp, (ns.min_segment, ns.max_segment))
            n = min(ns.segments, len(segs))
            picked = sorted({round(i * (len(segs) - 1) / max(1, n - 1)) for i in range(n)})
            for i in picked:
                seg = segs[i]
                window = probe_window(seg["frames"], 0.25)
                fin, prb = tmp / "final.mkv", tmp / "probe.mkv"
                t = {"final": timed(src, seg, fin, ns.preset, ns.crf),
                     "verified": timed(src, seg, fin, ns.preset, ns.crf, vmaf=verify),
                     "probe": timed(src, seg, prb, ns.search_preset, ns.crf, window=window,
                                    vmaf=probe),
                     "unscored": timed(src, seg, prb, ns.search_preset, ns.crf,
                                       window=window),
                     "one frame": timed(src, seg, prb, ns.search_preset, ns.crf,
                                        window=(window[0], 1))}
                for fmt in others:
                    t[f"verified in {fmt}"] = timed(src, seg, fin, ns.preset, ns.crf,
                                                    vmaf=Scoring(MODEL, VERIFY_SUBSAMPLE, fmt))
                    t[f"probe in {fmt}"] = timed(src, seg, prb, ns.search_preset, ns.crf,
                                                 window=window,
                                                 vmaf=Scoring(MODEL, PROBE_SUBSAMPLE, fmt))
                t["serial"] = t["verified"] + t["probe"]
                started = time.monotonic()
                pair = [threading.Thread(target=timed, args=args, kwargs=kw) for args, kw in (
                    ((src, seg, fin, ns.preset, ns.crf), {"vmaf": verify}),
                    ((src, seg, prb, ns.search_preset, ns.crf),
                     {"window": window, "vmaf": probe}))]
                for th in pair:
                    th.start()
                for th in pair:
                    th.join()
                t["side by side"] = time.monotonic() - started
                for k in keys:
                    total[k] += t[k]
                print(f"{name} segment {i} ({seg['frames']} frames, probe {window[1]}): "
                      + ", ".join(f"{k} {t[k]:.2f} s" for k in keys), flush=True)
    f = total["final"]
    print(f"summed, as shares of the final encode without VMAF, scored in {scoring}: "
          f"verification "
          f"{(total['verified'] - f) / f:+.1%}; probe {total['probe'] / f:.1%} (its scoring "
          f"{(total['probe'] - total['unscored']) / f:.1%}, a one-frame run "
          f"{total['one frame'] / f:.1%}); probe and verified final side by side "
          f"{total['side by side'] / total['serial']:.2f} x their time one after the other"
          + "".join(f"; in {fmt}: verification "
                    f"{(total[f'verified in {fmt}'] - f) / f:+.1%}, probe "
                    f"{total[f'probe in {fmt}'] / f:.1%}" for fmt in others))


if __name__ == "__main__":
    main()
