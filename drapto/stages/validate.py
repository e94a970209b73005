"""validation.json: the output checked against the source (MediaInfo and FFmpeg)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.files import write_json
from drapto.media import dovi, obu, proc, tracks
from drapto.media.hdr10plus import of_frames as hdr10plus_of_frames
from drapto.media.hdr10plus import read as read_hdr10plus
from drapto.media.hdr10plus import unkept as unkept_hdr10plus
from drapto.media.hdr10plus import windows
from drapto.media.hevc import RPU_NAL, NoTimestamps, frame_units, nal_units
from drapto.media.probing import read_media
from drapto.media.records import Crop, Probe, Rect, Scenes, SegmentRecord, VideoStream
from drapto.media.timeline import (
    SPAN_CODECS,
    Span,
    clip_range,
    expected_spans,
    read_framecrc,
    spans_by_kind,
    stream_maps,
)
from drapto.quality.policy import Picture
from drapto.stages.crop import KIND as CROP
from drapto.stages.crop import cut_of, moves_dolby_vision
from drapto.stages.encode import final_targets
from drapto.stages.hdr10plus import KIND as HDR10PLUS
from drapto.stages.hdr10plus import kept as hdr10plus_kept
from drapto.stages.mux import KIND as MUX
from drapto.work.graph import Building, Kind, Task, make_task

# How far a stream's start or end may lie from where it should: one frame of video (the
# output's timestamps are rounded to the millisecond), and this much for audio (an Opus
# frame) and subtitles.
AUDIO_TOLERANCE_US = 20_000


def read_output(path: Path, audio: int, subtitles: int
                ) -> tuple[int, int, dict[str, list[list[int] | None]]]:
    """One pass over the output (video and subtitles stream-copied, audio decoded): its video
    packets, the bit depth of its pixel format as FFmpeg reports it (MediaInfo does not, for
    AV1 in MKV), and every stream's span (drapto/media/timeline.py)."""
    lines: list[str] = []
    result = proc.run(["-v", "info", "-copyts", "-i", str(path),
                       *stream_maps(audio, subtitles), *SPAN_CODECS, "-f", "framecrc",
                       "pipe:1"], what=f"reading the streams of {path}", on_line=lines.append)
    m = re.search(r"Stream #0:\d+.*?: Video: .*?\b(yuv|gray|gbr)\w*?(\d+)?(le|be)?\b",
                  result.stderr)
    depth = int(m.group(2)) if m and m.group(2) else 8
    packets = read_framecrc(lines)
    frames = packets[0].count if 0 in packets else 0
    return frames, depth, spans_by_kind(packets, audio, subtitles)


def rpu_frames(frames: list[list[bytes]]) -> int:
    """How many frames (their T.35 payloads: :func:`drapto.obu.t35_by_frame`) hold a Dolby
    Vision RPU."""
    return sum(any(p.startswith(dovi.DOLBY_T35) for p in found) for found in frames)


def timeline_checks(expected: dict[str, list[Span | None]],
                    got: dict[str, list[list[int] | None]], fps: float, clip: bool
                    ) -> list[dict[str, Any]]:
    """Each stream's start and end in the output against where it should be (ms): the
    video's first and last frame within one frame, audio and subtitles within
    AUDIO_TOLERANCE_US; in a clip, subtitles only have to lie within it (their cues are cut
    to it, so the source's first and last cue say nothing)."""
    frame = round(1e6 / fps) if fps > 0 else 42_000
    result: list[dict[str, Any]] = []

    def ms(us: int | None) -> int | None:
        return None if us is None else round(us / 1000)

    def check(name: str, want: int | None, have: int | None, tolerance: int) -> None:
        ok = (want is None and have is None) or (
            want is not None and have is not None and abs(want - have) <= tolerance)
        result.append({"check": name, "expected": ms(want), "got": ms(have), "ok": ok})

    video = expected["video"][0]
    for kind, tolerance in (("video", frame), ("audio", AUDIO_TOLERANCE_US),
                            ("subtitles", AUDIO_TOLERANCE_US)):
        outs = got.get(kind, [])
        for i, want in enumerate(expected.get(kind, [])):
            have = Span.of(outs[i]) if i < len(outs) else None
            name = "video" if kind == "video" else f"{kind.rstrip('s')} {i}"
            if kind == "subtitles" and clip:
                inside = have is None or (video is not None and have.start >= 0
                                          and have.end <= video.end + frame + tolerance)
                result.append({"check": f"{name} within the clip (ms)",
                               "expected": [0, ms(video.end + frame) if video else None],
                               "got": [ms(have.start), ms(have.end)] if have else None,
                               "ok": inside})
                continue
            last = "last frame" if kind == "video" else "end"
            check(f"{name} start (ms)", want.start if want else None,
                  have.start if have else None, tolerance)
            check(f"{name} {last} (ms)", want.end if want else None,
                  have.end if have else None, tolerance)
    return result


