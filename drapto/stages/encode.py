"""Segments and their AV1 encodes.

A segment target is a small JSON: the frame range and its first frame's timestamp. The
encode seeks the source to the keyframe before it, decodes from there, keeps the frames
from that timestamp on (``select``) and stops after the segment's frame count, so no
intermediate video file is written. Timestamps are the file's own (``-copyts``). It checks
the first frame it kept: demuxers whose seeking lands late (MPEG-TS) are retried from
further back, up to decoding from the start.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any

from .. import memory, proc, progress, quality
from ..errors import DraptoError
from ..workdir import atomic_path, read_json, write_json

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact"]
_PTS = re.compile(r"^frame:\d+\s+pts:(-?\d+)")


def seek_arg(us: int) -> str:
    """Seconds with exactly six decimals, for ``-ss`` (no float rounding)."""
    sign = "-" if us < 0 else ""
    us = abs(us)
    return f"{sign}{us // 1_000_000}.{us % 1_000_000:06d}"


# How far before a segment's first frame to seek, tried in turn; None: no seek at all.
SEEK_MARGINS_US: tuple[int | None, ...] = (0, 5_000_000, 30_000_000, None)
# Frames are matched by timestamp to within this (timestamps are rounded to µs).
PTS_SLACK_US = 500


def run_segment(scenes: dict[str, Any], index: int, target: Path) -> None:
    seg = scenes["segments"][index]
    write_json(target, {"index": index, "start": seg["start"], "frames": seg["frames"],
                        "pts_us": seg["start_pts_us"],
                        "first": index == 0 and not scenes.get("clip")})


def selection(filters: list[str], first_pts_us: int) -> list[str]:
    """The filters that turn the decoded source into the segment's frames: *filters* first
    (a deinterlacer needs the frames before the segment's first, decoded from the keyframe
    on), then the frames from the segment's first timestamp on. Shared by the encode and the
    VMAF reference, so both see the same frames."""
    return [*filters, "settb=AVTB", f"select=gte(pts\\,{first_pts_us - PTS_SLACK_US})"]


def last_progress(lines: list[str], key: str) -> int:
    """The last ``key=N`` value in FFmpeg ``-progress`` output (0 if absent)."""
    for line in reversed(lines):
        if line.startswith(key + "="):
            try:
                return int(line.split("=", 1)[1])
            except ValueError:
                return 0
    return 0


class _LateSeek(Exception):
    pass


def _kept(report: Path) -> list[int]:
    """Timestamps of the frames the encode kept, from its metadata print file."""
    with open(report, encoding="utf-8") as fh:
        return [int(m.group(1)) for m in map(_PTS.match, fh) if m]


def _encode_range(source: Path, seg: dict[str, Any], target: Path, video: dict[str, Any],
                  filters: list[str], extra: list[str], threads: int) -> tuple[int, list[str]]:
    """Encode the segment's frames to *target*; return the encoder's peak memory (bytes)
    and the seek that reached the segment's first frame."""
    params = ":".join(p for p in (video["svt_params"], f"lp={threads}") if p)
    what = (f"encoding segment {seg['index']:04d} (frames {seg['start']}-"
            f"{seg['start'] + seg['frames'] - 1}) of {source}")
    margins = (None,) if seg["first"] else SEEK_MARGINS_US
    for margin in margins:
        seek = [] if margin is None else ["-ss", seek_arg(seg["pts_us"] - 1 - margin)]
        try:
            with atomic_path(target) as tmp:
                report = tmp.with_suffix(".txt")
                chain = ",".join([
                    *selection(filters, seg["pts_us"]),
                    "metadata=mode=add:key=drapto:value=1",
                    f"metadata=mode=print:file={report.name}", "setpts=PTS-STARTPTS"])
                args = ["-v", "error", "-progress", "pipe:1", "-nostats",
                        "-noaccurate_seek", "-copyts", "-seek_timestamp", "1",
                        *seek, "-i", str(source), "-map", "0:V:0", "-vf", chain,
                        "-frames:v", str(seg["frames"]), "-fps_mode", "passthrough",
                        "-c:v", "libsvtav1", "-preset", str(video["preset"]),
                        "-crf", str(video["crf"]), "-pix_fmt", video["pixel_format"],
                        "-svtav1-params", params, *extra, "-an", "-sn", "-dn",
                        "-map_metadata", "-1", "-map_chapters", "-1", *BITEXACT, tmp.name]
                try:
                    result = proc.run(args, what=what, cwd=target.parent,
                                      on_line=progress.on_progress(seg["index"]))
                    kept = _kept(report) if report.exists() else []
                finally:
                    report.unlink(missing_ok=True)
                if not kept or abs(kept[0] - seg["pts_us"]) > PTS_SLACK_US:
                    raise _LateSeek  # the seek landed after the first frame: go further back
                if len(kept) < seg["frames"]:  # the filters may run a frame ahead
                    raise DraptoError(f"{what}: the source gave {len(kept)} frames, "
                                      f"expected {seg['frames']}")
            return result.peak_rss, seek
        except _LateSeek:
            continue
    raise DraptoError(f"{what}: frame {seg['start']} (timestamp {seg['pts_us']} µs) "
                      "could not be decoded")


