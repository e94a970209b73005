"""One segment's encode, the work that the local executor and a cluster's worker both
call (:func:`run_encode`): the memory reservation, the Dolby Vision fallback, the quality
search's driver and the segment's record. It knows nothing of where it runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from drapto import progress
from drapto.errors import DraptoError
from drapto.files import put_in_place
from drapto.media import memory, proc
from drapto.media.memory import svt_threads
from drapto.media.records import (
    Crop,
    Rect,
    Scored,
    SearchRecord,
    Segment,
    SegmentRecord,
    Tried,
    crf_text,
)
from drapto.quality import decisions as quality
from drapto.quality import search, vmaf
from drapto.quality.policy import Quality, Video, dolby_vision_blocker
from drapto.quality.svt import DV_REFUSED, encode_retrying


def run_encode(source: Path, segment: Segment, crop: Path, target: Path, video: Video,
               threads: int, memory_budget: str, memory_estimates: dict[int, int],
               start: search.Start, index: int = 0) -> None:
    """Encode one segment within the machine's memory budget; write its record (what was
    done, peak memory, warnings) beside it. With quality targeting, its search starts from
    *start* (:data:`drapto.quality.search.Start`: the defaults, the film's calibration, the lead
    calibration segment's crossing, or a balance's CRF). *index*: the segment's number in
    this run, for messages only (the bytes and the record do not depend on it: a segment
    renumbered by a new cut before it keeps its encode)."""
    seg = replace(segment, index=index)
    q = video.quality
    prior = start.prior(q, seg) if q else None
    crop_data = Crop.read(crop)
    # Bars found on frames of several sizes say nothing of the one picture they become.
    rect = None if video.picture and video.picture.resized else crop_data.rect
    height = crop_data.height_out
    need = memory.estimate_mib(height, video.preset, memory_estimates)
    with memory.reserve(need, memory_budget, f"segment {seg.index:04d}") as running:
        # Threads by what actually runs: when the budget lets fewer encodes run than there
        # are workers, each takes more of the cores (SVT-AV1's output does not depend on it).
        threads = max(threads, svt_threads(running))
        started = time.monotonic()
        peak, record = _encode_segment(source, seg, rect, target, video, threads, prior)
        seconds = time.monotonic() - started
    memory.learn(height, video.preset, peak)
    replace(record, peak_memory_mib=peak >> 20, reserved_mib=need,
            seconds=round(seconds, 2)).write(target.with_suffix(".json"))


def _encode_segment(source: Path, seg: Segment, rect: Rect | None, target: Path,
                    video: Video, threads: int, prior: search.Prior | None
                    ) -> tuple[int, SegmentRecord]:
    filters = [*video.filters, *([f"crop={':'.join(map(str, rect))}"] if rect else [])]
    warnings: list[str] = []
    dv = video.dolby_vision
    # What to try, in turn: the encoder's arguments and whether they keep the RPU.
    tries: list[tuple[list[str], bool]] = [([], False)]
    peak, plain = 0, "plain"
    if dv:
        plain = "plain HDR" if dv.compatibility else "plain"
        tries = [(["-dolbyvision", "0"], False)]
        blocker = dolby_vision_blocker(dv)
        if blocker:
            warnings.append(f"Dolby Vision ({dv.codec_profile}) not kept: {blocker}; "
                            f"encoded as {plain} video")
        else:
            tries.insert(0, (["-dolbyvision", "1"], True))
    found: Scored | None = None
    crf = video.crf
    for extra, dv_kept in tries:
        try:
            if prior:
                peak, crf, found = _search(source, seg, target, video, filters, extra,
                                           threads, prior)
            else:
                peak = encode_retrying(source, seg, target, video, filters, extra, threads,
                                        progress_id=str(target)).peak
            break
        except DraptoError as exc:
            if not dv or not dv_kept or DV_REFUSED not in exc.output or proc.stopping():
                raise
            reason = next(line[line.index(DV_REFUSED):].strip()
                           for line in exc.output.splitlines() if DV_REFUSED in line)
            warnings.append(f"Dolby Vision ({dv.codec_profile}) not kept: the encoder "
                            f"refused it ({reason}); encoded as {plain} video")
    q = video.quality
    if found is not None and q:
        video = video.at(crf)
        found = replace(found, outside=outside(
            found.vmaf, crf, {float(f.crf): float(f.vmaf) for f in found.search.finals},
            q.target()))
        if found.outside:
            # Named by its frames: the record outlives the segment's number.
            warnings.append(f"{SEGMENT_WARNING}{seg.start}-"
                            f"{seg.start + seg.frames - 1}: VMAF {found.vmaf:.2f} is "
                            f"outside the band {q.target().band_text()}: {found.outside}")
    return peak, SegmentRecord(seg.start, seg.frames, video.crf, video.preset, rect,
                               tuple(filters), dv_kept, tuple(warnings),
                               target.stat().st_size, found)


# How a segment's own warning begins (the screen groups them, report.html tabulates them).
SEGMENT_WARNING = "the segment at frames "


def outside(vmaf: float, crf: float, finals: Mapping[float, float], band: quality.Target
            ) -> str | None:
    """Why a kept encode is outside the band (None: it is within); *finals*: every final
    encode's VMAF by CRF."""
    if band.within(vmaf):
        return None
    high = vmaf > band.vmaf
    if high and crf >= band.crf_max:
        return f"above it even at crf_max ({crf_text(band.crf_max)})"
    if not high and crf <= band.crf_min:
        return f"below it even at crf_min ({crf_text(band.crf_min)})"
    if quality.flat(finals):
        return "its VMAF does not change with CRF (a still or empty picture)"
    spent = "search_attempts" if len(finals) <= band.attempts else \
        f"search_attempts, and {len(finals) - band.attempts} more below the band"
    return f"{len(finals)} encodes ({spent}) did not reach it; the nearest is kept"


