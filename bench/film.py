"""Quality targeting at the size of a film, in the default mode as shipped: its cost against
one plain encode, its accuracy measured independently, and its bytes.

    .venv/bin/python bench/film.py --excerpt 180:120 --source mezzanine   # preset 6
    .venv/bin/python bench/film.py --excerpt 180:120 --source lean        # the skip
    .venv/bin/python bench/film.py --preset 8 --source mezzanine          # the whole film

The film is Big Buck Bunny (common.film), fetched once into --clips. ``lean`` is its own
H.264 (0.67 Mbit/s), stream-copied: AV1 at VMAF 93 takes more than its bytes, so the
default over_cap=skip stops after the calibration. ``mezzanine`` is the same video as a
high-bitrate source (common.mezzanine), where the cap cannot bind. One after the other:
1. drapto with every setting at its default but the preset (and --set);
2. one plain encode at the same preset and drapto's median CRF (after a skip: the
   calibration's); with --floor, drapto at that CRF with quality=crf;
then libvmaf on every frame of both outputs against the source: per segment, the film's
frame-weighted mean, and the plain encode's.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import common

from drapto.run.ending import SKIPPED_STATUS


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", type=int, default=6)
    ap.add_argument("--excerpt", help="START:DURATION in seconds (default: the whole film)")
    ap.add_argument("--source", choices=("lean", "mezzanine"), default="mezzanine")
    ap.add_argument("--jobs", type=int, default=2, help="doit -n (default 2)")
    ap.add_argument("--clips", type=Path, default=common.CLIPS,
                    help="where the film is kept between runs")
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    ap.add_argument("--floor", action="store_true",
                    help="also drapto at the median CRF with quality=crf: the pipeline's own cost")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting changed from its default (said beside every figure)")
    ns = ap.parse_args()
    bbb = common.film(ns.clips)
    with common.workspace("drapto-film-", ns.keep) as tmp:
        src = common.excerpt(bbb, ns.excerpt, tmp) if ns.excerpt else bbb
        if ns.source == "mezzanine":
            src = common.mezzanine(src, tmp if ns.excerpt else ns.clips)
        out = tmp / "default.av1.mkv"
        t_drapto = common.drapto(src, tmp / "work-default", out, f"preset={ns.preset}",
                                  *ns.set, jobs=ns.jobs, ok=(0, SKIPPED_STATUS)).seconds
        work = common.input_folder(tmp / "work-default")
        if not (work / "size.json").exists():  # doit's own status 3: an error before any task
            raise SystemExit("drapto stopped before its size decision (see above)")
        changed = f"the default settings but {' '.join(ns.set)}" if ns.set else \
            "the default settings"
        what = (f"{ns.excerpt or 'whole'} of {bbb.name} ({ns.source}, "
                f"{src.stat().st_size * 8 / 1000 / common.duration(src):.0f} kbit/s), preset "
                f"{ns.preset}, -n {ns.jobs}, {changed}")
        size = read(work / "size.json")
        if size["action"] == "skip":
            skipped(what, size, work, src, tmp, t_drapto, ns.preset)
            return
        report = read(work / "report.json")
        median_crf = round(statistics.median(r["crf"] for r in report["segments"]))
        t_plain = common.plain(src, tmp / "plain.mkv", median_crf, ns.preset)
        t_fixed = common.drapto(src, tmp / "work-fixed", tmp / "fixed.av1.mkv",
                                 f"preset={ns.preset}", *ns.set, "quality=crf",
                                 f"crf_hd={median_crf}", jobs=ns.jobs).seconds \
            if ns.floor else None
        segments = read(work / "scenes.json")["segments"]
        scores = common.frame_vmaf(out, src, read(work / "crop.json")["crop"])
        assert len(scores) == sum(s["frames"] for s in segments), "frame counts differ"
        plain_scores = common.frame_vmaf(tmp / "plain.mkv", src)
        plain_bytes = common.video_bytes(tmp / "plain.mkv")
    v = report["vmaf"]
    target = v["target"]
    measured = common.per_segment(scores, segments)
    print(f"{what}: {len(segments)} segments, CRF {report['crf_min']:g}-"
          f"{report['crf_max']:g} (median {median_crf}); {v['final_encodes']} final "
          f"encodes, {v['balanced']} encoded again for the film's mean")
    base = f"plain at CRF {median_crf}"
    fixed = "" if t_fixed is None else (f"; drapto at CRF {median_crf}, quality=crf "
                                        f"{t_fixed:.0f} s = {t_fixed / t_plain:.2f} x")
    print(f"  cost: {common.versus('drapto', t_drapto, base, t_plain)}{fixed}")
    print(f"  accuracy (libvmaf, every frame, 10 bits): film mean {statistics.fmean(scores):.2f}"
          f" (target {target:g}; drapto's own figure {v['mean']:.2f}); segments "
          f"{min(measured):.2f}-{max(measured):.2f}, "
          f"{sum(m < target - 2 for m in measured)} below {target - 2:g}")
    print(f"  bytes: drapto's video {report['video_bytes']} at VMAF "
          f"{statistics.fmean(scores):.2f}; the plain encode's {plain_bytes} at "
          f"{statistics.fmean(plain_scores):.2f} (its lowest segment "
          f"{min(common.per_segment(plain_scores, segments)):.2f})")


def skipped(what: str, size: dict[str, Any], work: Path, src: Path, tmp: Path,
            t_drapto: float, preset: int) -> None:
    """A film over the size cap: what the skip cost against one plain encode at the
    calibration's median CRF, and how big that encode came out."""
    crf = round(statistics.median(read(p)["crf"] for p in (work / "calibration").glob("*.json")))
    t_plain = common.plain(src, tmp / "plain.mkv", crf, preset)
    print(f"{what}: skipped (predicted {size['predicted_percent']:g} % of the source's video, "
          f"cap {size['cap_percent']:g} %)")
    cost = common.versus("drapto", t_drapto, f"plain at CRF {crf}", t_plain)
    share = (tmp / "plain.mkv").stat().st_size / src.stat().st_size
    print(f"  cost of the skip: {cost}; the plain encode took {share:.0%} of the source's bytes")


if __name__ == "__main__":
    main()
