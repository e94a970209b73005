"""Time on the output's timeline: microsecond integers, FFmpeg seek arguments, and the span
of every stream read from its packets.

The rule every stage follows: an output timestamp is the source's own timestamp minus one
*zero*. For a whole file, zero is the earliest first timestamp of its streams (so the
earliest stream starts at 0 and every other keeps its offset from it); for a clip, the
file's start plus the clip's start (every stream starts at 0 or later, nothing earlier is
kept). Spans are measured from packets (first timestamp, end of the last packet), never
taken from a reader's summary field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from drapto.media.records import Scenes, Span

_TB = re.compile(r"^#tb (\d+): (\d+)/(\d+)")
_PACKET = re.compile(r"^(\d+),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+),\s*(\d+),")
_NOPTS = -(1 << 63)


def seek_arg(us: int) -> str:
    """Seconds with exactly six decimals, for ``-ss``/``-t``/``-itsoffset`` (no float
    rounding)."""
    sign = "-" if us < 0 else ""
    us = abs(us)
    return f"{sign}{us // 1_000_000}.{us % 1_000_000:06d}"


def segment_durations(scenes: Scenes) -> list[int]:
    """Each segment's span on the source's timeline (µs): to the next segment's first frame,
    the last to the end of the last frame."""
    starts = [s.start_pts_us for s in scenes.segments]
    end = scenes.last_pts_us + round(1e6 / scenes.fps)
    return [b - a for a, b in zip(starts, [*starts[1:], end])]


def audio_window(scenes: Scenes) -> list[int | None] | None:
    """For a clip: where to seek (a second early) and the range as the file's timestamps."""
    clip = scenes.clip
    if not clip:
        return None
    start = scenes.zero_us
    end = None if clip.length_us is None else start + clip.length_us
    return [max(0, clip.start_us - 1_000_000), start, end]


def to_ms(us: int) -> int:
    """µs down to the whole millisecond below, still in µs: the unit of MediaInfo's
    chapter times."""
    return us // 1000 * 1000


def clip_range(scenes: Scenes) -> tuple[int, int] | None:
    """A clip's range (µs from the file's start, to the millisecond below) as encoded."""
    clip = scenes.clip
    if not clip:
        return None
    return to_ms(clip.start_us), to_ms(clip.start_us + sum(segment_durations(scenes)))


def seek_input(us: int) -> list[str]:
    """``-ss`` to put before an input, or nothing for a seek to the start: FFmpeg seeking an
    MKV to 0 drops the first AC-3 frame (32 ms of sound) that reading from the start keeps."""
    return ["-ss", seek_arg(us)] if us > 0 else []


@dataclass
class Packets:
    """What FFmpeg's ``framecrc`` output says of each stream: packets, bytes and span."""
    count: int = 0
    sizes: list[tuple[int, int]] | None = None   # (timestamp µs, bytes), when asked for
    ends: list[int] | None = None                # with sizes: each packet's end (µs)
    start: int | None = None
    end: int | None = None
    last: int | None = None                      # the last packet's timestamp


def read_framecrc(lines: Iterable[str],
                  sizes_of: int | Collection[int] | Literal["all"] | None = None
                  ) -> dict[int, Packets]:
    """Each stream's packets from FFmpeg ``-f framecrc`` output lines (with ``-copyts``, the
    file's own timestamps), keyed by output stream index; the packet sizes and ends of
    stream (or streams, or all) *sizes_of* are kept too."""
    every = sizes_of == "all"
    kept = {sizes_of} if isinstance(sizes_of, int) else (
        set() if sizes_of is None or isinstance(sizes_of, str) else set(sizes_of))
    bases: dict[int, tuple[int, int]] = {}
    out: dict[int, Packets] = {}
    for line in lines:
        if m := _TB.match(line):
            bases[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
            continue
        m = _PACKET.match(line)
        if not m:
            continue
        index, pts, duration, size = (int(m.group(k)) for k in (1, 3, 4, 5))
        num, den = bases.get(index, (1, 1_000_000))
        p = out.setdefault(index, Packets(sizes=[], ends=[]) if every or index in kept
                           else Packets())
        p.count += 1
        if pts == _NOPTS:
            continue
        t = round(pts * num * 1_000_000 / den)
        end = t + round(max(0, duration) * num * 1_000_000 / den)
        p.start = t if p.start is None else min(p.start, t)
        p.end = end if p.end is None else max(p.end, end)
        p.last = t if p.last is None else max(p.last, t)
        if p.sizes is not None and p.ends is not None:
            p.sizes.append((t, size))
            p.ends.append(end)
    return out


# Video and subtitles are read as packets (stream copy); audio is decoded, since its first
# packets can hold samples the decoder drops (an encoder's priming, Opus pre-skip): its
# frames' timestamps say where the sound starts.
SPAN_CODECS = ["-c:v", "copy", "-c:s", "copy", "-c:a", "pcm_s16le"]


def stream_maps(audio: int, subtitles: int, video: int = 0) -> list[str]:
    """``-map`` options listing the video stream (the *video*-th), then every audio, then
    every subtitle stream: the order :func:`spans_by_kind` reads the output indices in."""
    maps = ["-map", f"0:V:{video}"]
    maps += [a for i in range(audio) for a in ("-map", f"0:a:{i}?")]
    maps += [a for i in range(subtitles) for a in ("-map", f"0:s:{i}?")]
    return maps


def spans_by_kind(packets: dict[int, Packets], audio: int, subtitles: int
                  ) -> dict[str, list[list[int] | None]]:
    """The spans read with :func:`stream_maps`, as JSON: ``{"video": [[first, last]],
    "audio": [[start, end], ...], "subtitles": [...]}``: for the video its first and last
    frame's timestamps (a frame's duration is not always stored), for the others where they
    start and end; None for a stream with no timed packet."""
    def span(i: int, video: bool = False) -> list[int] | None:
        p = packets.get(i)
        if p is None or p.start is None or p.end is None or p.last is None:
            return None
        return [p.start, p.last if video else p.end]
    return {"video": [span(0, video=True)], "audio": [span(1 + i) for i in range(audio)],
            "subtitles": [span(1 + audio + i) for i in range(subtitles)]}


def clip_length(scenes: Scenes) -> int | None:
    """A clip's length on the output's timeline (µs), None for a whole file: its frames'
    span, and no more than the range asked for."""
    clip = scenes.clip
    if not clip:
        return None
    length = sum(segment_durations(scenes))
    return length if clip.length_us is None else min(length, clip.length_us)


def expected_spans(scenes: Scenes) -> dict[str, list[Span | None]]:
    """Where each stream of the output should lie (its timeline: source time minus zero),
    from the source's spans in scenes.json: the video from its first to its last kept frame;
    each audio and subtitle stream as in the source, cut to a clip's range."""
    zero, length = scenes.zero_us, clip_length(scenes)

    def out(span: Span | None) -> Span | None:
        if span is None:
            return None
        span = span.shifted(-zero)
        return span if length is None else span.within(0, length)
    return {"video": [Span(scenes.first_pts_us - zero, scenes.last_pts_us - zero)],
            "audio": [out(s) for s in scenes.streams.audio],
            "subtitles": [out(s) for s in scenes.streams.subtitles]}
