"""What a media file holds, read with MediaInfo and FFmpeg's stream listing (no decoding):
:func:`read_media` makes a :class:`drapto.media.records.Probe`, the input's (probe.json)
and the output's (validation, ownership)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.media import proc
from drapto.media.records import AudioTrack, DolbyVision, Hdr, Probe, SubtitleTrack, VideoStream

SCHEMA = Probe.SCHEMA  # 5, part of the task's key: a new schema redoes the target
_CHAPTER_KEY = re.compile(r"^\d\d_\d\d_\d{5}$")
_STREAM = re.compile(r"^\s*Stream #0:\d+.*?: (\w+):")
_ROTATION = re.compile(r"^\s*Display ?Matrix: rotation of (-?[\d.]+) degrees", re.IGNORECASE)
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")


_STREAM_LINE = re.compile(
    r"^\s*Stream #0:(\d+)(?:\[\w+\])?(?:\((\w+)\))?: (\w+): (\w+)(?: \(([^)]*)\))?"
    r"(?: \(([^)]*)\))?(.*)$")
_SIZE = re.compile(r", (\d+)x(\d+)\b")
# Decoders for streams FFmpeg's demuxer leaves without a codec, by their sample entry:
# ``dav1`` is AV1 with Dolby Vision profile 10 (MP4), which libdav1d decodes.
DECODER_BY_TAG = {"dav1": "libdav1d"}


def ffmpeg_streams(stderr: str) -> list[dict[str, Any]]:
    """The input's streams as FFmpeg lists them: kind, codec (``none``: no codec known),
    sample entry tag, default flag, size (video), attached picture or not."""
    out: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        if line.startswith(("Output #", "Stream mapping")):
            break
        m = _STREAM_LINE.match(line)
        if not m:
            continue
        kind, codec, rest = m.group(3), m.group(4), m.group(7) or ""
        tags = [g for g in (m.group(5), m.group(6)) if g]
        tag = next((t.split(" / ")[0].strip() for t in tags if " / 0x" in t), None)
        size = _SIZE.search(line)
        out.append({"kind": kind, "codec": codec, "tag": tag,
                    "default": "(default)" in rest,
                    "attached": "(attached pic)" in rest,
                    "size": (int(size.group(1)), int(size.group(2))) if size else (0, 0)})
    return out


def main_video(streams: list[dict[str, Any]]) -> int:
    """Which video stream drapto encodes (its number among FFmpeg's ``0:V`` streams): of the
    streams flagged default (all of them if none is), the largest picture, the first of
    equals."""
    videos = [s for s in streams if s["kind"] == "Video" and not s["attached"]]
    if not videos:
        return 0
    pool = [i for i, s in enumerate(videos) if s["default"]] or list(range(len(videos)))
    return max(pool, key=lambda i: (videos[i]["size"][0] * videos[i]["size"][1], -i))


def _mediainfo_video(videos: list[dict[str, Any]], streams: list[dict[str, Any]],
                     main: int) -> dict[str, Any]:
    """MediaInfo's track of FFmpeg's *main*-th video stream: the same place among the video
    tracks, unless its size differs and another track's matches (MediaInfo may list a
    track that FFmpeg takes for a cover picture)."""
    ff = [s for s in streams if s["kind"] == "Video" and not s["attached"]]
    at = videos[main] if main < len(videos) else videos[0]
    if main >= len(ff):
        return at
    size = ff[main]["size"]
    same = [t for t in videos if (_int(t.get("width")), _int(t.get("height"))) == size]
    return at if at in same or not same else same[0]


def ffmpeg_video(source: Path) -> dict[str, Any]:
    """What FFmpeg itself says of the input, which MediaInfo does not give for every
    container: its streams (:func:`ffmpeg_streams`), and of the main video stream the display
    rotation (degrees counterclockwise, 0/90/180/270) and the frame rate FFmpeg will hand
    the encoder (its guess from the timestamps), and whether it reads a global title."""
    result = proc.run(["-v", "info", "-i", str(source), "-map", "0:V?", "-c", "copy",
                       "-frames:v", "1", "-f", "null", "-"], what=f"reading {source}")
    streams = ffmpeg_streams(result.stderr)
    main = main_video(streams)
    rotation, rates, in_video, seen = 0.0, {}, False, -1
    title = False
    for line in result.stderr.splitlines():
        if line.startswith(("Output #", "Stream mapping")):
            break
        if re.match(r"^\s{4}title\s*:", line) and seen < 0:
            title = True  # the input's global metadata, before its first stream
        if m := _STREAM.match(line):
            if in_video:  # the main video stream's lines end here
                break
            attached = "(attached pic)" in line
            seen += m.group(1) == "Video" and not attached
            in_video = m.group(1) == "Video" and not attached and seen == main
            if in_video:
                rates = {kind: float(v) * (1000 if k else 1)
                         for v, k, kind in _RATE.findall(line)}
        elif in_video and (m := _ROTATION.match(line)):
            rotation = float(m.group(1))
    fps, tbr = rates.get("fps", 0.0), rates.get("tbr", 0.0)
    # FFmpeg's own choice (av_guess_frame_rate): the real base rate, unless it is far above
    # a plausible average.
    guessed = fps if 0 < fps < 70 and tbr > 210 else (tbr or fps)
    return {"rotation": round(rotation) % 360, "ffmpeg_fps": guessed, "streams": streams,
            "main": main, "title": title}


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(str(value).split()[0].split("/")[0]))
    except (TypeError, ValueError, IndexError):
        return default


def _chapter_us(key: str) -> int:
    """MediaInfo's chapter keys: 00_01_02500 is 00:01:02.500."""
    h, m, rest = key.split("_")
    return (int(h) * 3_600_000 + int(m) * 60_000 + int(rest)) * 1000


