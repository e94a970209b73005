"""Segments and their AV1 encodes.

A segment target is a small JSON: the frame range and its first frame's timestamp. The
encode seeks the source to the keyframe before it, decodes from there, keeps the frames
from that timestamp on (``select``) and stops after the segment's frame count, so no
intermediate video file is written. Timestamps are the file's own (``-copyts``). It checks
the first frame it kept: demuxers whose seeking lands late (MPEG-TS) are retried from
further back, up to decoding from the start.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .. import memory, proc, progress, quality, search
from ..cluster import run_encode_remote
from ..encoding import Quality, Video
from ..errors import DraptoError
from ..graph import Task, Upstream, make_task, tagged
from ..job import Job, svt_threads
from ..timeline import seek_arg
from ..workdir import atomic_path, put_in_place, read_json, write_json
from .probe import dolby_vision_blocker
from .segments import segment_ids

log = logging.getLogger("drapto")
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact"]
_PTS = re.compile(r"^frame:\d+\s+pts:(-?\d+)")


# How far before a segment's first frame to seek, tried in turn; None: no seek at all.
SEEK_MARGINS_US: tuple[int | None, ...] = (0, 5_000_000, 30_000_000, None)
# Frames are matched by timestamp to within this (timestamps are rounded to µs).
PTS_SLACK_US = 500


def selection(filters: list[str], first_pts_us: int) -> list[str]:
    """The filters that turn the decoded source into the segment's frames: *filters* first
    (a deinterlacer needs the frames before the segment's first, decoded from the keyframe
    on), then the frames from the segment's first timestamp on. With VMAF, the encoder and
    libvmaf's reference are split from its output, so both see the same frames."""
    return [*filters, "settb=AVTB", f"select=gte(pts\\,{first_pts_us - PTS_SLACK_US})"]


class _LateSeek(Exception):
    pass


def _kept(report: Path) -> list[int]:
    """Timestamps of the frames the encode kept, from its metadata print file."""
    with open(report, encoding="utf-8") as fh:
        return [int(m.group(1)) for m in map(_PTS.match, fh) if m]


@dataclass
class Encoded:
    peak: int                            # the encoder's peak memory, bytes
    scores: list[float] | None = None    # per-frame VMAF, when asked for


