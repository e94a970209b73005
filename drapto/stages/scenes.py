"""scenes.json: scene cuts as frame numbers and the final segment boundaries.

One decoding pass with FFmpeg's scdet gives every frame's scene score and timestamp (in
microseconds, relative to the input's start as FFmpeg's ``-ss`` counts it). Segments start
at cuts; cuts closer than ``min_segment`` to the previous boundary are dropped, gaps longer
than ``max_segment`` are split evenly, and a short last segment is merged.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from drapto.errors import DraptoError
from drapto.media import proc
from drapto.media.records import PictureChange, Probe, Scenes, SceneSegment, Streams, VideoStream
from drapto.media.timeline import (
    SPAN_CODECS,
    Packets,
    read_framecrc,
    seek_arg,
    seek_input,
    spans_by_kind,
    stream_maps,
)
from drapto.media.timeparse import Clip
from drapto.quality.policy import MAX_ENCODER_FPS, decoder_options
from drapto.stages.probe import KIND as PROBE
from drapto.work.graph import Kind, Task, make_task
from drapto.work.job import Job

SCHEMA = Scenes.SCHEMA  # 7, part of the task's key: a new schema redoes the target
_START = re.compile(r"^\s*Duration: .*?, start: (-?\d+\.\d+)", re.MULTILINE)


def _window(clip: Clip | None, from_start: bool = False) -> list[str]:
    """For a clip: its range with a second either side (or from the file's start), as input
    options."""
    if not clip:
        return []
    ahead = clip.start_us if from_start else 1_000_000
    window = seek_input(clip.start_us - ahead)
    if clip.length_us is not None:
        window += ["-t", seek_arg(clip.length_us + ahead + 1_000_000)]
    return window


def add_source_bytes(scenes: Scenes, packets: list[tuple[int, int]]) -> Scenes:
    """Each segment's ``source_bytes``: the packets whose timestamps fall in its span."""
    segments = scenes.segments
    starts = [s.start_pts_us - 500 for s in segments]
    ends = [*starts[1:], scenes.last_pts_us + 500]
    return replace(scenes, segments=tuple(
        replace(seg, source_bytes=sum(n for t, n in packets if a <= t < b))
        for seg, a, b in zip(segments, starts, ends)))


# The scene pass's frame lines (the metadata filter's print, on FFmpeg's log) and the line
# FFmpeg writes when the decoded frames' size, format or range change and it rebuilds the
# filter graph (which starts the frame numbers and scdet's state again).
# Found anywhere in a line: FFmpeg leaves a line's "[Parsed_metadata_N @ 0x…]" prefix out
# after one that ended in a carriage return (its progress line, which -nostats turns off),
# and the filter's line can follow another thread's unfinished one ("… pcm_s16leframe:0 …").
_FRAME_LOG = re.compile(r"frame:(\d+)\s+pts:(-?\d+)")
_SCORE_LOG = re.compile(r"lavfi\.scd\.score=([\d.]+)")
_RECONFIG = re.compile(r"Reconfiguring filter graph because video parameters changed to "
                       r"(\w+)(?:\((\w+)[^)]*\))?, (\d+)x(\d+)")
# FFmpeg's words for a bitstream it cannot decode.
_BROKEN = ("Invalid data found", "invalid data", "Error submitting packet to decoder",
           "corrupt", "Decoding error", "error while decoding")


@dataclass
class Pass:
    """What the scene pass read: each frame's timestamp and scene score, where the decoded
    frames change size, format or range, and the error lines FFmpeg wrote."""
    pts: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    changes: list[PictureChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self, text: str) -> None:
        if m := _FRAME_LOG.search(text):
            self.pts.append(int(m.group(2)))
            self.scores.append(0.0)
        elif m := _SCORE_LOG.search(text):
            if self.scores:
                self.scores[-1] = float(m.group(1))
        elif m := _RECONFIG.search(text):
            self.changes.append(PictureChange(len(self.pts), int(m.group(3)),
                                              int(m.group(4)), m.group(1), m.group(2)))
        elif any(w in text for w in _BROKEN) and len(self.errors) < 20:
            self.errors.append(text)


def audio_codecs(probe: Probe) -> list[str]:
    """The scene pass's codecs: SPAN_CODECS, with the audio tracks FFmpeg cannot decode
    read as packets."""
    return [*SPAN_CODECS, *(a for t in probe.audio if not t.decodable
                            for a in (f"-c:a:{t.index}", "copy"))]


def detect(source: Path, workdir: Path, clip: Clip | None = None,
           probe: Probe | None = None, from_start: bool = False
           ) -> tuple[Pass, int, dict[int, Packets]]:
    """Decode the main video stream once (for a clip, its range with a second either side);
    return each frame's timestamp (µs, as stored in the file: ``-copyts``) and scene score
    with where the picture changes (:class:`Pass`), the input's start time (µs), and, read
    in the same pass without decoding, the packets of the video, the audio and the
    subtitle streams (:func:`timeline.stream_maps` order), with the video's packet sizes. A
    clip whose seek decoded nothing up to its start (no keyframe near it: a transport
    stream) is read from the file's start."""
    window = _window(clip, from_start)
    audio = len(probe.audio) if probe else 0
    subtitles = len(probe.subtitles) if probe else 0
    index = probe.video_index if probe else 0
    lines: list[str] = []
    read = Pass()
    try:
        result = proc.run(["-v", "info", "-nostats", "-copyts", *window,
                           *decoder_options(probe.decoder if probe else None), "-i", str(source),
                           "-map", f"0:V:{index}",
                           "-vf", "settb=AVTB,scdet=threshold=100,metadata=mode=print",
                           "-fps_mode", "passthrough", "-f", "null", "-",
                           *stream_maps(audio, subtitles, index),
                           *(audio_codecs(probe) if probe else SPAN_CODECS),
                           "-f", "framecrc", "pipe:1"],
                          what=f"scene detection of {source}", cwd=workdir,
                          on_line=lines.append, on_err=read.line)
    except DraptoError as exc:
        if proc.stopping():
            raise
        raise undecodable(source, probe, read, exc) from None
    m = _START.search(result.stderr)
    start_us = round(float(m.group(1)) * 1e6) if m else 0
    if clip and not from_start and (not read.pts or read.pts[0] > start_us + clip.start_us):
        return detect(source, workdir, clip, probe, from_start=True)
    if not read.pts and not clip:
        raise undecodable(source, probe, read, None)
    return read, start_us, read_framecrc(lines, sizes_of=0)


def undecodable(source: Path, probe: Probe | None, read: Pass,
                exc: DraptoError | None) -> DraptoError:
    """The scene pass's failure in a user's words: which stream, and why, when FFmpeg's
    decoder said so (its own lines are in drapto.log); else FFmpeg's failure as it was."""
    codec = probe.video.format if probe and probe.video.format else "video"
    if read.errors:
        return DraptoError(f"{source}: the video stream ({codec}) cannot be decoded: invalid "
                           f"bitstream at frame {len(read.pts)} (FFmpeg's lines are in "
                           "drapto.log)")
    if exc is None:
        return DraptoError(f"{source}: no video frame could be decoded")
    return exc


def plan(cuts: list[int], frames: int, min_frames: int, max_frames: int) -> list[int]:
    """Segment start frames from scene cuts: min/max length applied, short tail merged."""
    min_frames = max(1, min_frames)
    max_frames = max(min_frames, max_frames)
    starts = [0]
    for cut in sorted(set(cuts)):
        if min_frames <= cut - starts[-1] and frames - cut >= 1:
            starts.append(cut)
    if len(starts) > 1 and frames - starts[-1] < min_frames:
        starts.pop()
    bounds = [*starts, frames]
    out: list[int] = []
    for a, b in zip(bounds, bounds[1:]):
        parts = max(1, math.ceil((b - a) / max_frames))
        out.extend(a + (b - a) * k // parts for k in range(parts))
    return out


def build(pts: list[int], scores: list[float], fps: float, threshold: float,
          min_segment: float, max_segment: float, start_us: int = 0,
          changes: Sequence[PictureChange] = ()) -> Scenes:
    frames = len(pts)
    if fps <= 0 or fps > MAX_ENCODER_FPS:  # unknown, or a rate guessed from irregular times
        span = pts[-1] - pts[0]
        fps = (frames - 1) * 1e6 / span if frames > 1 and span > 0 else 25.0
    # A change of picture is a cut (scdet starts again there and scores it 0).
    cuts = sorted({i for i, s in enumerate(scores) if i > 0 and s >= threshold}
                  | {c.frame for c in changes if 0 < c.frame < frames})
    starts = plan(cuts, frames, round(min(min_segment * fps, 1e12)),
                  round(min(max_segment * fps, 1e12)))
    ends = [*starts[1:], frames]
    segments = tuple(SceneSegment(i, a, b - a, pts[a])
                     for i, (a, b) in enumerate(zip(starts, ends)))
    return Scenes(frames=frames, fps=fps, first_pts_us=pts[0], last_pts_us=pts[-1],
                  cuts=tuple(cuts), segments=segments, source_start_us=start_us,
                  changes=tuple(changes))


def picture_changes(read: Pass, pts: list[int], video: VideoStream) -> list[PictureChange]:
    """Where the kept frames (*pts*) change size, format or range, by frame number among
    them, sizes upright; none when the picture never differs from the probe's."""
    if not read.changes:
        return []
    out: list[PictureChange] = []
    for c in read.changes:
        at = read.pts[c.frame] if c.frame < len(read.pts) else None
        if at is None:
            continue
        w, h = (c.height, c.width) if video.rotation in (90, 270) else (c.width, c.height)
        out.append(replace(c, frame=bisect.bisect_left(pts, at), width=w, height=h))
    return out


def clip_frames(source: Path, pts: list[int], scores: list[float], start_us: int,
                clip: Clip) -> tuple[list[int], list[float]]:
    """The frames within the clip's range (relative to the file's start), or a clear error
    when the range is outside the file."""
    first = start_us + clip.start_us
    last = None if clip.end_us is None else start_us + clip.end_us
    keep = [i for i, p in enumerate(pts) if p >= first and (last is None or p < last)]
    if not keep:
        raise DraptoError(f"start={clip.start_us / 1e6:g}s is past the end of {source}")
    ends_at = (pts[-1] - start_us) / 1e6
    if last is not None and len(pts) > 1:
        step = (pts[-1] - pts[0]) / (len(pts) - 1)
        if pts[-1] + 1.5 * step < last:
            raise DraptoError(f"end={(clip.end_us or 0) / 1e6:g}s is past the end of {source} "
                              f"(its video ends at {ends_at + step / 1e6:.2f} s)")
    return [pts[i] for i in keep], [scores[i] for i in keep]


def run_scenes(source: Path, probe: Path, target: Path, threshold: float,
               threshold_hdr: float, min_segment: float, max_segment: float,
               clip: Sequence[int | None] | None = None) -> None:
    """scenes.json for *source* (*probe*: its probe.json), of the whole file or of *clip*
    (a :class:`Clip`, or its JSON form)."""
    _run_scenes(source, Probe.read(probe), target, threshold, threshold_hdr, min_segment,
                max_segment, Clip.of(clip))


def _run_scenes(source: Path, facts: Probe, target: Path, threshold: float,
                threshold_hdr: float, min_segment: float, max_segment: float,
                clip: Clip | None) -> None:
    video = facts.video
    audio, subtitles = len(facts.audio), len(facts.subtitles)
    read, start_us, packets = detect(source, target.parent, clip, facts)
    pts, scores = read.pts, read.scores
    if clip:
        pts, scores = clip_frames(source, pts, scores, start_us, clip)
    scenes = build(pts, scores, float(video.fps or 0),
                   threshold_hdr if video.hdr.is_hdr else threshold, min_segment,
                   max_segment, start_us, picture_changes(read, pts, video))
    if not clip:
        check_complete(source, facts, scenes)
    scenes = add_source_bytes(scenes, packets[0].sizes or [] if 0 in packets else [])
    streams = Streams.from_json(spans_by_kind(packets, audio, subtitles))
    # The output's time zero (drapto/media/timeline.py): the clip's start, or the earliest stream's.
    firsts = [s.start for kind in (streams.video, streams.audio, streams.subtitles)
              for s in kind if s]
    zero_us = (start_us + clip.start_us if clip
               else min([start_us, scenes.first_pts_us, *firsts]))
    replace(scenes, clip=clip or None, streams=streams, zero_us=zero_us).write(target)


def check_complete(source: Path, probe: Probe, scenes: Scenes) -> None:
    """Refuse a source whose frames stop well before its header's duration (a truncated
    download or copy): encoding it would lose the rest of the film without a word. The
    duration is the stream's own, from its first frame: an MP4 edit list that delays the
    video, or a stream that starts late, counts from where it starts."""
    v = probe.video
    header_us = v.duration_us - v.edit_delay_us
    span_us = scenes.last_pts_us - scenes.first_pts_us + 1e6 / scenes.fps
    if header_us and span_us < header_us - max(500_000, header_us * 0.005):
        raise DraptoError(f"{source}: the file looks truncated or damaged: its header says "
                          f"{header_us / 1e6:.2f} s of video, but only {span_us / 1e6:.2f} s "
                          f"({scenes.frames} frames) can be decoded")


def task(job: Job, before: Mapping[str, Task]) -> Task:
    s = job.settings
    return make_task(job, KIND, None, run_scenes,
                     {"source": job.source, "probe": job.work.probe, "target": job.work.scenes,
                      "threshold": s.scene_threshold, "threshold_hdr": s.scene_threshold_hdr,
                      "min_segment": s.min_segment, "max_segment": s.max_segment,
                      "clip": job.clip},
                     [before[PROBE.name]], KIND.doc, SCHEMA)


KIND = Kind("scenes", 0,
            "scenes.json: scene cuts (FFmpeg scdet) and segment boundaries as frame numbers.",
            early=task, decides=True)