def _flag(value: Any) -> bool:
    return str(value).strip().lower() == "yes"


def _common(t: dict[str, Any]) -> dict[str, Any]:
    # ISO 639-2 (three letters) as Matroska wants it, from MediaInfo's other spellings.
    iso3 = next((x for x in t.get("other_language") or [] if len(x) == 3 and x.islower()), None)
    return {"format": t.get("format"), "codec_id": t.get("codec_id"),
            "language": t.get("language"), "language_639_2": iso3, "title": t.get("title"),
            "default": _flag(t.get("default")), "forced": _flag(t.get("forced"))}


_HDR_TRANSFERS = {"PQ": "PQ", "SMPTE ST 2084": "PQ", "HLG": "HLG", "ARIB STD-B67": "HLG"}


def _dolby_vision(v: dict[str, Any]) -> DolbyVision | None:
    """Dolby Vision from MediaInfo's HDR fields, which list one entry per format, ' / '
    separated (e.g. 'Dolby Vision / SMPTE ST 2086' with profile 'dvhe.08 / ')."""
    formats = str(v.get("hdr_format") or "").split(" / ")
    if "Dolby Vision" not in formats:
        return None
    i = formats.index("Dolby Vision")

    def field(name: str) -> str:
        parts = str(v.get(name) or "").split(" / ")
        return parts[i].strip() if i < len(parts) else ""

    codec_profile = field("hdr_format_profile")  # e.g. dvhe.08, dav1.10
    m = re.search(r"\.(\d+)", codec_profile)
    return DolbyVision(int(m.group(1)) if m else None, codec_profile,
                       compatibility=field("hdr_format_compatibility") or None,
                       layers=field("hdr_format_settings") or None,
                       version=field("hdr_format_version") or None)


def hdr_info(v: dict[str, Any]) -> Hdr:
    """HDR as MediaInfo reports it: from the transfer, the mastering metadata and the HDR
    formats, each on its own (some real files carry only the transfer)."""
    formats = [f for f in str(v.get("hdr_format") or "").split(" / ") if f]
    transfer = _HDR_TRANSFERS.get(str(v.get("transfer_characteristics") or ""))
    mastering = v.get("mastering_display_luminance")
    return Hdr(transfer=transfer, is_hdr=bool(transfer or mastering or formats),
               mastering_display=bool(mastering),
               max_cll=v.get("maximum_content_light_level"),
               hdr10plus=any("2094" in f for f in formats), dolby_vision=_dolby_vision(v))


# probe.json's colour fields, each with MediaInfo's name of its value and of its
# ``_source``/``_original`` fields.
_COLOUR_FIELDS = {"color_primaries": ("color_primaries", "colour_primaries"),
                  "transfer": ("transfer_characteristics", "transfer_characteristics"),
                  "matrix": ("matrix_coefficients", "matrix_coefficients"),
                  "color_range": ("color_range", "colour_range")}