def _encode_range(source: Path, seg: dict[str, Any], target: Path, video: Video,
                  filters: list[str], extra: list[str], threads: int, *,
                  window: tuple[int, int] | None = None, vmaf: quality.Scoring | None = None,
                  progress_id: str | None = None) -> Encoded:
    """Encode the segment's frames (or *window*: offset and count within it) to *target*.
    With *vmaf* (how to score it), the encode is also scored against the frames it was
    made from, in the same FFmpeg run: a loopback decoder feeds libvmaf."""
    rate = video.encoder_fps
    params = ":".join(p for p in (video.svt_params, f"crf={quality.crf_text(video.crf)}",
                                  f"lp={threads}",
                                  f"fps-num={rate[0]}:fps-denom={rate[1]}" if rate else "")
                      if p)
    offset, count = window or (0, seg["frames"])
    what = (f"encoding segment {seg['index']:04d} (frames {seg['start'] + offset}-"
            f"{seg['start'] + offset + count - 1}) of {source}")
    margins = (None,) if seg["first"] else SEEK_MARGINS_US
    for margin in margins:
        seek = [] if margin is None else ["-ss", seek_arg(seg["pts_us"] - 1 - margin)]
        try:
            with atomic_path(target) as tmp:
                report, log = tmp.with_suffix(".txt"), tmp.with_suffix(".vmaf.json")
                chain = ",".join([
                    *selection(filters, seg["pts_us"]),
                    "metadata=mode=add:key=drapto:value=1",
                    f"metadata=mode=print:file={report.name}",
                    f"trim=start_frame={offset}:end_frame={offset + count}",
                    "setpts=PTS-STARTPTS"])
                scorer: list[str] = []
                if vmaf:
                    chain += ",split=2[venc][vref]"
                    scorer = ["-dec", "0:0", "-filter_complex",
                              quality.vmaf_graph("vref", vmaf, log.name, threads),
                              "-map", "[vo]", "-f", "null", "-"]
                else:
                    chain += "[venc]"
                args = ["-v", "error", "-progress", "pipe:1", "-nostats",
                        "-noaccurate_seek", "-copyts", "-seek_timestamp", "1",
                        *seek, "-i", str(source), "-filter_complex", f"[0:V:0]{chain}",
                        "-map", "[venc]", "-frames:v", str(count), "-fps_mode", "passthrough",
                        "-c:v", "libsvtav1", "-preset", str(video.preset),
                        "-pix_fmt", video.pixel_format, "-svtav1-params", params, *extra,
                        "-map_metadata", "-1", "-map_chapters", "-1", *BITEXACT, tmp.name,
                        *scorer]
                try:
                    try:
                        result = proc.run(args, what=what, cwd=target.parent,
                                          on_line=None if progress_id is None
                                          else progress.on_progress(progress_id))
                    finally:
                        opened = report.exists()  # the filters ran
                        kept = _kept(report) if opened else []
                        landed = bool(kept) and abs(kept[0] - seg["pts_us"]) <= PTS_SLACK_US
                    scores = quality.read_scores(log) if vmaf else None
                except DraptoError:
                    # A seek that gave no frame at all (no keyframe near it: a transport
                    # stream decodes nothing until the next one) can make the encoder fail.
                    if seek and opened and not kept and not proc.stopping():
                        raise _LateSeek from None
                    raise
                finally:
                    report.unlink(missing_ok=True)
                    log.unlink(missing_ok=True)
                if not landed:
                    raise _LateSeek  # the seek landed after the first frame: go further back
                if len(kept) < offset + count:  # the filters may run a frame ahead
                    raise DraptoError(f"{what}: the source gave {len(kept) - offset} frames, "
                                      f"expected {count}")
                if tmp.stat().st_size == 0:
                    raise DraptoError(f"{what}: the encoder wrote an empty file")
            return Encoded(result.peak_rss, scores)
        except _LateSeek:
            continue
    raise DraptoError(f"{what}: frame {seg['start']} (timestamp {seg['pts_us']} µs) "
                      "could not be decoded")


# The tries of an encode: a failure (the encoder's exit status, an empty file, too few
# frames) is retried once as it was, then on one thread (the least memory).
RETRY_LADDER = ("as configured", "again", "on one thread")
# What FFmpeg says when it cannot carry a source's Dolby Vision over (libavcodec/dovi_rpuenc.c).
DV_REFUSED = "Dolby Vision enabled, but could not determine profile"
# Failures no retry can help: the disk, or the encoder refusing the Dolby Vision it was given.
NOT_RETRIED = ("No space left on device", "Read-only file system", "Permission denied",
               DV_REFUSED)


def _encode_retrying(source: Path, seg: dict[str, Any], target: Path, video: Video,
                     filters: list[str], extra: list[str], threads: int,
                     **kw: Any) -> Encoded:
    """:func:`_encode_range`, retried along RETRY_LADDER when the encoder fails; the last
    failure names the segment, its frames and the end of FFmpeg's output."""
    for attempt, how in enumerate(RETRY_LADDER, 1):
        try:
            return _encode_range(source, seg, target, video, filters, extra,
                                 1 if how == "on one thread" else threads, **kw)
        except DraptoError as exc:
            if proc.stopping() or attempt == len(RETRY_LADDER) or any(
                    m in exc.output for m in NOT_RETRIED):
                raise
            log.warning("segment %04d: %s; retrying %s", seg["index"],
                        str(exc).splitlines()[0], RETRY_LADDER[attempt])
    raise AssertionError("unreachable")


