"""The calibration: sample:N, the segments the size decision is made from (the lead first,
searched from the defaults, then the others from where it crossed the target);
calibration:N, the further ones once the film is to be encoded; and calibrate, which makes
calibration.json, where every other segment's search starts (drapto/quality/search.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from drapto.quality import search
from drapto.quality.search import AfterLead, FromDefaults
from drapto.stages.segment_task import encode_task, video_of
from drapto.stages.segments import segment_ids
from drapto.work.graph import Building, Kind, Task, Upstream, make_task, record_of


def base_sample(up: Upstream) -> list[int]:
    """The first calibration segments: calibration_segments of them spread over the film,
    the lead and the size decision among them (none without quality targeting)."""
    s = up.job.settings
    if s.quality != "vmaf":
        return []
    return search.calibration_indices([seg.frames for seg in up.scenes.segments],
                                      s.calibration_segments)


def calibration_sample(up: Upstream) -> list[int]:
    """The segments the film is calibrated on: the first ones and, on a long film, a
    segment in SEGMENTS_PER_SAMPLE more, spread over it (:func:`drapto.search.wave_size`)."""
    base = base_sample(up)
    if not base:
        return []
    frames = [seg.frames for seg in up.scenes.segments]
    more = search.calibration_indices(
        frames, search.wave_size(len(frames), up.job.settings.calibration_segments))
    return sorted({*base, *more})


def size_sample(up: Upstream) -> list[int]:
    """The calibration segments the size decision is made from (layer 1: sample:N); the
    others (calibration:N) are encoded only once it lets the film be encoded."""
    return search.size_indices(base_sample(up))


def _sample_task(b: Building, kind: Kind, i: int, lead: Task | None) -> Task:
    """Calibration segment *i*'s encode, after the *lead*'s (None: it is the lead, or alone)."""
    up = b.up
    solo = lead is None and len(calibration_sample(up)) > 1
    return encode_task(up, kind, i, up.job.work.sample(segment_ids(up.scenes)[i]),
                       video_of(up), b.threads, f"calibration encode of segment {i:04d}"
                       + (" (the lead)" if solo else ""),
                       AfterLead(record_of(lead)) if lead else FromDefaults(),
                       [lead] if lead else [])


def sample_tasks(b: Building) -> Iterator[Task]:
    """With quality targeting: sample:N for the calibration segments the size decision is
    made from. The lead (search.calibration_lead) is searched first, alone; the others
    start from where it crossed the target."""
    up = b.up
    lead = search.calibration_lead(base_sample(up))
    first = None if lead is None else _sample_task(b, SAMPLE, lead, None)
    if first:
        yield first
    for i in size_sample(up):
        if i != lead:
            yield _sample_task(b, SAMPLE, i, first)


def more_tasks(b: Building) -> Iterator[Task]:
    """With quality targeting, once the size decision lets the film be encoded:
    calibration:N for the calibration segments it was not made from."""
    up = b.up
    lead = search.calibration_lead(base_sample(up))
    first = None if lead is None else up.get(SAMPLE.at(lead))
    decided = set(size_sample(up))
    yield from (_sample_task(b, MORE, i, first) for i in calibration_sample(up)
                if i not in decided)


def calibrate_tasks(b: Building) -> Iterator[Task]:
    """calibrate: calibration.json from every calibration segment's record."""
    up = b.up
    sample = calibration_sample(up)
    if not sample:
        return
    yield up.add(make_task(up.job, CALIBRATE, None, search.run_calibration,
                           {"records": [up.job.work.sample(segment_ids(up.scenes)[i])
                                        .with_suffix(".json") for i in sample],
                            "target": up.job.work.calibration,
                            "film_frames": up.scenes.frames},
                           [sample_task(up, i) for i in sample], CALIBRATE.doc,
                           search.SCHEMA))


def sample_task(up: Upstream, i: int) -> Task:
    """Calibration segment *i*'s task: sample:N or calibration:N."""
    return up.get(SAMPLE.at(i)) if up.has(SAMPLE.at(i)) else up.get(MORE.at(i))


SAMPLE = Kind(
    "sample", 1,
    "sample:N: a calibration segment the size decision is made from, searched from the "
    "defaults (the lead) or from where the lead crossed the target.",
    make=sample_tasks, per_segment="calibration")
MORE = Kind(
    "calibration", 2,
    "calibration:N: a further calibration segment, searched from where the lead crossed "
    "the target, once the size decision lets the film be encoded.",
    make=more_tasks, per_segment="calibration")
CALIBRATE = Kind(
    "calibrate", 2,
    "calibration.json: where the quality search of the film's segments starts, from the "
    "calibration segments.", make=calibrate_tasks)