def colour_of(v: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, Any, Any], ...],
                                           tuple[str, ...]]:
    """Each colour tag from one source of truth: the video stream's own value (what the
    decoder hands the encoder), or the container's where the stream states none. Also the
    tags whose container and stream disagree (tag, container's, stream's), and the tags the
    stream marks unspecified while the container states them (the encoder must be given
    them: the decoder hands on "unspecified")."""
    truth: dict[str, Any] = {}
    conflicts: list[tuple[str, Any, Any]] = []
    explicit: list[str] = []
    for name, (value_key, base) in _COLOUR_FIELDS.items():
        value, original = v.get(value_key), v.get(f"{base}_original")
        where = str(v.get(f"{base}_source") or "")
        if value is not None and original is not None and original != value:
            stream_first = "Stream" in str(v.get(f"{base}_original_source") or "")
            stream, container = (original, value) if stream_first else (value, original)
            truth[name] = stream
            conflicts.append((name, container, stream))
            continue
        truth[name] = value
        # The stream states the tag as unspecified: its decoder hands that on, not the
        # container's value (where the stream is silent, the container's is handed on).
        silent = "Stream" in str(v.get(f"{base}_original_source") or "")
        if value is not None and "Stream" not in where and silent:
            explicit.append(name)
    return truth, tuple(conflicts), tuple(explicit)


def probe(source: Path) -> dict[str, Any]:
    """probe.json's content for *source* (its JSON form: :func:`read_media`)."""
    return read_media(source).to_json()


def read_media(source: Path) -> Probe:
    """Read the streams of *source*; raise DraptoError if it is not a video drapto can encode."""
    from pymediainfo import MediaInfo

    if not source.is_file():
        raise DraptoError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise DraptoError(f"{source}: the file is empty")
    try:
        info = MediaInfo.parse(str(source))
    except Exception as exc:  # pymediainfo raises plain exceptions for unreadable files
        raise DraptoError(f"{source}: MediaInfo cannot read it: {exc}") from None
    tracks = [t.to_data() for t in info.tracks]
    general = next((t for t in tracks if t["track_type"] == "General"), {})
    videos = [t for t in tracks if t["track_type"] == "Video"]
    audios = [t for t in tracks if t["track_type"] == "Audio"]
    texts = [t for t in tracks if t["track_type"] == "Text"]
    menus = [t for t in tracks if t["track_type"] == "Menu"]
    if not videos:
        fmt = general.get("format") or "unknown format"
        kinds = f"{len(audios)} audio track(s)" if audios else fmt
        raise DraptoError(f"{source}: no video stream ({kinds}); drapto encodes video files")
    seen = ffmpeg_video(source)
    streams, main = seen.pop("streams"), seen.pop("main")
    ffmpeg_title = seen.pop("title")
    v = _mediainfo_video(videos, streams, main)
    width, height = _int(v.get("width")), _int(v.get("height"))
    if width <= 0 or height <= 0:
        raise DraptoError(f"{source}: the video stream has no usable dimensions")
    ff_videos = [s for s in streams if s["kind"] == "Video" and not s["attached"]]
    decoder = None
    if main < len(ff_videos) and ff_videos[main]["codec"] == "none":
        tag = ff_videos[main]["tag"]
        decoder = DECODER_BY_TAG.get(str(tag))
        if decoder is None:
            raise DraptoError(f"{source}: the video stream's codec ({v.get('format') or tag}, "
                              f"sample entry {tag}) is not one FFmpeg knows")
    elif not decodable(ff_videos, main):
        raise DraptoError(f"{source}: the video stream ({ff_videos[main]['codec']}) cannot be "
                          "decoded: this FFmpeg has no decoder for it")
    others = tuple(f"video track {i} ({t.get('format')}, {_int(t.get('width'))}x"
                   f"{_int(t.get('height'))})" for i, t in enumerate(videos) if i != main)
    ff_audio = [s for s in streams if s["kind"] == "Audio"]
    ff_subs = [s for s in streams if s["kind"] == "Subtitle"]
    colour, conflicts, explicit = colour_of(v)
    if seen["rotation"] in (90, 270):  # FFmpeg turns the pixels upright when decoding
        width, height = height, width
    num, den = _int(v.get("frame_rate_num")), _int(v.get("frame_rate_den"))
    fps = float(v.get("frame_rate") or 0) or (num / den if num and den else 0.0)
    # MediaInfo's durations and delays are ms.
    video = VideoStream(
        **_common(v), width=width, height=height, **seen,
        stored_size=(_int(v.get("width")), _int(v.get("height"))),
        frame_count=_int(v.get("frame_count")), fps=fps,
        duration_us=_int(v.get("duration")) * 1000,
        # MediaInfo's duration counts an edit list's leading delay (Source_Delay).
        edit_delay_us=max(0, _int(v.get("source_delay"))) * 1000,
        frame_rate_mode=v.get("frame_rate_mode"),
        bit_depth=_int(v.get("bit_depth"), 8), scan_type=v.get("scan_type"),
        interlaced=str(v.get("scan_type") or "Progressive") != "Progressive",
        **colour, colour_conflicts=conflicts, colour_explicit=explicit,
        hdr_format=v.get("hdr_format"), delay_us=_int(v.get("delay")) * 1000,
        hdr=hdr_info(v))
    audio = tuple(AudioTrack(**_common(a), index=i, channels=_int(a.get("channel_s"), 2),
                             layout=a.get("channel_layout"),
                             delay_us=_int(a.get("delay")) * 1000,
                             duration_us=_int(a.get("duration")) * 1000,
                             decodable=decodable(ff_audio, i),
                             muxable=decodable(ff_audio, i) or muxable(source, ff_audio, [i], "a"))
                  for i, a in enumerate(audios))
    # One check of every subtitle track, each on its own only when that fails.
    subs_ok = muxable(source, ff_subs, range(len(ff_subs)), "s")
    subtitles = tuple(SubtitleTrack(**_common(t), index=i, decodable=decodable(ff_subs, i),
                                    muxable=subs_ok or muxable(source, ff_subs, [i], "s"))
                      for i, t in enumerate(texts))
    chapter_starts = sorted(_chapter_us(k) for m in menus for k in m if _CHAPTER_KEY.match(k))
    return Probe(
        source=str(source), size=source.stat().st_size, container=general.get("format"),
        duration_us=_int(general.get("duration")) * 1000, video=video, audio=audio,
        subtitles=subtitles, chapters=len(chapter_starts),
        chapter_starts_us=tuple(chapter_starts),
        title=(title := general.get("title") or general.get("movie_name")),
        title_unread=bool(title) and not ffmpeg_title, video_index=main,
        decoder=decoder, other_videos=others,
        drapto_source=general.get("drapto_source"), drapto_video=general.get("drapto_video"),
        drapto_audio=general.get("drapto_audio"),
        attachments=tuple(a.strip() for a in str(general.get("attachments") or "").split(" / ")
                          if a.strip()))


