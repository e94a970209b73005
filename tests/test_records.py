"""The typed records (drapto/media/records.py): each reads a real-shaped file and writes it back
as the same JSON (so work folders and keys stay valid), and time in µs decides as the ms
of MediaInfo did."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from drapto.media.records import Calibration, Crop, Probe, Scenes, Segment, SegmentRecord
from drapto.media.timeline import clip_range, segment_durations
from drapto.media.timeparse import Clip
from drapto.stages.validate import clip_chapters

TRACK = {"codec_id": "A_AC3", "default": True, "forced": False, "format": "AC-3",
         "language": "en", "language_639_2": "eng", "title": "Surround"}
PROBE: dict[str, Any] = {
    "attachments": ["notes.txt"],
    "audio": [{**TRACK, "channels": 6, "delay_ms": 12, "duration_ms": 38005, "index": 0,
               "layout": "L R C LFE Ls Rs"},
              {**TRACK, "channels": 2, "delay_ms": 0, "duration_ms": 38021, "index": 1,
               "layout": "L R", "format": "AAC", "title": None}],
    "chapter_starts_ms": [0, 6000, 15000, 18000, 25000, 30000], "chapters": 6,
    "container": "Matroska", "drapto_audio": None, "drapto_source": None,
    "drapto_video": None, "duration_ms": 38021, "schema": 5, "size": 11420007,
    "source": "/films/sample.mkv",
    "subtitles": [{**TRACK, "codec_id": "S_TEXT/UTF8", "format": "UTF-8", "index": 0}],
    "title": "drapto sample",
    "video": {"bit_depth": 10, "codec_id": "V_MPEGH/ISO/HEVC", "color_primaries": "BT.2020",
              "color_range": "Limited", "default": False, "delay_ms": 0,
              "duration_ms": 38000, "ffmpeg_fps": 23.976, "forced": False, "format": "HEVC",
              "fps": 23.976, "frame_count": 911, "frame_rate_mode": "CFR",
              "hdr": {"dolby_vision": {"codec_profile": "dvhe.08", "compatibility": "HDR10",
                                       "layers": "BL+RPU", "profile": 8, "version": "1.0"},
                      "hdr10plus": False, "is_hdr": True, "mastering_display": True,
                      "max_cll": "1000 cd/m2", "transfer": "PQ"},
              "hdr_format": "Dolby Vision / SMPTE ST 2086", "height": 360,
              "interlaced": False, "language": None, "language_639_2": None,
              "matrix": "BT.2020 non-constant", "rotation": 0, "scan_type": "Progressive",
              "stored_size": [640, 360], "title": None, "transfer": "PQ", "width": 640}}
SCENES: dict[str, Any] = {
    "clip": [3000000, 20000000], "cuts": [144, 360], "first_pts_us": 3000000, "fps": 24.0,
    "frames": 408, "last_pts_us": 19958000, "schema": 7,
    "segments": [{"frames": 144, "index": 0, "source_bytes": 1493886, "start": 0,
                  "start_pts_us": 3000000},
                 {"frames": 264, "index": 1, "source_bytes": 2247456, "start": 144,
                  "start_pts_us": 9000000}],
    "source_start_us": 0,
    "streams": {"audio": [[0, 38000000], None], "subtitles": [[0, 37000000]],
                "video": [[0, 37958000]]},
    "time_base": "1/1000000", "zero_us": 3000000}
CROP: dict[str, Any] = {
    "agreement": 1.0, "bars": 0.25, "crop": [640, 272, 0, 44], "height": 360,
    "limit": 0.062745, "mode": "auto", "plausible": 2, "reason": "100% agree, bars 24.4%",
    "samples": [{"at_s": 5.7, "rect": [640, 272, 0, 44]}, {"at_s": 6.808, "rect": None}],
    "schema": 2, "votes": [[[640, 272, 0, 44], 2]], "width": 640}
DV_CROP = {**CROP, "crop": None, "would_crop": [640, 272, 0, 44], "reason": "Dolby Vision kept"}
SEGMENT = {"first": False, "frames": 216, "pts_us": 6000000, "source_bytes": None,
           "start": 144}
# encoded/F.json at a fixed CRF (no VMAF, no search: none of their keys), and with quality
# targeting (a calibration segment's: two final encodes; per-frame VMAF cut short).
FIXED = {"bytes": 1072345, "crf": 25, "crop": None, "dolby_vision": False, "filters": [],
         "frames": 144, "peak_memory_mib": 156, "preset": 12, "reserved_mib": 229,
         "seconds": 1.31, "start": 0, "warnings": []}
SCORED: dict[str, Any] = {
    "band": [91.0, 95.0], "bytes": 456171, "crf": 42.75, "crop": None, "dolby_vision": False,
    "filters": [], "frames": 216, "outside": None, "peak_memory_mib": 217, "preset": 12,
    "reached": True, "reserved_mib": 229,
    "search": {"fast_crf": 43.226, "finals": [{"bytes": 895884, "crf": 35.0, "vmaf": 96.258},
                                              {"bytes": 456171, "crf": 42.75, "vmaf": 93.249}],
               "overshoot": 1.0, "predicted_crf": 35.0, "preset": 12,
               "prior": {"band": 0.5, "first_probe": 35.0, "shift": 0.0, "slope": 0.08,
                         "source": "default"},
               "probe_settings": {"encoder_args": [], "filters": [],
                                  "frames": [144, 216, 6000000],
                                  "pixel_format": "yuv420p10le", "search_preset": 10,
                                  "subsample": 1, "svt_params": "tune=0",
                                  "vmaf_model": "vmaf_v0.6.1", "vmaf_pool": "mean",
                                  "vmaf_scoring": "yuv420p", "window": [81, 54]},
               "probes": [], "search_preset": 10, "shift": 0.0, "slope": 0.076, "target": 93.0,
               "tolerance": 1.0},
    "seconds": 4.0, "source_bytes": 2247456, "start": 144, "target_vmaf": 93.0,
    "vmaf": 93.249, "vmaf_frames": [95.816, 92.48, 94.855], "vmaf_pool": "mean",
    "warnings": []}
# With probes (search=probes), cropped, the RPU kept, outside the band.
PROBED: dict[str, Any] = {
    **SCORED, "crop": [640, 272, 0, 44], "filters": ["crop=640:272:0:44"],
    "dolby_vision": True, "reached": False, "source_bytes": None, "vmaf": 97.1,
    "outside": "above it even at crf_max (63)",
    "warnings": ["the segment at frames 144-359: VMAF 97.10 is outside the band 93 ± 2: "
                 "above it even at crf_max (63)"],
    "search": {**SCORED["search"], "probes": [{"bytes": 20311, "crf": 60.0, "vmaf": 97.5},
                                              {"bytes": 18020, "crf": 63.0, "vmaf": 97.2}],
               "prior": {"band": 2.0, "first_probe": 60.0, "shift": 1.25, "slope": 0.071,
                         "source": "calibration of 3 segments"}}}


def _view(data: dict[str, Any]) -> dict[str, Any]:
    """probe.json as the output's view has it: every audio track says how it is kept."""
    out = copy.deepcopy(data)
    for a in out["audio"]:
        a["kept_as"] = "Opus"
    return out


