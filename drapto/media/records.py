"""The facts between stages, typed: probe.json, crop.json, scenes.json, each segment's
description (handed to its encode), calibration.json and each segment's encode record
(encoded/F.json), each a frozen dataclass read and written here only (``from_json`` /
``to_json``, ``read`` / ``write``); no other code knows their keys.

Time is µs everywhere in the code. MediaInfo's figures in probe.json stay in its own unit,
ms (``duration_ms``, ``delay_ms``, ``chapter_starts_ms``): they are converted when read and
written back as they were, so a record read and written again is the same bytes, and a
record entering a task's key (:func:`drapto.graph.task_key`) enters it as its JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from drapto.files import read_json, write_json
from drapto.media.timeparse import Clip

Rect = tuple[int, int, int, int]   # a crop: width, height, x, y


def crf_text(crf: float) -> str:
    """35, 35.25: how a CRF is written in file names, logs and SVT-AV1 parameters."""
    return f"{crf:g}"


def _us(ms: int) -> int:
    return ms * 1000


def _ms(us: int) -> int:
    return us // 1000


class Record:
    """A record: its JSON form, and read/write of its file."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    @classmethod
    def read(cls, path: Path) -> Self:
        return cls.from_json(read_json(path))

    def write(self, path: Path) -> None:
        write_json(path, self.to_json())


class Flat(Record):
    """A record whose JSON is its fields as they are, under their own names (a field with
    ``compare=False`` is the code's own and is not written; one named in ``WHEN_SET`` is
    written only when it is not None, so records made before it existed keep their bytes)."""
    WHEN_SET: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)  # type: ignore[arg-type]
                if f.compare and not (f.name in self.WHEN_SET and getattr(self, f.name) is None)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Self:
        return cls(**{f.name: d[f.name] for f in fields(cls)  # type: ignore[arg-type]
                      if f.compare and (f.name in d or f.default is MISSING)})


@dataclass(frozen=True)
class Span:
    """Where a stream lies on a timeline, in µs: its first timestamp and the end of its last
    packet (timestamp plus duration)."""
    start: int
    end: int

    def shifted(self, by: int) -> Span:
        return Span(self.start + by, self.end + by)

    def within(self, start: int, end: int | None) -> Span | None:
        """The part of the span inside [start, end), or None if nothing is."""
        a = max(self.start, start)
        b = self.end if end is None else min(self.end, end)
        return Span(a, b) if b > a else None

    @classmethod
    def of(cls, value: Sequence[int] | None) -> Span | None:
        return None if value is None else cls(int(value[0]), int(value[1]))


# -- probe.json ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DolbyVision(Record):
    """A source's Dolby Vision configuration, as MediaInfo reports it."""
    profile: int | None
    codec_profile: str = ""          # e.g. dvhe.08, dav1.10
    compatibility: str | None = None
    layers: str | None = None
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "codec_profile": self.codec_profile,
                "compatibility": self.compatibility, "layers": self.layers,
                "version": self.version}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DolbyVision:
        return cls(d["profile"], d["codec_profile"], d.get("compatibility"),
                   d.get("layers"), d.get("version"))


@dataclass(frozen=True)
class Hdr(Record):
    transfer: str | None
    is_hdr: bool
    mastering_display: bool
    max_cll: Any                      # MediaInfo's text, as it gave it
    hdr10plus: bool
    dolby_vision: DolbyVision | None

    def to_json(self) -> dict[str, Any]:
        return {"transfer": self.transfer, "is_hdr": self.is_hdr,
                "mastering_display": self.mastering_display, "max_cll": self.max_cll,
                "hdr10plus": self.hdr10plus,
                "dolby_vision": None if self.dolby_vision is None
                else self.dolby_vision.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Hdr:
        dv = d["dolby_vision"]
        return cls(d["transfer"], d["is_hdr"], d["mastering_display"], d["max_cll"],
                   d["hdr10plus"], DolbyVision.from_json(dv) if dv else None)


_COMMON = ("format", "codec_id", "language", "language_639_2", "title", "default", "forced")


def _common(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in _COMMON}


@dataclass(frozen=True)
class Track(Record):
    """What every track of probe.json says (MediaInfo's text fields, as it gave them)."""
    format: Any
    codec_id: Any
    language: Any
    language_639_2: str | None
    title: Any
    default: bool
    forced: bool

    def _common_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _COMMON}


