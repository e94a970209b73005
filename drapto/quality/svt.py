"""One segment's frames encoded by FFmpeg: the command, the seek and its retries, the
retry ladder.

A segment is the frames from its first timestamp on, this many. The encode seeks the
source to the keyframe before it, decodes from there, keeps the frames from that timestamp
on (``select``) and stops after the segment's frame count, so no intermediate video file is
written. Timestamps are the file's own (``-copyts``). It checks the first frame it kept:
demuxers whose seeking lands late (MPEG-TS) are retried from further back, up to decoding
from the start.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drapto import progress
from drapto.errors import DraptoError
from drapto.files import atomic_path
from drapto.media import proc
from drapto.media.records import Segment, crf_text
from drapto.media.timeline import seek_arg
from drapto.quality.policy import Video
from drapto.quality.vmaf import Scoring, read_scores, vmaf_graph

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


def encode_range(source: Path, seg: Segment, target: Path, video: Video,
                  filters: list[str], extra: list[str], threads: int, *,
                  window: tuple[int, int] | None = None, vmaf: Scoring | None = None,
                  progress_id: str | None = None) -> Encoded:
    """Encode the segment's frames (or *window*: offset and count within it) to *target*.
    With *vmaf* (how to score it), the encode is also scored against the frames it was
    made from, in the same FFmpeg run: a loopback decoder feeds libvmaf."""
    rate = video.encoder_fps
    params = ":".join(p for p in (video.svt_params, f"crf={crf_text(video.crf)}",
                                  f"lp={threads}",
                                  f"fps-num={rate[0]}:fps-denom={rate[1]}" if rate else "")
                      if p)
    offset, count = window or (0, seg.frames)
    what = (f"encoding segment {seg.index:04d} (frames {seg.start + offset}-"
            f"{seg.start + offset + count - 1}) of {source}")
    margins = (None,) if seg.first else SEEK_MARGINS_US
    for margin in margins:
        seek = [] if margin is None else ["-ss", seek_arg(seg.pts_us - 1 - margin)]
        try:
            with atomic_path(target) as tmp:
                report, log = tmp.with_suffix(".txt"), tmp.with_suffix(".vmaf.json")
                normal = video.picture.filters() if video.picture else []
                chain = ",".join([
                    *selection([*normal, *filters], seg.pts_us),
                    "metadata=mode=add:key=drapto:value=1",
                    f"metadata=mode=print:file={report.name}",
                    f"trim=start_frame={offset}:end_frame={offset + count}",
                    "setpts=PTS-STARTPTS"])
                scorer: list[str] = []
                if vmaf:
                    chain += ",split=2[venc][vref]"
                    scorer = ["-dec", "0:0", "-filter_complex",
                              vmaf_graph("vref", vmaf, log.name, threads),
                              "-map", "[vo]", "-f", "null", "-"]
                else:
                    chain += "[venc]"
                args = ["-v", "error", "-progress", "pipe:1", "-nostats",
                        "-noaccurate_seek", "-copyts", "-seek_timestamp", "1",
                        *seek, *video.input(), "-i", str(source),
                        "-filter_complex", f"[0:V:{video.stream}]{chain}",
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
                        landed = bool(kept) and abs(kept[0] - seg.pts_us) <= PTS_SLACK_US
                    scores = read_scores(log) if vmaf else None
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
    raise DraptoError(f"{what}: frame {seg.start} (timestamp {seg.pts_us} µs) "
                      "could not be decoded")


# The tries of an encode: a failure (the encoder's exit status, an empty file, too few
# frames) is retried once as it was, then on one thread (the least memory).
RETRY_LADDER = ("as configured", "again", "on one thread")
# What FFmpeg says when it cannot carry a source's Dolby Vision over (libavcodec/dovi_rpuenc.c).
DV_REFUSED = "Dolby Vision enabled, but could not determine profile"
# Failures no retry can help: the disk, or the encoder refusing the Dolby Vision it was given.
NOT_RETRIED = ("No space left on device", "Read-only file system", "Permission denied",
               DV_REFUSED)


def encode_retrying(source: Path, seg: Segment, target: Path, video: Video,
                     filters: list[str], extra: list[str], threads: int,
                     **kw: Any) -> Encoded:
    """:func:`encode_range`, retried along RETRY_LADDER when the encoder fails; the last
    failure names the segment, its frames and the end of FFmpeg's output."""
    for attempt, how in enumerate(RETRY_LADDER, 1):
        try:
            return encode_range(source, seg, target, video, filters, extra,
                                 1 if how == "on one thread" else threads, **kw)
        except DraptoError as exc:
            if proc.stopping() or attempt == len(RETRY_LADDER) or any(
                    m in exc.output for m in NOT_RETRIED):
                raise
            log.warning("segment %04d: %s; retrying %s", seg.index,
                        str(exc).splitlines()[0], RETRY_LADDER[attempt])
    raise AssertionError("unreachable")