def _real_file(data: dict[str, Any]) -> dict[str, Any]:
    """probe.json of a file with what only some files have (written only then): an edit
    list's delay, colour the container and stream disagree on, a title FFmpeg cannot read,
    a second video track, an audio track FFmpeg cannot decode."""
    out = copy.deepcopy(data)
    out["video"].update(edit_delay_ms=1000, colour_explicit=["transfer"], colour_conflicts={
        "matrix": {"container": "BT.601", "stream": "BT.470 System B/G"}})
    out["audio"][0].update(decodable=False, muxable=False)
    out.update(title_unread=True, video_index=1, decoder="libdav1d",
               other_videos=["video track 0 (AVC, 128x72)"])
    return out


CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (Probe, PROBE), (Probe, _view(PROBE)), (Probe, _real_file(PROBE)), (Scenes, SCENES),
    (Scenes, {**SCENES, "changes": [{"format": "yuv420p", "frame": 144, "height": 144,
                                     "range": "tv", "width": 256}]}),
    (Scenes, {**SCENES, "clip": None}), (Crop, CROP), (Crop, DV_CROP),
    (Crop, {"crop": None, "height": 360, "mode": "off", "reason": "crop=off", "schema": 2,
            "width": 640}),
    (Segment, SEGMENT), (SegmentRecord, FIXED), (SegmentRecord, SCORED),
    (SegmentRecord, PROBED),
    (Calibration, {"crf": 42.75, "fast_crf": 43.226, "schema": 5, "segments_used": 2,
                   "segments": [{"crf": 42.75, "fast_crf": 43.226, "own_slope": True,
                                 "shift": -0.00029206335894826907, "slope": 0.076,
                                 "start": 144},
                                {"crf": 40.0, "fast_crf": 40.547, "own_slope": False,
                                 "shift": 0.0004426082058444081, "slope": 0.071,
                                 "start": 360}],
                   "shift": 0.0, "slope": 0.076, "target": 93.0}),
    (Calibration, {"schema": 5, "segments": [], "segments_used": 0, "target": None}),
    (Calibration, {"crf": 40.0, "fast_crf": 40.5, "schema": 5, "segments_used": 1,
                   "segments": [{"bytes_per_frame": 2210.5, "crf": 40.0, "fast_crf": 40.5,
                                 "own_slope": True, "shift": 0.0, "slope": 0.07,
                                 "start": 0}],
                   "nearest": {"median_error": 4.2, "nearest_error": 1.1, "used": True},
                   "shift": 0.0, "slope": 0.07, "target": 93.0})]


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_a_record_writes_back_the_json_it_was_read_from(cls: type[Any], data: dict[str, Any],
                                                        tmp_path: Path) -> None:
    record = cls.from_json(data)
    assert json.dumps(record.to_json(), sort_keys=True) == json.dumps(data, sort_keys=True)
    assert cls.from_json(record.to_json()) == record
    path = tmp_path / "record.json"
    record.write(path)
    assert cls.read(path) == record