def run_encode(source: Path, segment: Path, crop: Path, target: Path, video: Video,
               threads: int, memory_budget: str, memory_estimates: dict[int, int],
               calibration: Path | None = None, index: int = 0,
               balance: dict[str, float] | None = None) -> None:
    """Encode one segment within the machine's memory budget; write its record (what was
    done, peak memory, warnings) beside it. With quality targeting, the search starts from
    *calibration* (the film's calibration.json), or from the defaults without it; or, with
    *balance* (``crf`` and ``slope`` from balance.json), it is a segment encoded again to
    bring the film's mean to the target. *index*: the segment's number in this run, for
    messages only (the bytes and the record do not depend on it: a segment renumbered by a
    new cut before it keeps its encode)."""
    seg = {**read_json(segment), "index": index}
    q = video.quality
    prior = None if not q else (
        search.Prior.balancing(balance["crf"], balance["slope"]) if balance
        else search.Prior.from_calibration(read_json(calibration), q) if calibration
        else search.Prior.default(q))
    crop_data = read_json(crop)
    rect = crop_data["crop"]
    height = rect[1] if rect else crop_data["height"]
    need = memory.estimate_mib(height, video.preset, memory_estimates)
    with memory.reserve(need, memory_budget, f"segment {seg['index']:04d}") as running:
        # Threads by what actually runs: when the budget lets fewer encodes run than there
        # are workers, each takes more of the cores (SVT-AV1's output does not depend on it).
        threads = max(threads, svt_threads(running))
        started = time.monotonic()
        peak, record = _encode_segment(source, seg, rect, target, video, threads, prior)
        seconds = time.monotonic() - started
    memory.learn(height, video.preset, peak)
    write_json(target.with_suffix(".json"), {**record, "peak_memory_mib": peak >> 20,
                                             "reserved_mib": need,
                                             "seconds": round(seconds, 2)})


def _encode_segment(source: Path, seg: dict[str, Any], rect: list[int] | None, target: Path,
                    video: Video, threads: int, prior: search.Prior | None
                    ) -> tuple[int, dict[str, Any]]:
    filters = [*video.filters, *([f"crop={':'.join(map(str, rect))}"] if rect else [])]
    warnings: list[str] = []
    dv = video.dolby_vision
    # What to try, in turn: the encoder's arguments and whether they keep the RPU.
    tries: list[tuple[list[str], bool]] = [([], False)]
    peak, plain = 0, "plain"
    if dv:
        plain = "plain HDR" if dv.get("compatibility") else "plain"
        tries = [(["-dolbyvision", "0"], False)]
        blocker = dolby_vision_blocker(dv)
        if blocker:
            warnings.append(f"Dolby Vision ({dv['codec_profile']}) not kept: {blocker}; "
                            f"encoded as {plain} video")
        else:
            tries.insert(0, (["-dolbyvision", "1"], True))
    found: dict[str, Any] = {}
    for extra, dv_kept in tries:
        try:
            if prior:
                peak, found = _search(source, seg, target, video, filters, extra, threads,
                                      prior)
            else:
                peak = _encode_retrying(source, seg, target, video, filters, extra, threads,
                                        progress_id=str(target)).peak
            break
        except DraptoError as exc:
            if not dv or not dv_kept or DV_REFUSED not in exc.output or proc.stopping():
                raise
            reason = next(line[line.index(DV_REFUSED):].strip()
                           for line in exc.output.splitlines() if DV_REFUSED in line)
            warnings.append(f"Dolby Vision ({dv['codec_profile']}) not kept: the encoder "
                            f"refused it ({reason}); encoded as {plain} video")
    q = video.quality
    if found and q:
        video = video.at(found["crf"])
        found["outside"] = outside(found["vmaf"], found["crf"],
                                   len(found["search"]["finals"]), q.target())
        if found["outside"]:
            # Named by its frames: the record outlives the segment's number.
            warnings.append(f"the segment at frames {seg['start']}-"
                            f"{seg['start'] + seg['frames'] - 1}: VMAF {found['vmaf']:.2f} is "
                            f"outside the band {q.target().band_text()}: {found['outside']}")
    return peak, {**found, "start": seg["start"], "frames": seg["frames"], "crf": video.crf,
                  "preset": video.preset, "crop": rect, "filters": filters,
                  "dolby_vision": dv_kept, "warnings": warnings,
                  "bytes": target.stat().st_size}


def outside(vmaf: float, crf: float, encodes: int, band: quality.Target) -> str | None:
    """Why a kept encode is outside the band (None: it is within)."""
    if band.within(vmaf):
        return None
    high = vmaf > band.vmaf
    if high and crf >= band.crf_max:
        return f"above it even at crf_max ({quality.crf_text(band.crf_max)})"
    if not high and crf <= band.crf_min:
        return f"below it even at crf_min ({quality.crf_text(band.crf_min)})"
    return f"{encodes} encodes (search_attempts) did not reach it; the nearest is kept"


