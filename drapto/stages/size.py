"""size.json: the film's size decision, made once from the calibration, before the bulk of
the encodes (drapto/film.py): encode at the target, encode at a lowered target, or skip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import film
from ..encoding import Quality
from ..graph import Task, Upstream, make_task, tagged
from ..job import Job
from ..records import SegmentRecord
from ..workdir import read_json, write_json
from .encode import size_sample
from .segments import segment_ids

SCHEMA = 1
DOC = ("size.json: the film's AV1 video predicted from the calibration against the "
       "source's, and what over_cap decides when it is over max_encoded_percent.")


def run_size(records: list[Path], target_vmaf: float, max_encoded_percent: float,
             over_cap: str, crf_min: float, crf_max: float, target: Path) -> None:
    curves = [film.Curve.of(r) for r in map(SegmentRecord.read, records)
              if r.scored and r.scored.search.finals]
    write_json(target, {"schema": SCHEMA, **film.decide_size(
        curves, target_vmaf, max_encoded_percent, over_cap, crf_min, crf_max)})


def task(up: Upstream) -> Task:
    """size (a step without action without quality targeting: the later stages wait on it)."""
    job, s = up.job, up.job.settings
    sample = size_sample(up)
    if not sample:
        return up.step("size", [tagged(job, "scenes")], DOC)
    ids = segment_ids(up.scenes)
    return up.add(make_task(
        job, "size", None, run_size,
        {"records": [job.work.sample(ids[i]).with_suffix(".json") for i in sample],
         "target_vmaf": Quality.of(s, up.probe.video).target_vmaf,
         "max_encoded_percent": s.max_encoded_percent, "over_cap": s.over_cap,
         "crf_min": s.crf_min, "crf_max": s.crf_max, "target": job.work.size},
        [up.get(f"sample:{i:04d}") for i in sample], DOC, SCHEMA))


def decision(job: Job) -> dict[str, Any] | None:
    """size.json, when quality targeting made one for this job (None: not yet, or none)."""
    if job.settings.quality != "vmaf":
        return None
    try:
        data: dict[str, Any] = read_json(job.work.size)
    except (OSError, ValueError):
        return None
    return data


def skip_line(job: Job, d: dict[str, Any]) -> str:
    """The one line that says why a film was not encoded."""
    return (f"{job.source}: not encoded: at VMAF {d['asked']:g} its AV1 video would take "
            f"~{d['predicted_percent']:.0f} % of the source's (cap "
            f"{d['cap_percent']:g} %): already compact; max_encoded_percent=0 encodes it "
            "anyway, over_cap=lower at a lower target")


def lowered_line(d: dict[str, Any]) -> str | None:
    """The summary's line for a film whose target was lowered to meet the cap."""
    if d.get("target") == d.get("asked"):
        return None
    met = "" if d.get("cap_met") else " (the cap cannot be met even at crf_max)"
    return (f"target lowered to VMAF {d['target']:g} (asked {d['asked']:g}): at the asked "
            f"target the video would take ~{d['predicted_percent']:.0f} % of the source's, "
            f"over the cap of {d['cap_percent']:g} % (over_cap=lower){met}")