def test_a_fixed_crf_record_has_no_vmaf() -> None:
    fixed, scored = SegmentRecord.from_json(FIXED), SegmentRecord.from_json(PROBED)
    assert fixed.scored is None and fixed.vmaf is None and fixed.crf == 25
    assert scored.scored is not None and scored.vmaf == 97.1
    assert scored.crop == (640, 272, 0, 44) and scored.scored.search.prior.shift == 1.25
    assert [p.crf for p in scored.scored.search.probes] == [60.0, 63.0]


def test_probe_time_is_us() -> None:
    p = Probe.from_json(PROBE)
    assert p.duration_us == 38_021_000 and p.video.duration_us == 38_000_000
    assert p.audio[0].delay_us == 12_000
    assert p.chapter_starts_us[:3] == (0, 6_000_000, 15_000_000)
    assert p.video.hdr.dolby_vision is not None and p.video.hdr.dolby_vision.profile == 8


def _clip_chapters_ms(starts_ms: list[int], duration_ms: int, clip_ms: tuple[int, int]) -> int:
    """The ms version the µs one replaced."""
    ends = [*starts_ms[1:], duration_ms]
    return sum(1 for a, b in zip(starts_ms, ends) if a < clip_ms[1] and b > clip_ms[0])


@pytest.mark.parametrize("start_us", [0, 3_000_000, 5_999_999, 6_000_000, 6_000_500,
                                      14_999_500, 29_999_999])
@pytest.mark.parametrize("length_us", [1, 999, 1_000, 9_000_500, 12_000_000, 40_000_000])
def test_clip_chapters_in_us_count_as_in_ms(start_us: int, length_us: int) -> None:
    starts_ms, duration_ms = PROBE["chapter_starts_ms"], PROBE["duration_ms"]
    us = clip_chapters([t * 1000 for t in starts_ms], duration_ms * 1000,
                       (start_us // 1000 * 1000, (start_us + length_us) // 1000 * 1000))
    assert us == _clip_chapters_ms(starts_ms, duration_ms,
                                   (start_us // 1000, (start_us + length_us) // 1000))


def test_a_clip_range_is_its_frames_span_to_the_millisecond() -> None:
    scenes = Scenes.from_json({**SCENES, "clip": [3_000_700, 20_000_000]})
    end = 3_000_700 + sum(segment_durations(scenes))
    assert clip_range(scenes) == (3_000_000, end // 1000 * 1000)
    assert clip_range(Scenes.from_json({**SCENES, "clip": None})) is None
    assert Scenes.from_json(SCENES).clip == Clip(3_000_000, 20_000_000)


def test_drapto_report_reads_a_report_json_of_the_first_schema(tmp_path: Path) -> None:
    """A work folder of an older version keeps its report.json: its segments had no first
    frame, its film summary other fields; the statistics still count it as done."""
    from drapto.stages.report import stats

    work = tmp_path / "work" / "film-0123"
    work.mkdir(parents=True)
    out = tmp_path / "film.av1.mkv"
    out.write_bytes(b"x")
    (work / "probe.json").write_text("{}", encoding="utf-8")
    (work / "report.json").write_text(json.dumps({
        "schema": 1, "source": "/films/film.mkv", "output": str(out), "frames": 240,
        "duration_s": 10.0, "size_in": 8 * 2**20, "size_out": 2**20, "reduction_pct": 87.5,
        "kbit_s": 838.9, "encode_seconds": 12.5, "warnings": [], "validated": True,
        "vmaf": {"mean": 93.1},
        "segments": [{"index": 0, "frames": 240, "crf": 30, "bytes": 2**20, "kbit_s": 838.9,
                      "seconds": None, "peak_memory_mib": None}]}), encoding="utf-8")
    lines = stats(tmp_path / "work")
    assert lines[1].split()[-1] == str(out) and "87.5%" in lines[1]
    assert lines[3].startswith("1 done, 0 failed, 0 not encoded")
