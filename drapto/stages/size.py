"""size.json: the film's size decision, made once from the calibration, before the bulk of
the encodes (drapto/quality/film.py): encode at the target, encode at a lowered target, or skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.media.records import SegmentRecord, SizeDecision
from drapto.quality import film
from drapto.quality.policy import Quality
from drapto.stages import scenes
from drapto.stages.calibration import SAMPLE, size_sample
from drapto.stages.segments import segment_ids
from drapto.work.graph import Building, Kind, Task, Upstream, make_task, tagged
from drapto.work.job import Job

SCHEMA = SizeDecision.SCHEMA


def run_size(records: list[Path], target_vmaf: float, max_encoded_percent: float,
             over_cap: str, crf_min: float, crf_max: float, target: Path) -> None:
    curves = [film.Curve.of(r) for r in map(SegmentRecord.read, records)
              if r.scored and r.scored.search.finals]
    film.decide_size(curves, target_vmaf, max_encoded_percent, over_cap, crf_min,
                     crf_max).write(target)


def tasks(b: Building) -> Iterator[Task]:
    """size (a step without action without quality targeting: the later stages wait on it)."""
    up = b.up
    job, s = up.job, up.job.settings
    sample = size_sample(up)
    if not sample:
        yield up.step(KIND, [tagged(job, scenes.KIND.name)])
        return
    ids = segment_ids(up.scenes)
    yield up.add(make_task(
        job, KIND, None, run_size,
        {"records": [job.work.sample(ids[i]).with_suffix(".json") for i in sample],
         "target_vmaf": Quality.of(s, up.probe.video).target_vmaf,
         "max_encoded_percent": s.max_encoded_percent, "over_cap": s.over_cap,
         "crf_min": s.crf_min, "crf_max": s.crf_max, "target": job.work.size},
        [up.get(SAMPLE.at(i)) for i in sample], KIND.doc, SCHEMA))


def film_target(up: Upstream) -> float | None:
    """The target the film's segments are encoded at (size.json: the asked one, or the
    lowered one); None without quality targeting."""
    if up.job.settings.quality != "vmaf":
        return None
    return float(SizeDecision.read(up.job.work.size).target)


def skips(job: Job) -> bool:
    """Whether size.json says the film is not encoded (over the cap, over_cap=skip)."""
    d = decision(job)
    return bool(d and d.skips)


def decision(job: Job) -> SizeDecision | None:
    """size.json, when quality targeting made one for this job (None: not yet, or none)."""
    if job.settings.quality != "vmaf":
        return None
    try:
        return SizeDecision.read(job.work.size)
    except (OSError, ValueError, KeyError):
        return None


def skip_line(job: Job, d: SizeDecision) -> str:
    """The one line that says why a film was not encoded."""
    return (f"{job.source}: not encoded: at VMAF {d.asked:g} its AV1 video would take "
            f"~{d.predicted_percent or 0:.0f} % of the source's (cap "
            f"{d.cap_percent:g} %): already compact; max_encoded_percent=0 encodes it "
            "anyway, over_cap=lower at a lower target")


def lowered_line(d: SizeDecision) -> str | None:
    """The summary's line for a film whose target was lowered to meet the cap."""
    if d.target == d.asked:
        return None
    met = "" if d.cap_met else " (the cap cannot be met even at crf_max)"
    return (f"target lowered to VMAF {d.target:g} (asked {d.asked:g}): at the asked "
            f"target the video would take ~{d.predicted_percent or 0:.0f} % of the source's, "
            f"over the cap of {d.cap_percent:g} % (over_cap=lower){met}")


KIND = Kind("size", 1,
            "size.json: the film's AV1 video predicted from the calibration against the "
            "source's, and what over_cap decides when it is over max_encoded_percent.",
            make=tasks, decides=True, stops=skips)