@functools.cache
def _no_decoder() -> frozenset[str]:
    """The codecs this FFmpeg knows but cannot decode (``-codecs`` without D): AC-4,
    MPEG-H 3D Audio, Apple APAC and the like."""
    lines: list[str] = []
    proc.run(["-codecs"], what="listing FFmpeg's codecs", on_line=lines.append)
    return frozenset(p[1] for p in (line.split() for line in lines)
                     if len(p) > 1 and len(p[0]) == 6 and p[0][0] == ".")


def decodable(streams: list[dict[str, Any]], i: int) -> bool:
    """Whether FFmpeg can decode the *i*-th stream of a kind (it knows its codec and has a
    decoder for it)."""
    if i >= len(streams):
        return True
    codec = streams[i]["codec"]
    return bool(codec != "none" and codec not in _no_decoder())


# A subtitle format the output converts instead of copying (as the mux does).
_SUBTITLE_CODEC = {"mov_text": "srt"}


def muxable(source: Path, streams: list[dict[str, Any]], which: Iterable[int],
            kind: str) -> bool:
    """Whether the output (Matroska) can hold the streams *which* of a *kind* (``a``,
    ``s``) as the mux writes them: checked by writing a header of them alone."""
    known = [i for i in which if i < len(streams)]
    if any(streams[i]["codec"] == "none" for i in known):
        return False
    if not known:
        return True
    args = [a for i in known for a in ("-map", f"0:{kind}:{i}", f"-c:{kind}:{known.index(i)}",
                                       _SUBTITLE_CODEC.get(streams[i]["codec"], "copy"))]
    try:
        proc.run(["-v", "error", "-i", str(source), *args, "-t", "0.001", "-f", "matroska",
                  "-y", os.devnull], what=f"checking that Matroska holds the {kind} tracks "
                                          f"{known} of {source}")
    except DraptoError:
        if proc.stopping():
            raise
        return False
    return True