@dataclass(frozen=True)
class VideoStream(Track):
    """probe.json's first video stream (width and height upright, as FFmpeg decodes it)."""
    width: int
    height: int
    rotation: int
    ffmpeg_fps: float
    stored_size: tuple[int, int]
    frame_count: int
    fps: float
    duration_us: int
    frame_rate_mode: Any
    bit_depth: int
    scan_type: Any
    interlaced: bool
    color_primaries: Any
    transfer: Any
    matrix: Any
    color_range: Any
    hdr_format: Any
    delay_us: int
    hdr: Hdr
    # Written only when they say something (older probe.json files lack them).
    edit_delay_us: int = 0                  # an MP4 edit list's delay before the first frame
    colour_conflicts: tuple[tuple[str, Any, Any], ...] = ()  # (tag, container's, stream's)
    colour_explicit: tuple[str, ...] = ()   # tags only the container states

    COLOUR: ClassVar[tuple[str, ...]] = ("color_primaries", "transfer", "matrix",
                                         "color_range")

    def colour(self, name: str) -> Any:
        """One of the COLOUR fields, by its name in probe.json."""
        assert name in self.COLOUR
        return getattr(self, name)

    def to_json(self) -> dict[str, Any]:
        return {**self._common_json(), "width": self.width, "height": self.height,
                "rotation": self.rotation, "ffmpeg_fps": self.ffmpeg_fps,
                "stored_size": list(self.stored_size), "frame_count": self.frame_count,
                "fps": self.fps, "duration_ms": _ms(self.duration_us),
                "frame_rate_mode": self.frame_rate_mode, "bit_depth": self.bit_depth,
                "scan_type": self.scan_type, "interlaced": self.interlaced,
                "color_primaries": self.color_primaries, "transfer": self.transfer,
                "matrix": self.matrix, "color_range": self.color_range,
                "hdr_format": self.hdr_format, "delay_ms": _ms(self.delay_us),
                "hdr": self.hdr.to_json(),
                **({"edit_delay_ms": _ms(self.edit_delay_us)} if self.edit_delay_us else {}),
                **({"colour_conflicts": {t: {"container": c, "stream": v}
                                         for t, c, v in self.colour_conflicts}}
                   if self.colour_conflicts else {}),
                **({"colour_explicit": list(self.colour_explicit)}
                   if self.colour_explicit else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> VideoStream:
        w, h = d["stored_size"]
        return cls(**_common(d), width=d["width"], height=d["height"],
                   rotation=d["rotation"], ffmpeg_fps=d["ffmpeg_fps"], stored_size=(w, h),
                   frame_count=d["frame_count"], fps=d["fps"],
                   duration_us=_us(d["duration_ms"]), frame_rate_mode=d["frame_rate_mode"],
                   bit_depth=d["bit_depth"], scan_type=d["scan_type"],
                   interlaced=d["interlaced"], color_primaries=d["color_primaries"],
                   transfer=d["transfer"], matrix=d["matrix"], color_range=d["color_range"],
                   hdr_format=d["hdr_format"], delay_us=_us(d["delay_ms"]),
                   hdr=Hdr.from_json(d["hdr"]),
                   edit_delay_us=_us(d.get("edit_delay_ms", 0)),
                   colour_conflicts=tuple((t, c["container"], c["stream"])
                                          for t, c in d.get("colour_conflicts", {}).items()),
                   colour_explicit=tuple(d.get("colour_explicit", ())))


@dataclass(frozen=True)
class AudioTrack(Track):
    index: int                        # among the source's audio tracks
    channels: int
    layout: Any
    delay_us: int
    duration_us: int
    # In the output's view (drapto/media/tracks.py, kept_view): its format there, Opus or its own.
    in_view: bool = False
    kept_as: Any = None
    decodable: bool = True            # False: this FFmpeg cannot decode it
    muxable: bool = True              # False: Matroska cannot hold it as it is

    def to_json(self) -> dict[str, Any]:
        return {**self._common_json(), "index": self.index, "channels": self.channels,
                "layout": self.layout, "delay_ms": _ms(self.delay_us),
                "duration_ms": _ms(self.duration_us),
                **({"kept_as": self.kept_as} if self.in_view else {}),
                **({} if self.decodable else {"decodable": False}),
                **({} if self.muxable else {"muxable": False})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AudioTrack:
        return cls(**_common(d), index=d["index"], channels=d["channels"],
                   layout=d["layout"], delay_us=_us(d["delay_ms"]),
                   duration_us=_us(d["duration_ms"]), in_view="kept_as" in d,
                   kept_as=d.get("kept_as"), decodable=d.get("decodable", True),
                   muxable=d.get("muxable", True))


@dataclass(frozen=True)
class SubtitleTrack(Track):
    index: int                        # among the source's subtitle tracks
    decodable: bool = True            # False: this FFmpeg cannot decode it
    muxable: bool = True              # False: Matroska cannot hold it as the mux writes it

    def to_json(self) -> dict[str, Any]:
        return {**self._common_json(), "index": self.index,
                **({} if self.decodable else {"decodable": False}),
                **({} if self.muxable else {"muxable": False})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SubtitleTrack:
        return cls(**_common(d), index=d["index"], decodable=d.get("decodable", True),
                   muxable=d.get("muxable", True))


@dataclass(frozen=True)
class Probe(Record):
    """probe.json: what a file holds (drapto/media/probing.py reads it with MediaInfo)."""
    SCHEMA: ClassVar[int] = 5
    source: str
    size: int
    container: Any
    duration_us: int
    video: VideoStream
    audio: tuple[AudioTrack, ...]
    subtitles: tuple[SubtitleTrack, ...]
    chapters: int
    chapter_starts_us: tuple[int, ...]
    title: Any
    drapto_source: str | None       # drapto's tags, in its outputs
    drapto_video: str | None
    drapto_audio: str | None
    attachments: tuple[str, ...]
    # Written only when they say something (older probe.json files lack them).
    title_unread: bool = False        # a title MediaInfo reads and FFmpeg does not (3GPP)
    video_index: int = 0              # the encoded video stream, among FFmpeg's 0:V
    decoder: str | None = None        # the decoder FFmpeg must be told (a dav1 sample entry)
    other_videos: tuple[str, ...] = ()  # the video tracks left out

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, "source": self.source, "size": self.size,
                "container": self.container, "duration_ms": _ms(self.duration_us),
                "video": self.video.to_json(), "audio": [a.to_json() for a in self.audio],
                "subtitles": [s.to_json() for s in self.subtitles],
                "chapters": self.chapters,
                "chapter_starts_ms": [_ms(t) for t in self.chapter_starts_us],
                "title": self.title, "drapto_source": self.drapto_source,
                "drapto_video": self.drapto_video, "drapto_audio": self.drapto_audio,
                "attachments": list(self.attachments),
                **({"title_unread": True} if self.title_unread else {}),
                **({"video_index": self.video_index} if self.video_index else {}),
                **({"decoder": self.decoder} if self.decoder else {}),
                **({"other_videos": list(self.other_videos)} if self.other_videos else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Probe:
        return cls(d["source"], d["size"], d["container"], _us(d["duration_ms"]),
                   VideoStream.from_json(d["video"]),
                   tuple(AudioTrack.from_json(a) for a in d["audio"]),
                   tuple(SubtitleTrack.from_json(s) for s in d["subtitles"]),
                   d["chapters"], tuple(_us(t) for t in d["chapter_starts_ms"]), d["title"],
                   d["drapto_source"], d["drapto_video"], d["drapto_audio"],
                   tuple(d["attachments"]), d.get("title_unread", False),
                   d.get("video_index", 0), d.get("decoder"), tuple(d.get("other_videos", ())))


# -- crop.json ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Crop(Record):
    """crop.json: the crop applied (None: none), why, and the evidence (the samples and
    their vote, as JSON for people)."""
    SCHEMA: ClassVar[int] = 2
    mode: str
    width: int
    height: int
    rect: Rect | None
    reason: str
    # A Dolby Vision RPU kept: what detection found (possibly nothing), not applied.
    would_crop: Rect | None = None
    rpu_kept: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def height_out(self) -> int:
        """The encoded picture's height."""
        return self.rect[1] if self.rect else self.height

    def to_json(self) -> dict[str, Any]:
        return {**self.evidence, "schema": self.SCHEMA, "mode": self.mode,
                "width": self.width, "height": self.height,
                "crop": None if self.rect is None else list(self.rect),
                "reason": self.reason,
                **({"would_crop": None if self.would_crop is None else list(self.would_crop)}
                   if self.rpu_kept else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Crop:
        fixed = ("schema", "mode", "width", "height", "crop", "reason", "would_crop")
        return cls(d["mode"], d["width"], d["height"], rect_of(d["crop"]), d["reason"],
                   rect_of(d.get("would_crop")), "would_crop" in d,
                   {k: v for k, v in d.items() if k not in fixed})


def rect_of(value: Sequence[int] | None) -> Rect | None:
    """A crop rectangle from its JSON list (width, height, x, y), or None."""
    if value is None:
        return None
    w, h, x, y = value
    return w, h, x, y


# -- scenes.json and a segment ------------------------------------------------------------

@dataclass(frozen=True)
class SceneSegment(Record):
    """One segment of scenes.json: its frames and its first frame's timestamp."""
    index: int
    start: int
    frames: int
    start_pts_us: int
    source_bytes: int | None = None   # the source's video bytes in its span

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "frames": self.frames,
                "start_pts_us": self.start_pts_us,
                **({} if self.source_bytes is None else {"source_bytes": self.source_bytes})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SceneSegment:
        return cls(d["index"], d["start"], d["frames"], d["start_pts_us"],
                   d.get("source_bytes"))


@dataclass(frozen=True)
class Streams(Record):
    """Each stream's span in the source (µs; the video's: first and last frame), in
    :func:`drapto.timeline.stream_maps` order; None for a stream with no timed packet."""
    video: tuple[Span | None, ...] = ()
    audio: tuple[Span | None, ...] = ()
    subtitles: tuple[Span | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        def out(spans: tuple[Span | None, ...]) -> list[list[int] | None]:
            return [None if s is None else [s.start, s.end] for s in spans]
        return {"video": out(self.video), "audio": out(self.audio),
                "subtitles": out(self.subtitles)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Streams:
        def read(kind: str) -> tuple[Span | None, ...]:
            return tuple(Span.of(s) for s in d.get(kind) or [])
        return cls(read("video"), read("audio"), read("subtitles"))


@dataclass(frozen=True)
class PictureChange(Flat):
    """From frame *frame* on, the decoded picture is *width* x *height* (upright), in pixel
    format *format* and range *range* (FFmpeg's names; None: not said)."""
    frame: int
    width: int
    height: int
    format: str
    range: str | None


@dataclass(frozen=True)
class Scenes(Record):
    """scenes.json: the frames decoded (timestamps in µs, the file's own), the scene cuts,
    the segments, each stream's span, and the output's time zero (drapto/media/timeline.py)."""
    SCHEMA: ClassVar[int] = 7
    frames: int
    fps: float
    first_pts_us: int
    last_pts_us: int
    cuts: tuple[int, ...]
    segments: tuple[SceneSegment, ...]
    source_start_us: int = 0
    clip: Clip | None = None
    streams: Streams = Streams()
    zero_us: int = 0
    # Where the decoded picture changes size, format or range (written only when it does).
    changes: tuple[PictureChange, ...] = ()
    TIME_BASE: ClassVar[str] = "1/1000000"

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, "frames": self.frames, "fps": self.fps,
                "time_base": self.TIME_BASE, "source_start_us": self.source_start_us,
                "first_pts_us": self.first_pts_us, "last_pts_us": self.last_pts_us,
                "cuts": list(self.cuts), "segments": [s.to_json() for s in self.segments],
                "clip": list(self.clip) if self.clip else None,
                "streams": self.streams.to_json(), "zero_us": self.zero_us,
                **({"changes": [c.to_json() for c in self.changes]} if self.changes else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Scenes:
        return cls(d["frames"], d["fps"], d["first_pts_us"], d["last_pts_us"],
                   tuple(d["cuts"]), tuple(SceneSegment.from_json(s) for s in d["segments"]),
                   d["source_start_us"], Clip.of(d["clip"]), Streams.from_json(d["streams"]),
                   d["zero_us"], tuple(PictureChange.from_json(c)
                                       for c in d.get("changes", ())))


@dataclass(frozen=True)
class Segment(Flat):
    """One segment as its encode is handed it (in its key): its frames from the one at
    *pts_us* on; *first*: the film's first (decoded from the start, no seek)."""
    start: int
    frames: int
    pts_us: int
    source_bytes: int | None
    first: bool
    index: int = field(default=0, compare=False)   # its number in this run: messages only


# -- calibration.json ---------------------------------------------------------------------

@dataclass(frozen=True)
class CalibrationSegment(Flat):
    """What one calibration segment that reached the target measured."""
    start: int
    crf: float
    fast_crf: float
    slope: float
    shift: float                      # final-preset CRF minus fast-preset CRF at the target
    own_slope: bool                   # two encodes or two probes: its slope is its own
    bytes_per_frame: float | None = None   # the source's, over the segment
    WHEN_SET: ClassVar[tuple[str, ...]] = ("bytes_per_frame",)


@dataclass(frozen=True)
class Nearest(Flat):
    """How well the calibration segments predict each other's crossing, each left out in
    turn (mean error in CRF steps): from the film's median, and from the segments nearest
    it in the source's bytes per frame; *used*: the nearest predict the film's segments."""
    median_error: float
    nearest_error: float
    used: bool


@dataclass(frozen=True)
class Calibration(Record):
    """calibration.json: where the film's searches start (drapto/quality/search.py): the medians of
    the calibration segments that reached the target, None when none did."""
    SCHEMA: ClassVar[int] = 5
    segments: tuple[CalibrationSegment, ...]
    target: float | None              # the target they were searched for
    shift: float | None = None
    slope: float | None = None
    fast_crf: float | None = None
    crf: float | None = None
    nearest: Nearest | None = None    # None: too few segments to tell
    aim: float | None = None          # the VMAF the other segments aim at (None: the band's)

    @property
    def segments_used(self) -> int:
        return len(self.segments)

    def to_json(self) -> dict[str, Any]:
        medians = {"shift": self.shift, "slope": self.slope, "fast_crf": self.fast_crf,
                   "crf": self.crf}
        return {"schema": self.SCHEMA, "segments": [s.to_json() for s in self.segments],
                "segments_used": self.segments_used, "target": self.target,
                **(medians if self.segments else {}),
                **({"nearest": self.nearest.to_json()} if self.nearest else {}),
                **({"aim": self.aim} if self.aim is not None else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Calibration:
        return cls(tuple(CalibrationSegment.from_json(s) for s in d["segments"]),
                   d["target"], d.get("shift"), d.get("slope"), d.get("fast_crf"),
                   d.get("crf"),
                   Nearest.from_json(d["nearest"]) if d.get("nearest") else None,
                   d.get("aim"))


# -- size.json and balance.json: the decisions that choose which encodes exist -----------

@dataclass(frozen=True)
class SizeDecision(Record):
    """size.json (drapto/quality/film.py: decide_size): ``action`` encode or skip, the ``target``
    the film is encoded at (the asked one, or the lowered one) and the figures behind it.
    *cap_met* and *lowered_percent* are written only when the target was lowered."""
    SCHEMA: ClassVar[int] = 1
    asked: float
    target: float
    cap_percent: float
    over_cap: str
    action: str                        # "encode" or "skip"
    predicted_percent: float | None
    over: bool
    lowered_percent: float | None = None
    cap_met: bool | None = None        # None: the target was not lowered

    @property
    def skips(self) -> bool:
        return self.action == "skip"

    @property
    def lowered(self) -> bool:
        return self.cap_met is not None

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, "asked": self.asked, "target": self.target,
                "cap_percent": self.cap_percent, "over_cap": self.over_cap,
                "action": self.action, "predicted_percent": self.predicted_percent,
                "over": self.over,
                **({"lowered_percent": self.lowered_percent, "cap_met": self.cap_met}
                   if self.lowered else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SizeDecision:
        return cls(d["asked"], d["target"], d["cap_percent"], d["over_cap"], d["action"],
                   d["predicted_percent"], d["over"], d.get("lowered_percent"),
                   d.get("cap_met"))


@dataclass(frozen=True)
class Again(Flat):
    """A segment balance.json encodes again: at *crf*, its curve's *slope* there."""
    crf: float
    slope: float


@dataclass(frozen=True)
class Balance(Record):
    """balance.json (drapto/quality/film.py: decide_balance): the segments encoded again, by
    segment id (their first frame), so that the film's mean comes within *tolerance* of
    *target*; *mean* is the film's before (None: no segment had a score)."""
    SCHEMA: ClassVar[int] = 1
    target: float
    tolerance: float
    mean: float | None
    segments: Mapping[str, Again]

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, "target": self.target, "tolerance": self.tolerance,
                "mean": self.mean,
                "segments": {sid: a.to_json() for sid, a in self.segments.items()}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Balance:
        return cls(d["target"], d["tolerance"], d["mean"],
                   {sid: Again.from_json(a) for sid, a in d["segments"].items()})


# -- a segment's search state (beside its encode while it runs) ---------------------------

@dataclass
class Measurement:
    """One encode the search measured: its VMAF, its bytes, and for a final encode the
    per-frame scores."""
    vmaf: float
    bytes: int
    scores: list[float] | None = None


@dataclass
class SearchState(Record):
    """A segment's search so far, saved after each measurement: its probes and finals by
    CRF, under the *key* of the search they belong to (another search's state is not
    taken)."""
    SCHEMA: ClassVar[int] = 5
    key: str
    probes: dict[float, Measurement] = field(default_factory=dict)
    finals: dict[float, Measurement] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def out(ms: dict[float, Measurement]) -> dict[str, Any]:
            return {crf_text(c): {"vmaf": m.vmaf, "bytes": m.bytes, "scores": m.scores}
                    for c, m in sorted(ms.items())}
        return {"schema": self.SCHEMA, "key": self.key, "probes": out(self.probes),
                "finals": out(self.finals)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SearchState:
        return cls(d["key"], *({float(c): Measurement(**m) for c, m in d[kind].items()}
                               for kind in ("probes", "finals")))

    @classmethod
    def load(cls, path: Path, key: str) -> SearchState | None:
        """The state saved at *path* for this same search (*key*), else None."""
        try:
            data = read_json(path)
            if data.get("schema") != cls.SCHEMA or data.get("key") != key:
                return None
            return cls.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None


# -- encoded/F.json (and calibration/F.json, balanced/F.json) -----------------------------

@dataclass(frozen=True)
class Prior(Flat):
    """What a segment's search starts from (:class:`drapto.quality.search.Prior` makes one)."""
    shift: float          # final-preset CRF minus fast-preset CRF at the same VMAF
    slope: float          # d ln(100 - VMAF) / d CRF
    first_probe: float    # fast-preset CRF of the first probe
    band: float           # one probe is enough within this many tolerances
    source: str  # "default", "lead calibration segment", "calibration of N segments", "balance"
    aim: float | None = None  # the VMAF aimed at, when the film's calibration moved it
    WHEN_SET: ClassVar[tuple[str, ...]] = ("aim",)


@dataclass(frozen=True)
class Tried(Flat):
    """One probe or final encode of a search: its CRF, pooled VMAF and bytes."""
    crf: float
    vmaf: float
    bytes: int


@dataclass(frozen=True)
class SearchRecord(Record):
    """How a segment's CRF was found (drapto/quality/segment_run.py, search.py): the band
    searched, the probes' settings (a later search reuses probes made with the same), the
    fast-preset crossing and slope, the prior it started from, and every encode."""
    target: float
    tolerance: float
    overshoot: float
    preset: int
    search_preset: int
    probe_settings: Mapping[str, Any]   # as JSON: compared whole, never read by name
    fast_crf: float
    slope: float
    shift: float
    prior: Prior
    predicted_crf: float
    probes: tuple[Tried, ...]
    finals: tuple[Tried, ...]

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "tolerance": self.tolerance,
                "overshoot": self.overshoot, "preset": self.preset,
                "search_preset": self.search_preset,
                "probe_settings": dict(self.probe_settings), "fast_crf": self.fast_crf,
                "slope": self.slope, "shift": self.shift, "prior": self.prior.to_json(),
                "predicted_crf": self.predicted_crf,
                "probes": [p.to_json() for p in self.probes],
                "finals": [f.to_json() for f in self.finals]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SearchRecord:
        return cls(d["target"], d["tolerance"], d["overshoot"], d["preset"],
                   d["search_preset"], d["probe_settings"], d["fast_crf"], d["slope"],
                   d["shift"], Prior.from_json(d["prior"]), d["predicted_crf"],
                   tuple(Tried.from_json(p) for p in d["probes"]),
                   tuple(Tried.from_json(f) for f in d["finals"]))


@dataclass(frozen=True)
class Scored(Record):
    """What quality targeting adds to a segment's record: the kept encode's VMAF (pooled,
    and per scored frame), whether it is within the settings' band, the target searched
    for, and the search."""
    vmaf: float
    vmaf_frames: tuple[float, ...] | None
    reached: bool
    target_vmaf: float
    vmaf_pool: str
    band: tuple[float, float]
    source_bytes: int | None          # the source's video bytes in the segment's span
    outside: str | None               # why the kept encode is outside the band
    search: SearchRecord

    def to_json(self) -> dict[str, Any]:
        return {"vmaf": self.vmaf,
                "vmaf_frames": None if self.vmaf_frames is None else list(self.vmaf_frames),
                "reached": self.reached, "target_vmaf": self.target_vmaf,
                "vmaf_pool": self.vmaf_pool, "band": list(self.band),
                "source_bytes": self.source_bytes, "outside": self.outside,
                "search": self.search.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Scored:
        frames, (low, high) = d["vmaf_frames"], d["band"]
        return cls(d["vmaf"], None if frames is None else tuple(frames), d["reached"],
                   d["target_vmaf"], d["vmaf_pool"], (low, high), d["source_bytes"],
                   d["outside"], SearchRecord.from_json(d["search"]))


@dataclass(frozen=True)
class SegmentRecord(Record):
    """encoded/F.json (calibration/F.json, balanced/F.json alike): what one segment's
    encode did: its frames, CRF and preset, the crop and filters, whether the Dolby Vision
    RPU was kept, the warnings, the bytes, and what it took; *scored*: with quality
    targeting, the VMAF and the search (None: a fixed CRF, whose record has none of
    their keys)."""
    start: int
    frames: int
    crf: float
    preset: int
    crop: Rect | None
    filters: tuple[str, ...]
    dolby_vision: bool
    warnings: tuple[str, ...]
    bytes: int
    scored: Scored | None = None
    # What the encode took, set once it is over (quality/segment_run.run_encode).
    peak_memory_mib: int = 0
    reserved_mib: int = 0
    seconds: float = 0.0

    @property
    def vmaf(self) -> float | None:
        return None if self.scored is None else self.scored.vmaf

    def to_json(self) -> dict[str, Any]:
        return {**({} if self.scored is None else self.scored.to_json()),
                "start": self.start, "frames": self.frames, "crf": self.crf,
                "preset": self.preset, "crop": None if self.crop is None else list(self.crop),
                "filters": list(self.filters), "dolby_vision": self.dolby_vision,
                "warnings": list(self.warnings), "bytes": self.bytes,
                "peak_memory_mib": self.peak_memory_mib, "reserved_mib": self.reserved_mib,
                "seconds": self.seconds}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SegmentRecord:
        return cls(d["start"], d["frames"], d["crf"], d["preset"], rect_of(d["crop"]),
                   tuple(d["filters"]), d["dolby_vision"], tuple(d["warnings"]), d["bytes"],
                   Scored.from_json(d) if "search" in d else None, d["peak_memory_mib"],
                   d["reserved_mib"], d["seconds"])


# -- report.json: what a finished encode did, per segment and overall ---------------------

@dataclass(frozen=True)
class SegmentSearched(Flat):
    """What a segment's quality search did (written for a scored segment only)."""
    target: float
    band: list[float]
    outside: str | None = None
    balanced: bool = False
    probes: int = 0
    final_encodes: int = 0


@dataclass(frozen=True)
class ReportSegment(Record):
    """One segment's line of report.json (*start*, its first frame, and *seconds* are None in
    an older one)."""
    index: int
    start: int | None
    frames: int
    crf: float
    bytes: int
    vmaf: float | None
    vmaf_reached: bool | None
    kbit_s: float
    seconds: float | None
    source_bytes: int | None = None
    peak_memory_mib: int | None = None
    searched: SegmentSearched | None = None

    @property
    def balanced(self) -> bool:
        """Encoded again for the film's mean."""
        return bool(self.searched and self.searched.balanced)

    @property
    def outside(self) -> str | None:
        """Why it was kept outside its band (None: it was not)."""
        return self.searched.outside if self.searched else None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "frames": self.frames,
                "crf": self.crf, "bytes": self.bytes, "vmaf": self.vmaf,
                "vmaf_reached": self.vmaf_reached,
                **(self.searched.to_json() if self.searched else {}),
                "source_bytes": self.source_bytes, "kbit_s": self.kbit_s,
                "seconds": self.seconds, "peak_memory_mib": self.peak_memory_mib}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ReportSegment:
        searched = SegmentSearched.from_json(d) if "target" in d else None
        return cls(d["index"], d.get("start"), d["frames"], d["crf"], d["bytes"], d.get("vmaf"),
                   d.get("vmaf_reached"), d["kbit_s"], d.get("seconds"),
                   d.get("source_bytes"), d.get("peak_memory_mib"), searched)


@dataclass(frozen=True)
class Outside(Flat):
    """A segment kept outside its band, and why."""
    index: int
    start: int
    vmaf: float
    why: str


@dataclass(frozen=True)
class FilmQuality(Record):
    """report.json's ``vmaf``: the film's quality against what was asked (the frame-weighted
    mean, its tolerance, the segments outside their band, every scored frame's minimum and
    5th percentile) and the work it took."""
    target: float
    asked: float
    pool: str
    mean: float
    film_tolerance: float | None
    mean_within: bool | None
    band: list[float]
    min: float
    p5: float
    segment_min: float
    segment_max: float
    frames_scored: int
    segments_outside_band: tuple[Outside, ...]
    balanced: int
    probes: int
    final_encodes: int

    def to_json(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)},
                "segments_outside_band": [o.to_json() for o in self.segments_outside_band]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FilmQuality:
        return cls(d["target"], d.get("asked", d["target"]), d["pool"], d["mean"],
                   d.get("film_tolerance"), d.get("mean_within"), d["band"], d["min"],
                   d["p5"], d["segment_min"], d["segment_max"], d["frames_scored"],
                   tuple(Outside.from_json(o) for o in d["segments_outside_band"]),
                   d.get("balanced") or 0, d.get("probes") or 0, d["final_encodes"])


@dataclass(frozen=True)
class Report(Record):
    """report.json: a finished encode's figures, per segment and overall (read back by
    ``drapto report``, also from work folders of older versions: fields added since are
    None there)."""
    SCHEMA: ClassVar[int] = 5
    source: str
    output: str
    frames: int
    duration_s: float
    size_in: int
    size_out: int
    reduction_pct: float
    kbit_s: float | None
    encode_seconds: float
    segments: tuple[ReportSegment, ...]
    warnings: tuple[str, ...]
    validated: bool
    video_bytes: int | None = None
    video_kbit_s: float | None = None
    audio_bytes: int | None = None
    audio_kbit_s: float | None = None
    crf_min: float | None = None
    crf_max: float | None = None
    crf_median: float | None = None
    size_in_of: str | None = None     # "file", or "clip": its own packets
    size: SizeDecision | None = None
    vmaf: FilmQuality | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, "source": self.source, "output": self.output,
                "video_bytes": self.video_bytes, "video_kbit_s": self.video_kbit_s,
                "audio_bytes": self.audio_bytes, "audio_kbit_s": self.audio_kbit_s,
                "crf_min": self.crf_min, "crf_max": self.crf_max,
                "crf_median": self.crf_median, "frames": self.frames,
                "duration_s": self.duration_s, "size_in": self.size_in,
                "size_in_of": self.size_in_of, "size_out": self.size_out,
                "reduction_pct": self.reduction_pct, "kbit_s": self.kbit_s,
                "encode_seconds": self.encode_seconds,
                "segments": [s.to_json() for s in self.segments],
                "warnings": list(self.warnings), "validated": self.validated,
                "size": self.size.to_json() if self.size else None,
                "vmaf": self.vmaf.to_json() if self.vmaf else None}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Report:
        return cls(d["source"], d["output"], d["frames"], d["duration_s"], d["size_in"],
                   d["size_out"], d["reduction_pct"], d["kbit_s"], d["encode_seconds"],
                   tuple(ReportSegment.from_json(s) for s in d["segments"]),
                   tuple(d["warnings"]), d["validated"], d.get("video_bytes"),
                   d.get("video_kbit_s"), d.get("audio_bytes"), d.get("audio_kbit_s"),
                   d.get("crf_min"), d.get("crf_max"), d.get("crf_median"),
                   d.get("size_in_of"),
                   SizeDecision.from_json(d["size"]) if d.get("size") else None,
                   _quality(d.get("vmaf")))


def _quality(d: Mapping[str, Any] | None) -> FilmQuality | None:
    """report.json's ``vmaf``; None without one, or for an older report's, whose fields were
    others (``drapto report`` reads such a work folder's figures all the same)."""
    try:
        return FilmQuality.from_json(d) if d else None
    except (KeyError, TypeError):
        return None