def dolby_vision_blocker(dv: dict[str, Any]) -> str | None:
    """Why libsvtav1 cannot carry this Dolby Vision over, or None if it can."""
    if dv["profile"] == 9:
        return "profile 9 cannot be converted to AV1 profile 10"
    if dv["profile"] == 10 and not dv["compatibility"]:
        return "profile 10 without a compatibility id cannot be converted"
    return None


def run_encode(source: Path, segment: Path, crop: Path, target: Path, video: dict[str, Any],
               threads: int, memory_budget: str, memory_estimates: dict[int, int]) -> None:
    """Encode one segment within the machine's memory budget; write its record (what was
    done, peak memory, warnings) beside it."""
    seg = read_json(segment)
    crop_data = read_json(crop)
    rect = crop_data["crop"]
    height = rect[1] if rect else crop_data["height"]
    need = memory.estimate_mib(height, video["preset"], memory_estimates)
    with memory.reserve(need, memory_budget, f"segment {seg['index']:04d}") as running:
        # Threads by what actually runs: when the budget lets fewer encodes run than there
        # are workers, each takes more of the cores (SVT-AV1's output does not depend on it).
        threads = max(threads, (os.cpu_count() or 1) // running)
        started = time.monotonic()
        peak, record = _encode_segment(source, seg, rect, target, video, threads)
        seconds = time.monotonic() - started
    memory.learn(height, video["preset"], peak)
    write_json(target.with_suffix(".json"), {**record, "peak_memory_mib": peak >> 20,
                                             "reserved_mib": need,
                                             "seconds": round(seconds, 2)})


def _encode_segment(source: Path, seg: dict[str, Any], rect: list[int] | None, target: Path,
                    video: dict[str, Any], threads: int) -> tuple[int, dict[str, Any]]:
    filters = [*video["filters"], *([f"crop={':'.join(map(str, rect))}"] if rect else [])]
    warnings: list[str] = []
    dv, dv_kept = video["dolby_vision"], False
    if dv:
        plain = "plain HDR" if dv.get("compatibility") else "plain"
        blocker = dolby_vision_blocker(dv)
        if blocker:
            warnings.append(f"Dolby Vision ({dv['codec_profile']}) not kept: {blocker}; "
                            f"encoded as {plain} video")
        else:
            try:
                peak, _ = _encode_range(source, seg, target, video, filters,
                                        ["-dolbyvision", "1"], threads)
                dv_kept = True
            except DraptoError as exc:
                reason = str(exc).splitlines()[-1].strip()
                warnings.append(f"Dolby Vision ({dv['codec_profile']}) not kept: the encoder "
                                f"refused it ({reason}); encoded as {plain} video")
    search: dict[str, Any] = {}
    if not dv_kept and video.get("quality") and not dv:
        peak, search = _search(source, seg, target, video, filters, threads)
        video = {**video, "crf": search["crf"]}
        if not search["reached"]:
            warnings.append(f"segment {seg['index']:04d}: VMAF {search['vmaf']:.2f} at CRF "
                            f"{search['crf']} misses the target "
                            f"{video['quality']['target']} (CRF bounds reached)")
    elif not dv_kept:
        peak, _ = _encode_range(source, seg, target, video, filters,
                                ["-dolbyvision", "0"] if dv else [], threads)
    return peak, {**search, "index": seg["index"], "frames": seg["frames"], "crf": video["crf"],
                  "preset": video["preset"], "crop": rect, "filters": filters,
                  "dolby_vision": dv_kept, "warnings": warnings,
                  "bytes": target.stat().st_size}


def _search(source: Path, seg: dict[str, Any], target: Path, video: dict[str, Any],
            filters: list[str], threads: int) -> tuple[int, dict[str, Any]]:
    """Encode at CRFs chosen by the search until the target VMAF is met with the fewest
    bytes; every probe is a real final encode, measured, so the kept one is verified. The
    probes are recorded as they come: an interrupted search resumes from them."""
    q = video["quality"]
    goal = quality.Target(q["target"], q["tolerance"], q["crf_min"], q["crf_max"],
                          q["attempts"])
    state_path = target.with_suffix(".probes.json")
    state: dict[str, Any] = {"settings": q, "filters": filters, "probes": {}}
    with contextlib.suppress(OSError, ValueError):
        old = read_json(state_path)
        if old.get("settings") == q and old.get("filters") == filters:
            state = old
    probes = {int(c): p["vmaf"] for c, p in state["probes"].items()}

    def candidate(crf: int) -> Path:
        return target.with_name(f"{target.stem}.crf{crf}{target.suffix}")

    peak = 0
    while (crf := quality.next_crf(probes, goal, q["start"])) is not None:
        peak = max(peak, _probe(source, seg, candidate(crf), video, crf, filters, threads,
                                state, q))
        write_json(state_path, state)
        probes = {int(c): p["vmaf"] for c, p in state["probes"].items()}
    chosen, reached = quality.choose(probes, goal)
    if not candidate(chosen).exists():  # resumed after its file was lost: encode it again
        peak = max(peak, _probe(source, seg, candidate(chosen), video, chosen, filters,
                                threads, state, q))
    os.replace(candidate(chosen), target)
    for crf in probes:
        candidate(crf).unlink(missing_ok=True)
    kept = state["probes"][str(chosen)]
    state_path.unlink(missing_ok=True)
    return peak, {"crf": chosen, "vmaf": kept["vmaf"], "vmaf_frames": kept["frames"],
                  "reached": reached, "target_vmaf": q["target"], "vmaf_pool": q["pool"],
                  "probes": [{"crf": int(c), "vmaf": round(p["vmaf"], 3), "bytes": p["bytes"]}
                             for c, p in sorted(state["probes"].items(), key=lambda x: int(x[0]))],
                  "attempts": len(probes)}


def _probe(source: Path, seg: dict[str, Any], out: Path, video: dict[str, Any], crf: int,
           filters: list[str], threads: int, state: dict[str, Any], q: dict[str, Any]) -> int:
    """One search step: encode at *crf* (final settings) and measure its VMAF."""
    peak, seek = _encode_range(source, seg, out, {**video, "crf": crf}, filters, [], threads)
    scores = quality.measure(
        source, out, selection(filters, seg["pts_us"]), seg["frames"], seek, q["model"],
        q["subsample"],
        out.with_name(f".{out.stem}.vmaf.tmp.json"),
        f"VMAF of segment {seg['index']:04d} at CRF {crf} ({source})")
    state["probes"][str(crf)] = {"vmaf": quality.pool(scores, q["pool"]),
                                 "bytes": out.stat().st_size,
                                 "frames": [round(v, 3) for v in scores]}
    return peak


def segment_durations(scenes: dict[str, Any]) -> list[int]:
    """Each segment's span on the source's timeline (µs): to the next segment's first frame,
    the last to the end of the last frame."""
    starts = [s["start_pts_us"] for s in scenes["segments"]]
    end = scenes["last_pts_us"] + round(1e6 / scenes["fps"])
    return [b - a for a, b in zip(starts, [*starts[1:], end])]


def run_concat(encoded: list[Path], durations: list[int], listing: Path, target: Path) -> None:
    """Join the encoded segments with the concat demuxer (stream copy). Each file's span is
    given from the source's timestamps, so the joined video keeps the source's timeline
    exactly (variable frame rates too) instead of adding up rounded file durations."""
    with atomic_path(listing) as tmp:
        tmp.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{p.relative_to(listing.parent).as_posix()}'\nduration {seek_arg(d)}\n"
            for p, d in zip(encoded, durations, strict=True)), encoding="utf-8")
    with atomic_path(target) as tmp:
        proc.run(["-v", "error", "-f", "concat", "-safe", "0", "-i", listing.name,
                  "-map", "0:v", "-c", "copy", *BITEXACT, tmp.name],
                 what=f"joining {len(encoded)} segments", cwd=listing.parent)