def probe_window(frames: int, share: float, least: int = 24) -> tuple[int, int]:
    """The frames the probes encode: the middle *share* of the segment, at least *least*
    frames (all of a short segment)."""
    count = min(frames, max(least, round(frames * share)))
    return (frames - count) // 2, count


# Probes score every frame: a probe's few frames, subsampled, left a 0.5-1.3 point error
# (measured against all frames), and scoring them all adds about 0.02 s to a 0.2 s probe.
PROBE_SUBSAMPLE = 1
# A final encode is scored on every vmaf_subsample-th frame, but on at least this many: a
# few frames, subsampled, are as noisy as a probe's (bench/segments.py; docs/pages/benchmarks.md).
LEAST_SCORED = 10


def final_subsample(frames: int, subsample: int) -> int:
    """The vmaf_subsample a final encode of *frames* frames is scored with: *subsample*, or
    the largest below it (odd ones, from an odd one) that scores LEAST_SCORED frames."""
    n, step = subsample, 2 if subsample % 2 else 1
    while n > 1 and -(-frames // n) < LEAST_SCORED:
        n -= step
    return n


def _probe_settings(seg: Segment, video: Video, q: Quality, filters: list[str],
                    window: tuple[int, int]) -> dict[str, Any]:
    """What a probe's measurement depends on: while these hold, its figures stay valid,
    whatever the target. The segment's frames are among them: its files are named by its
    first frame, which another scene setting's segment of other length may share."""
    return {"frames": [seg.start, seg.frames, seg.pts_us],
            "search_preset": q.search_preset, "filters": filters, "window": list(window),
            "vmaf_pool": q.vmaf_pool, "vmaf_model": q.vmaf_model, "subsample": PROBE_SUBSAMPLE,
            "vmaf_scoring": q.vmaf_scoring,
            "pixel_format": video.pixel_format, "svt_params": video.svt_params}


def _again_text(seg: Segment, crf: float, state: search.SearchState,
                goal: quality.Target, balancing: bool) -> str:
    """What the progress line says of a segment encoded again: where and why."""
    what = f"segment {seg.index:04d}: encoding again at CRF {crf_text(crf)}"
    if balancing or not state.finals:
        return f"{what} for the film's mean"
    last_crf, last = list(state.finals.items())[-1]  # the latest try
    side = "below" if last.vmaf < goal.vmaf - goal.tolerance else "above"
    edge = goal.vmaf - goal.tolerance if side == "below" else goal.vmaf + goal.above
    return (f"{what} (VMAF {last.vmaf:g} at CRF {crf_text(last_crf)} was {side} "
            f"{edge:g})")


def _search(source: Path, seg: Segment, target: Path, video: Video,
            filters: list[str], extra: list[str], threads: int, prior: search.Prior
            ) -> tuple[int, float, Scored]:
    """Find and encode the CRF that reaches the target (see drapto/quality/search.py); returns the
    peak memory, the CRF kept and the record's quality part. Every measurement is recorded
    as it comes (``<first frame>.search.json``): an interrupted search resumes from them."""
    q = video.quality
    assert q is not None
    goal = search.goal_of(q, prior)
    window = probe_window(seg.frames, q.search_sample)
    probe_key = {**_probe_settings(seg, video, q, filters, window), "encoder_args": extra}
    state_path = target.with_suffix(".search.json")
    key = search.state_key(q, probe_key, prior)
    state = search.SearchState.load(state_path, key) or search.SearchState(key)
    known = search.known_probes(target.with_suffix(".json"), probe_key)
    name = f"{target.stem}.crf{{}}{target.suffix}"
    peak = 0

    def measure(crf: float, final: bool) -> search.Measurement:
        nonlocal peak
        out = target.with_name(name.format(crf_text(crf)) if final
                               else f"{target.stem}.probe{target.suffix}")
        every = final_subsample(seg.frames, q.vmaf_subsample) if final else PROBE_SUBSAMPLE
        balancing = prior.source == "balance"
        if final and (state.finals or balancing):
            progress.TRACKER.again(_again_text(seg, crf, state, goal, balancing), str(target))
        done = encode_retrying(
            source, seg, out, video.at(crf, None if final else q.search_preset), filters,
            extra, threads, window=None if final else window, vmaf=q.scoring(every),
            # A segment the balance encodes again was counted already: it moves no bar.
            progress_id=str(target) if final and not balancing else None)
        peak = max(peak, done.peak)
        assert done.scores is not None
        m = search.Measurement(round(vmaf.pool(done.scores, q.vmaf_pool), 3),
                               out.stat().st_size,
                               [round(v, 3) for v in done.scores] if final else None)
        if not final:
            out.unlink()
        return m

    # Without probes (search=final), or when a probe would be a final encode (the same
    # preset over the whole segment), the final encodes are the search.
    direct = prior.source == "balance" or not q.probing or (
        q.search_preset == q.preset and window == (0, seg.frames))
    found = search.run(state, prior, goal, direct, measure,
                       lambda: state.write(state_path), known)
    kept = target.with_name(name.format(crf_text(found.crf)))
    if not kept.exists():  # resumed after its file was lost: encode it again
        state.finals[found.crf] = measure(found.crf, True)
    put_in_place(kept, target)
    for crf in state.finals:
        target.with_name(name.format(crf_text(crf))).unlink(missing_ok=True)
    kept_m = state.finals[found.crf]

    def listed(ms: dict[float, search.Measurement]) -> tuple[Tried, ...]:
        return tuple(Tried(c, m.vmaf, m.bytes) for c, m in sorted(ms.items()))
    record = SearchRecord(goal.vmaf, goal.tolerance, goal.above, q.preset, q.search_preset,
                          probe_key, round(found.fast_crf, 3), round(found.slope, 3),
                          prior.shift, prior, found.predicted, listed(state.probes),
                          listed(state.finals))
    state_path.unlink(missing_ok=True)
    return peak, found.crf, Scored(
        kept_m.vmaf, None if kept_m.scores is None else tuple(kept_m.scores),
        # within the settings' band (a calibration segment searched a narrower one)
        q.target().within(kept_m.vmaf), goal.vmaf, q.vmaf_pool,
        (q.target_vmaf - q.vmaf_tolerance, q.target_vmaf + q.vmaf_overshoot),
        seg.source_bytes, None, record)
