"""tidy: after a finished, validated encode, the work folder's bulky intermediates (encoded
segments, audio tracks, the joined video) are removed, their stamps kept as *stowed*: the
output holds their content, and a re-mux takes them back from it. The calibration's samples
stay (the size decision and the searches start from them). Encoded segments of an earlier
segmentation (another scene setting), which the output does not hold, go too.
keep_work=yes keeps everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.media.tracks import audio
from drapto.stages.audio import KIND as AUDIO
from drapto.stages.concat import KIND as CONCAT
from drapto.stages.report import KIND as REPORT
from drapto.work.graph import Building, Kind, Task, kind_of, stamp_path, tagged, target_of, watched
from drapto.work.workdir import stow


def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    job = up.job

    def role(t: Task) -> str | None:
        kind = kind_of(t)
        return kind.per_segment if kind else None
    # Encoded segments go; a calibration sample stays: the size decision and the searches
    # start from it.
    encodes = [t for t in up.made.values() if role(t) in ("first", "again")]
    samples = {target_of(t) for t in up.made.values() if role(t) == "calibration"}
    names = [AUDIO.named(t.index) for t in audio(up.probe, job.settings)]
    bulky = [(stamp_path(t), target_of(t))
             for t in [*encodes, *(up.get(name) for name in [*names, CONCAT.name])]]
    keep = job.settings.keep_work == "yes"
    current = {path for _, path in bulky}

    def stale() -> list[Path]:
        return [p for folder in ("encoded", "calibration", "balanced")
                for p in job.work.path.glob(f"{folder}/*.mkv")
                if p not in current and p not in samples]

    def tidy() -> None:
        for stamp, path in bulky:
            stow(stamp, path)
        for path in stale():
            path.unlink(missing_ok=True)

    yield {"basename": KIND.name, **({"name": job.tag} if job.tag else {}),
           "actions": [] if keep else [watched(job, KIND, tidy)],
           "uptodate": [lambda: keep or not (any(p.exists() for p in current) or stale())],
           "task_dep": [tagged(job, REPORT.name)], "doc": KIND.doc, "meta": {"kind": KIND}}


KIND = Kind("tidy", 3,
            "tidy: the work folder's bulky intermediates removed after a finished encode "
            "(keep_work=yes keeps them).", make=tasks)