def dolby_vision_checks(src: Probe, out: Probe, frames: int,
                        with_rpu: int) -> list[dict[str, Any]]:
    """Where the RPU was kept: the output is Dolby Vision with the source's compatibility
    (HDR10, SDR, HLG), and every frame carries an RPU."""
    src_dv, out_dv = src.video.hdr.dolby_vision, out.video.hdr.dolby_vision
    want = src_dv.compatibility if src_dv else None
    got = out_dv.compatibility if out_dv else None
    return [{"check": "Dolby Vision compatibility", "expected": want, "got": got,
             "ok": want == got},
            {"check": "Dolby Vision RPU in every frame", "expected": frames, "got": with_rpu,
             "ok": frames == with_rpu}]


def clip_chapters(starts_us: Sequence[int], duration_us: int, clip: tuple[int, int]) -> int:
    """How many chapters overlap the clip (each runs to the next one's start; all in µs)."""
    ends = [*starts_us[1:], duration_us]
    return sum(1 for a, b in zip(starts_us, ends) if a < clip[1] and b > clip[0])


def checks(src: Probe, out: Probe, frames: int, out_frames: int,
           bit_depth: int, out_depth: int, crop: Rect | None,
           dolby_vision: bool, clip: tuple[int, int] | None = None,
           picture: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """The output (*out*, its MediaInfo probe) against the source (*src*): each check a dict
    of its name, what was expected, what was found and whether they agree. The timing of
    the streams is :func:`timeline_checks`."""
    result: list[dict[str, Any]] = []

    def check(name: str, expected: Any, got: Any, ok: bool | None = None) -> None:
        result.append({"check": name, "expected": expected, "got": got,
                       "ok": bool(expected == got if ok is None else ok)})

    sv, ov = src.video, out.video
    check("video codec", "AV1", ov.format)
    check("bit depth", bit_depth, out_depth)
    size = (list(picture[:2]) if picture else list(crop[:2]) if crop
            else [sv.width, sv.height])
    check("dimensions", size, [ov.width, ov.height])
    # The pixels are turned upright (FFmpeg's autorotate): the output has no rotation.
    check("rotation", 0, ov.rotation)
    # Each tag from the probe's one source of truth (drapto/media/probing.py, colour_of).
    for tag in VideoStream.COLOUR:
        if sv.colour(tag):
            check(f"colour: {tag}", sv.colour(tag), ov.colour(tag))
    if sv.hdr.mastering_display:
        check("HDR10 static metadata", True, "2086" in str(ov.hdr_format))
    check("Dolby Vision", dolby_vision, ov.hdr.dolby_vision is not None)
    check("frame count", frames, out_frames)
    check("audio tracks", len(src.audio), len(out.audio))
    check("audio codecs", [a.kept_as if a.in_view else "Opus" for a in src.audio],
          [a.format for a in out.audio])
    check("audio channels", [a.channels for a in src.audio],
          [a.channels for a in out.audio])
    check("audio languages", [a.language for a in src.audio],
          [a.language for a in out.audio])
    check("subtitle tracks", len(src.subtitles), len(out.subtitles))
    check("subtitle languages", [s.language for s in src.subtitles],
          [s.language for s in out.subtitles])
    check("chapters", clip_chapters(src.chapter_starts_us, src.duration_us, clip)
          if clip else src.chapters, out.chapters)
    check("attachments", list(src.attachments), list(out.attachments))
    return result


def notes(src: Probe, out: Probe, scenes: Scenes, picture: Picture | None) -> list[str]:
    """What the output keeps differently from the source without losing it, in words:
    colour tags the container and the stream disagree on, a title the output lacks, a
    picture that changes midway."""
    said = [f"colour: {tag}: the container says {container}, the video stream {stream}; "
            f"the stream's is kept (what the decoder reads)"
            for tag, container, stream in src.video.colour_conflicts]
    if src.title != out.title:
        said.append(f"title: the source's {src.title!r} could not be written "
                    f"(the output has {out.title!r})")
    if picture:
        sizes = ", ".join(f"{c.width}x{c.height} {c.range or ''}".strip()
                          + f" from frame {c.frame}" for c in scenes.changes)
        said.append(f"the picture changes midway ({src.video.width}x{src.video.height} "
                    f"at first; {sizes}): every frame encoded at {picture.width}x"
                    f"{picture.height} in range {picture.range}, scaled to fit and padded"
                    + ("; bars not cropped" if picture.resized else ""))
    return said


def hdr10plus_checks(written: list[bytes], found: list[bytes]) -> list[dict[str, Any]]:
    """The HDR10+ metadata read back from the output, frame by frame, against what the join
    wrote (hdr10plus.t35): the frames that carry it, and those whose payload differs."""
    carried = sum(1 for w in written if w)
    kept = sum(1 for w, f in zip(written, found, strict=False) if w and w == f)
    return [{"check": "HDR10+ frames (SMPTE ST 2094-40, ITU-T T.35)", "expected": carried,
             "got": kept, "ok": carried == kept and len(found) == len(written)}]


def active_area_checks(source: list[dovi.Area | None], found: list[list[bytes]],
                       cut: dovi.Area) -> list[dict[str, Any]]:
    """Each output frame's Dolby Vision RPU (its T.35 payloads, *found*) against its source
    frame's level-5 active area (*source*) moved by the crop's *cut*: the area as it should
    be, and a CRC that holds."""
    right = 0
    for area, payloads in zip(source, found, strict=False):
        rpu = next((p for p in payloads if p.startswith(dovi.DOLBY_T35)), None)
        try:
            ok = rpu is not None and dovi.checked_area(rpu) == (
                True, None if area is None else dovi.moved(area, cut))
        except dovi.Unreadable:
            ok = False
        right += ok
    return [{"check": "Dolby Vision active area (level 5) of the cropped picture",
             "expected": len(source), "got": right,
             "ok": right == len(source) == len(found)}]


def source_areas(source: Path, src_probe: Probe, scenes: Scenes, scratch: Path
                 ) -> list[dovi.Area | None] | str:
    """Each encoded frame's level-5 active area in the source (None: none), or why it
    cannot be read: from the RPU NAL units of an HEVC source, or the T.35 metadata of an
    AV1 one (a whole film)."""
    if src_probe.video.format == "HEVC":
        try:
            units = frame_units(source, scenes, RPU_NAL, scratch, "Dolby Vision RPUs")
        except NoTimestamps as exc:
            return str(exc)
        return [next((dovi.nal_area(n) for n in nal_units(u)), None) for u in units]
    if src_probe.video.format == "AV1" and not scenes.clip:
        frames = obu.t35_by_frame(source, scratch)
        return [next((dovi.active_area(p) for p in f if p.startswith(dovi.DOLBY_T35)), None)
                for f in frames]
    return f"drapto reads a {src_probe.video.format} source's RPUs only whole, in HEVC or AV1"


def run_validate(src_probe: Probe, scenes: Scenes, output: Path,
                 bit_depth: int, crop: Path, records: list[Path], target: Path,
                 clip_ms: tuple[int, int] | None = None, left_out: Sequence[str] = (),
                 hdr10plus: Path | None = None, source: Path | None = None) -> None:
    """*clip_ms*: a clip's range as encoded, in the ms its task's key has always held it
    (:func:`drapto.timeline.clip_range`, to the millisecond). *left_out*: what the output
    cannot hold of the source (:func:`drapto.tracks.left_out`), said as warnings.
    *hdr10plus*: each frame's HDR10+ metadata as the join wrote it (hdr10plus.t35).
    *source*: the input of a Dolby Vision film a crop moves the active area of, whose RPUs
    the output's are checked against."""
    out = read_media(output)
    out_frames, out_depth, spans = read_output(output, len(out.audio), len(out.subtitles))
    done = [SegmentRecord.read(r) for r in records]
    dolby_vision = bool(done) and all(r.dolby_vision for r in done)
    cropped = Crop.read(crop)
    clip = None if clip_ms is None else (clip_ms[0] * 1000, clip_ms[1] * 1000)
    picture = Picture.of(src_probe, scenes)
    result = checks(src_probe, out, scenes.frames, out_frames, bit_depth, out_depth,
                    None if picture and picture.resized else cropped.rect, dolby_vision,
                    clip, (picture.width, picture.height) if picture else None)
    result += timeline_checks(expected_spans(scenes), spans, scenes.fps, bool(scenes.clip))
    metadata = obu.t35_by_frame(output, target) if dolby_vision or hdr10plus else []
    if dolby_vision:
        result += dolby_vision_checks(src_probe, out, out_frames, rpu_frames(metadata))
    hdr_notes = []
    dolby_vision_cut = cut_of(cropped) if source else None
    if dolby_vision and dolby_vision_cut and source:
        areas = source_areas(source, src_probe, scenes, target)
        if isinstance(areas, str):
            hdr_notes.append(f"the Dolby Vision active area (level 5) moved by the crop was "
                             f"not checked: {areas}")
        else:
            result += active_area_checks(areas, metadata, dolby_vision_cut)
    unkept = unkept_hdr10plus(hdr10plus) if hdr10plus else ""
    if hdr10plus and not unkept:
        written = read_hdr10plus(hdr10plus)
        if cropped.rect and (several := sum(windows(p) > 1 for p in written)):
            hdr_notes.append(f"HDR10+ on {several} frames describes more than one processing "
                             "window, whose coordinates are the source's, before the crop")
        result += hdr10plus_checks(written, hdr10plus_of_frames(metadata))
    warnings = [*left_out, *notes(src_probe, out, scenes, picture)]
    warnings += hdr_notes
    warnings += list(dict.fromkeys(w for r in done for w in r.warnings))
    if bars := cropped.would_crop:
        warnings.append(f"Dolby Vision kept, so the bars found ({bars[0]}x{bars[1]} picture) "
                        "were not cropped: its RPU's active area would describe them after a "
                        "crop; dolby_vision=off crops them, as plain HDR")
    if src_probe.video.hdr.hdr10plus and (unkept or not hdr10plus):
        unkept = unkept or (f"drapto reads it from HEVC sources only (this one is "
                            f"{src_probe.video.format})")
        warnings.append(f"HDR10+ dynamic metadata is not kept: {unkept}; the HDR10 static "
                        "metadata is")
    failed = [c for c in result if not c["ok"]]
    write_json(target, {"output": str(output), "ok": not failed, "checks": result,
                        "warnings": warnings})
    if failed:
        desc = "; ".join(f"{c['check']}: expected {c['expected']}, got {c['got']}"
                         for c in failed)
        raise DraptoError(f"{output} failed validation: {desc}. The output and the encoded "
                          f"segments are kept; {target} has every check (send it with a bug "
                          "report)")


SCHEMA = 1
def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    job = up.job
    probe_view, scenes = tracks.kept_view(up.probe, up.scenes, job.settings, bool(job.clip))
    yield up.add(make_task(
        job, KIND, None, run_validate,
        {"src_probe": probe_view, "scenes": scenes, "output": job.output,
         "bit_depth": 10 if "10" in job.settings.pixel_format else 8, "crop": job.work.crop,
         "clip_ms": None if (clip := clip_range(scenes)) is None
         else (clip[0] // 1000, clip[1] // 1000),
         "records": [t.with_suffix(".json") for t in final_targets(up)],
         "target": job.work.validation,
         # Only when there is something to say: every other validation keeps its key.
         **({"left_out": said} if (said := tracks.left_out(up.probe)) else {}),
         **({"hdr10plus": job.work.hdr10plus} if hdr10plus_kept(up) else {}),
         **({"source": job.source} if moves_dolby_vision(up) else {})},
        [up.get(MUX.name), up.get(CROP.name),
         *([up.get(HDR10PLUS.name)] if hdr10plus_kept(up) else [])],
        KIND.doc, SCHEMA))


KIND = Kind("validate", 3,
            "validation.json: the output checked against the source.", make=tasks)