def probe_window(frames: int, share: float, least: int = 24) -> tuple[int, int]:
    """The frames the probes encode: the middle *share* of the segment, at least *least*
    frames (all of a short segment)."""
    count = min(frames, max(least, round(frames * share)))
    return (frames - count) // 2, count


# Probes score every frame: a probe's few frames, subsampled, left a 0.5-1.3 point error
# (measured against all frames), and scoring them all adds about 0.02 s to a 0.2 s probe.
PROBE_SUBSAMPLE = 1
# A final encode is scored on every vmaf_subsample-th frame, but on at least this many: a
# few frames, subsampled, are as noisy as a probe's (bench/subsample.py, bench/segments.py).
LEAST_SCORED = 10


def final_subsample(frames: int, subsample: int) -> int:
    """The vmaf_subsample a final encode of *frames* frames is scored with: *subsample*, or
    the largest below it (odd ones, from an odd one) that scores LEAST_SCORED frames."""
    n, step = subsample, 2 if subsample % 2 else 1
    while n > 1 and -(-frames // n) < LEAST_SCORED:
        n -= step
    return n


def _probe_settings(seg: dict[str, Any], video: Video, q: Quality, filters: list[str],
                    window: tuple[int, int]) -> dict[str, Any]:
    """What a probe's measurement depends on: while these hold, its figures stay valid,
    whatever the target. The segment's frames are among them: its files are named by its
    first frame, which another scene setting's segment of other length may share."""
    return {"frames": [seg["start"], seg["frames"], seg["pts_us"]],
            "search_preset": q.search_preset, "filters": filters, "window": list(window),
            "vmaf_pool": q.vmaf_pool, "vmaf_model": q.vmaf_model, "subsample": PROBE_SUBSAMPLE,
            "vmaf_scoring": q.vmaf_scoring,
            "pixel_format": video.pixel_format, "svt_params": video.svt_params}


def _again_text(seg: dict[str, Any], crf: float, state: search.State,
                goal: quality.Target, balancing: bool) -> str:
    """What the progress line says of a segment encoded again: where and why."""
    what = f"segment {seg['index']:04d}: encoding again at CRF {quality.crf_text(crf)}"
    if balancing or not state.finals:
        return f"{what} for the film's mean"
    last_crf, last = list(state.finals.items())[-1]  # the latest try
    side = "below" if last.vmaf < goal.vmaf - goal.tolerance else "above"
    edge = goal.vmaf - goal.tolerance if side == "below" else goal.vmaf + goal.above
    return (f"{what} (VMAF {last.vmaf:g} at CRF {quality.crf_text(last_crf)} was {side} "
            f"{edge:g})")


def _search(source: Path, seg: dict[str, Any], target: Path, video: Video,
            filters: list[str], extra: list[str], threads: int, prior: search.Prior
            ) -> tuple[int, dict[str, Any]]:
    """Find and encode the CRF that reaches the target (see drapto/search.py). Every
    measurement is recorded as it comes (``NNNN.search.json``): an interrupted search
    resumes from them."""
    q = video.quality
    assert q is not None
    goal = search.goal_of(q, prior)
    window = probe_window(seg["frames"], q.search_sample)
    probe_key = {**_probe_settings(seg, video, q, filters, window), "encoder_args": extra}
    state_path = target.with_suffix(".search.json")
    key = search.state_key(q, probe_key, prior)
    state = search.State.load(state_path, key) or search.State(key)
    known = search.known_probes(target.with_suffix(".json"), probe_key)
    name = f"{target.stem}.crf{{}}{target.suffix}"
    peak = 0

    def measure(crf: float, final: bool) -> search.Measurement:
        nonlocal peak
        out = target.with_name(name.format(quality.crf_text(crf)) if final
                               else f"{target.stem}.probe{target.suffix}")
        every = final_subsample(seg["frames"], q.vmaf_subsample) if final else PROBE_SUBSAMPLE
        balancing = prior.source == "balance"
        if final and (state.finals or balancing):
            progress.TRACKER.again(_again_text(seg, crf, state, goal, balancing), str(target))
        done = _encode_retrying(
            source, seg, out, video.at(crf, None if final else q.search_preset), filters,
            extra, threads, window=None if final else window, vmaf=q.scoring(every),
            # A segment the balance encodes again was counted already: it moves no bar.
            progress_id=str(target) if final and not balancing else None)
        peak = max(peak, done.peak)
        assert done.scores is not None
        m = search.Measurement(round(quality.pool(done.scores, q.vmaf_pool), 3),
                               out.stat().st_size,
                               [round(v, 3) for v in done.scores] if final else None)
        if not final:
            out.unlink()
        return m

    # Without probes (search=final), or when a probe would be a final encode (the same
    # preset over the whole segment), the final encodes are the search.
    direct = prior.source == "balance" or not q.probing or (
        q.search_preset == q.preset and window == (0, seg["frames"]))
    found = search.run(state, prior, goal, direct, measure,
                       lambda: state.save(state_path), known)
    kept = target.with_name(name.format(quality.crf_text(found.crf)))
    if not kept.exists():  # resumed after its file was lost: encode it again
        state.finals[found.crf] = measure(found.crf, True)
    put_in_place(kept, target)
    for crf in state.finals:
        target.with_name(name.format(quality.crf_text(crf))).unlink(missing_ok=True)
    kept_m = state.finals[found.crf]

    def listed(ms: dict[float, search.Measurement]) -> list[dict[str, Any]]:
        return [{"crf": c, "vmaf": m.vmaf, "bytes": m.bytes} for c, m in sorted(ms.items())]
    record = {"target": goal.vmaf, "tolerance": goal.tolerance, "overshoot": goal.above,
              "preset": q.preset,
              "search_preset": q.search_preset, "probe_settings": probe_key,
              "fast_crf": round(found.fast_crf, 3), "slope": round(found.slope, 3),
              "shift": prior.shift, "prior": asdict(prior),
              "predicted_crf": found.predicted, "probes": listed(state.probes),
              "finals": listed(state.finals)}
    state_path.unlink(missing_ok=True)
    return peak, {"crf": found.crf, "vmaf": kept_m.vmaf, "vmaf_frames": kept_m.scores,
                  # within the settings' band (a calibration segment searched a narrower one)
                  "reached": q.target().within(kept_m.vmaf),
                  "target_vmaf": goal.vmaf, "vmaf_pool": q.vmaf_pool,
                  "band": [q.target_vmaf - q.vmaf_tolerance, q.target_vmaf + q.vmaf_overshoot],
                  "source_bytes": seg.get("source_bytes"), "search": record}


SCHEMA = 2
DOC = "encode:N: the AV1 encode of segment N (with quality targeting, its search)."
SAMPLE_DOC = ("sample:N: a calibration segment's encode, searched from the defaults (with "
              "quality targeting).")
CALIBRATE_DOC = ("calibration.json: where the quality search of the film's segments starts, "
                 "from the calibration segments.")
ADJUST_DOC = ("adjust:N: segment N encoded again at the CRF balance.json gives it, to bring "
              "the film's mean VMAF to the target.")


def execute_encode(executor: str, name: str, **kwargs: Any) -> None:
    """An encode's action: ``run_encode`` here, or on the Dask cluster of ``executor``."""
    if executor == "local":
        run_encode(**kwargs)
    else:
        run_encode_remote(executor, name, kwargs)


# What does not change an encode's bytes: where it runs, its name and number, how many
# threads and how much memory it may use.
UNKEYED = ("executor", "name", "index", "threads", "memory_budget", "memory_estimates")


def _video(up: Upstream, target_vmaf: float | None = None) -> Video:
    video = Video.of(up.job.settings, up.probe, up.scenes)
    if video.quality and target_vmaf is not None:
        video = replace(video, quality=video.quality.at(target_vmaf))
    return video


def calibration_sample(up: Upstream) -> list[int]:
    """The segments the film is calibrated on (none without quality targeting)."""
    s = up.job.settings
    if s.quality != "vmaf":
        return []
    return search.calibration_indices([seg["frames"] for seg in up.scenes["segments"]],
                                      s.calibration_segments)


def _encode_task(up: Upstream, basename: str, i: int, target: Path, video: Video,
                 threads: int, doc: str, calibration: Task | None = None,
                 balance: dict[str, float] | None = None) -> Task:
    job, s = up.job, up.job.settings
    name, sid = f"{i:04d}", segment_ids(up.scenes)[i]
    return up.add(make_task(
        job, basename, name, execute_encode,
        {"executor": s.executor, "name": tagged(job, f"{basename}:{name}"), "index": i,
         "source": job.source, "segment": job.work.segment(sid), "crop": job.work.crop,
         "target": target, "video": video, "threads": threads,
         "memory_budget": s.memory_budget, "memory_estimates": s.memory_estimates,
         "calibration": job.work.calibration if calibration else None,
         **({"balance": balance} if balance else {})},
        [up.get(f"segment:{name}"), up.get("crop"), *([calibration] if calibration else [])],
        doc, SCHEMA, unkeyed=UNKEYED, stamp_as=f"{basename}:{sid}",
        # A calibration sample is kept by tidy: the size decision and every segment's
        # search start from it, whatever the output holds.
        stowed=None if basename == "sample" else lambda: _holds_video(job)))


def _holds_video(job: Job) -> bool:
    from . import holds_video  # the whole graph, which this module is part of

    return holds_video(job)


def sample_tasks(up: Upstream, threads: int) -> Iterator[Task]:
    """With quality targeting: sample:N for the calibration segments, then calibrate."""
    sample = calibration_sample(up)
    if not sample:
        return
    ids, video = segment_ids(up.scenes), _video(up)
    first = [_encode_task(up, "sample", i, up.job.work.sample(ids[i]), video, threads,
                          f"calibration encode of segment {i:04d}") for i in sample]
    yield from first
    yield up.add(make_task(up.job, "calibrate", None, search.run_calibration,
                           {"records": [up.job.work.sample(ids[i]).with_suffix(".json")
                                        for i in sample],
                            "target": up.job.work.calibration},
                           first, CALIBRATE_DOC, search.SCHEMA))


def film_target(up: Upstream) -> float | None:
    """The target the film's segments are encoded at (size.json: the asked one, or the
    lowered one); None without quality targeting."""
    if up.job.settings.quality != "vmaf":
        return None
    return float(read_json(up.job.work.size)["target"])


def takes_sample(up: Upstream) -> set[int]:
    """The calibration segments whose sample is the film's encode: all of them, unless the
    film's target was lowered below the one they were searched for."""
    sample = calibration_sample(up)
    video = _video(up)
    if not sample or video.quality is None or film_target(up) != video.quality.target_vmaf:
        return set()
    return set(sample)


def tasks(up: Upstream, threads: int) -> Iterator[Task]:
    """encode:N for every segment but the calibration ones whose sample is kept; with
    quality targeting, each starts its search from calibrate."""
    video = _video(up, film_target(up))
    calibration = up.get("calibrate") if video.quality else None
    ids, kept = segment_ids(up.scenes), takes_sample(up)
    for i, sid in enumerate(ids):
        if i not in kept:
            yield _encode_task(up, "encode", i, up.job.work.encoded(sid), video, threads,
                               f"AV1 encode of segment {i:04d}", calibration)


def adjust_tasks(up: Upstream, threads: int, balance: dict[str, Any]) -> Iterator[Task]:
    """adjust:N for each segment balance.json names: encoded again at its CRF."""
    video = _video(up, balance["target"])
    ids = segment_ids(up.scenes)
    for i, sid in enumerate(ids):
        again = balance["segments"].get(sid)
        if again:
            yield _encode_task(up, "adjust", i, up.job.work.adjusted(sid), video, threads,
                               f"segment {i:04d} encoded again for the film's mean",
                               balance=again)


def first_encode(up: Upstream, i: int) -> Task:
    """The task of segment *i*'s first kept encode: its encode, or its calibration sample."""
    name = f"encode:{i:04d}"
    return up.get(name) if tagged(up.job, name) in up.made else up.get(f"sample:{i:04d}")


def final_encode(up: Upstream, i: int) -> Task:
    """The task of the encode of segment *i* that the film is joined from."""
    name = f"adjust:{i:04d}"
    return up.get(name) if tagged(up.job, name) in up.made else first_encode(up, i)


def final_targets(up: Upstream) -> list[Path]:
    """The encoded segments the film is joined from, in order (their records beside them)."""
    return [Path(final_encode(up, i)["meta"]["target"])
            for i in range(len(up.scenes["segments"]))]
