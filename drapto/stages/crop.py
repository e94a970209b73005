"""crop.json: letterbox/pillarbox bars found with FFmpeg cropdetect on short samples.

Samples are spread over 15–85 % of the duration, each reached by seeking (the film is not
decoded whole). A rectangle is kept only when one wins clearly among the plausible samples
and the bars it removes are a real part of the frame; otherwise no crop. The evidence
(every sample and the vote) is recorded with the decision.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.media import dovi, proc
from drapto.media.records import Crop, Probe, rect_of
from drapto.media.timeline import seek_arg
from drapto.quality.policy import Video, decoder_options
from drapto.stages.probe import KIND as PROBE
from drapto.stages.probe import kept_dolby_vision
from drapto.work.graph import Kind, Task, Upstream, make_task
from drapto.work.job import Job

SCHEMA = Crop.SCHEMA  # 2
_CROP = re.compile(r"crop=(-?\d+):(-?\d+):(-?\d+):(-?\d+)")
FRAMES_PER_SAMPLE = 4
AGREEMENT = 0.8       # share of plausible samples the winner needs
MIN_BARS = 0.02       # share of the frame the bars must cover


def sample_times(duration_s: float, count: int) -> list[float]:
    if count <= 1:
        return [duration_s * 0.5]
    return [duration_s * (0.15 + 0.70 * i / (count - 1)) for i in range(count)]


def detect_sample(source: Path, at_s: float | None, limit: float,
                  video: tuple[list[str], int] = ([], 0)) -> list[int] | None:
    """The rectangle cropdetect settles on over a few frames from *at_s* (None: from the
    start), or None when no frame could be read there."""
    seek = [] if at_s is None else ["-ss", seek_arg(round(at_s * 1e6))]
    result = proc.run(["-v", "info", *seek, *video[0], "-i", str(source),
                       "-map", f"0:V:{video[1]}", "-frames:v", str(FRAMES_PER_SAMPLE),
                       "-vf", f"cropdetect=limit={limit:.6f}:round=2:reset=0",
                       "-f", "null", "-"], what=f"crop detection of {source} at {at_s or 0:.1f} s")
    found = _CROP.findall(result.stderr)
    return [int(v) for v in found[-1]] if found else None


# Up to this length, the samples are read in one pass from the start: each seek decodes
# from the keyframe before its sample, and 25 of them cost more than the whole of a short
# file (30 s of 720p: 2.3 s of seeks against 0.8 s for the scene pass's decode of it all).
ONE_PASS_S = 120.0


def detect_in_one_pass(source: Path, times: list[float], limit: float,
                       video: tuple[list[str], int] = ([], 0)) -> list[list[int] | None]:
    """The rectangles of :func:`detect_sample` at each of *times*, from one decode: the
    same frames (the first FRAMES_PER_SAMPLE from each time on), each sample's own
    cropdetect."""
    branches = [f"[s{i}]select='gte(t\\,{t:.6f})',trim=end_frame={FRAMES_PER_SAMPLE},"
                f"cropdetect@s{i}=limit={limit:.6f}:round=2:reset=0[o{i}]"
                for i, t in enumerate(times)]
    graph = (f"[0:V:{video[1]}]split={len(times)}{''.join(f'[s{i}]' for i in range(len(times)))};"
             + ";".join(branches))
    outs = [a for i in range(len(times)) for a in ("-map", f"[o{i}]", "-f", "null", "-")]
    result = proc.run(["-v", "info", *video[0], "-i", str(source), "-filter_complex", graph,
                       *outs],
                      what=f"crop detection of {source}")
    found: dict[int, list[int]] = {}
    for i, rect in _SAMPLE_CROP.findall(result.stderr):
        found[int(i)] = [int(v) for v in rect.split(":")]  # the last line of each wins
    return [found.get(i) for i in range(len(times))]


_SAMPLE_CROP = re.compile(r"^\[cropdetect@s(\d+) @ [^]]*\].*crop=(-?\d+:-?\d+:-?\d+:-?\d+)",
                          re.MULTILINE)


def decide(samples: list[list[int] | None], width: int, height: int) -> dict[str, Any]:
    """Vote over sample rectangles; None where no crop is justified (with the reason)."""
    read = [r for r in samples if r]
    if not read:
        return {"crop": None, "plausible": 0, "votes": [], "reason": "no sample could be read"}
    plausible = [tuple(r) for r in read
                 if r and r[0] >= width // 2 and r[1] >= height // 2
                 and r[2] >= 0 and r[3] >= 0 and r[0] + r[2] <= width and r[1] + r[3] <= height]
    votes = Counter(plausible)
    result: dict[str, Any] = {"crop": None, "plausible": len(plausible),
                              "votes": [[list(r), n] for r, n in votes.most_common()]}
    if len(plausible) < min(len(read), max(3, len(read) // 5)):
        result["reason"] = "too few plausible samples (dark or black film?)"
        return result
    (best, count), = votes.most_common(1)
    share = count / len(plausible)
    bars = 1 - best[0] * best[1] / (width * height)
    result.update(agreement=round(share, 3), bars=round(bars, 4))
    if share <= AGREEMENT:
        result["reason"] = f"no clear winner ({share:.0%} of plausible samples agree)"
    elif bars < MIN_BARS:
        result["reason"] = f"bars too thin ({bars:.1%} of the frame)"
    else:
        result["crop"] = list(best)
        result["reason"] = f"{share:.0%} of plausible samples agree, bars {bars:.1%}"
    return result


def parse_manual(value: str, width: int, height: int) -> list[int]:
    w, h, x, y = (int(v) for v in value.split(":"))
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise DraptoError(f"crop={value}: outside the {width}x{height} picture")
    return [w, h, x, y]


def run_crop(source: Path, probe: Path, target: Path, mode: str, samples: int,
             limit_sdr: float, limit_hdr: float, dolby_vision: str = "off") -> None:
    """crop.json for *source* (*probe*: its probe.json). A film whose Dolby Vision the output
    keeps (*dolby_vision*: the setting) is cropped like any other, the join moving its RPUs'
    active area (drapto/media/dovi.py), unless their syntax is not one drapto rewrites: read here,
    before any encode, such a film keeps its bars (and a given crop is refused)."""
    facts = Probe.read(probe)
    v = facts.video
    width, height = v.width, v.height
    hdr = v.hdr.is_hdr
    if mode == "off":
        record = Crop(mode, width, height, None, "crop=off")
    elif mode != "auto":
        record = Crop(mode, width, height, rect_of(parse_manual(mode, width, height)),
                      "given by crop=")
    else:
        # Limits are given in 8-bit (SDR) and 10-bit (HDR) code values; cropdetect takes a
        # fraction of the range, whatever the source's bit depth.
        limit = limit_hdr / 1023 if hdr else limit_sdr / 255
        duration = (v.duration_us or facts.duration_us) / 1e6
        times = sample_times(duration, samples)
        found = None
        video = (decoder_options(facts.decoder), facts.video_index)
        if duration <= ONE_PASS_S:
            # A sample past the last frame leaves its output empty, which FFmpeg counts a
            # failure: then each sample is sought as for a long file.
            try:
                found = detect_in_one_pass(source, times, limit, video)
            except DraptoError:
                if proc.stopping():
                    raise
        if found is None:
            found = [detect_sample(source, t, limit, video) for t in times]
        if not any(found):  # a stream that cannot be seeked (raw HEVC): read from the start
            times, found = [0.0], [detect_sample(source, None, limit, video)]
        record = detected(mode, width, height, decide(found, width, height), limit,
                          [{"at_s": round(t, 3), "rect": r}
                           for t, r in zip(times, found, strict=True)])
    why = (dovi.unrewritable(source, v.format, target)
           if record.rect and kept_dolby_vision(v, dolby_vision) else None)
    if why and mode != "auto":
        raise DraptoError(f"crop={mode}: {source} is Dolby Vision whose RPUs drapto cannot "
                          f"rewrite ({why}), so their active area would describe the bars "
                          "cropped away; use dolby_vision=off to crop it")
    if why:  # detected, said, not applied
        record = replace(record, would_crop=record.rect, rpu_kept=True, rect=None,
                         reason=f"Dolby Vision kept, and its RPUs' syntax ({why}) is not one "
                                f"drapto rewrites (detection: {record.reason})")
    record.write(target)


def detected(mode: str, width: int, height: int, vote: dict[str, Any], limit: float,
             samples: list[dict[str, Any]]) -> Crop:
    """The record of a detection: :func:`decide`'s *vote* and the *samples* it was made
    from (their times and rectangles, the evidence for people)."""
    evidence = {k: v for k, v in vote.items() if k not in ("crop", "reason")}
    return Crop(mode, width, height, rect_of(vote["crop"]), vote["reason"],
                evidence={**evidence, "limit": round(limit, 6), "samples": samples})


def task(job: Job, before: Mapping[str, Task]) -> Task:
    s = job.settings
    return make_task(job, KIND, None, run_crop,
                     {"source": job.source, "probe": job.work.probe, "target": job.work.crop,
                      "mode": s.crop, "samples": s.crop_samples, "limit_sdr": s.crop_limit,
                      "limit_hdr": s.crop_limit_hdr, "dolby_vision": s.dolby_vision},
                     [before[PROBE.name]], KIND.doc, SCHEMA)


KIND = Kind("crop", 0,
            "crop.json: letterbox/pillarbox crop (FFmpeg cropdetect on samples), or none.",
            early=task)


def moves_dolby_vision(up: Upstream) -> bool:
    """Whether a crop would move the active area of the film's Dolby Vision RPUs: the
    output keeps them and the picture keeps one size (then the bars are cropped as
    crop.json says, known only once it is made: :func:`cut_of`)."""
    video = Video.of(up.job.settings, up.probe, up.scenes)
    return kept_dolby_vision(up.probe.video, up.job.settings.dolby_vision) and not (
        video.picture and video.picture.resized)


def cut_of(crop: Crop) -> tuple[int, int, int, int] | None:
    """What a crop takes from the left, right, top and bottom, or None without one."""
    if not crop.rect:
        return None
    w, h, x, y = crop.rect
    return x, crop.width - w - x, y, crop.height - h - y
