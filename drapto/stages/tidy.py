"""tidy: after a finished, validated encode, the work folder's bulky intermediates (encoded
segments, audio tracks, the joined video) are removed, their stamps kept as *stowed*: the
output holds their content, and a re-mux takes them back from it. The calibration's samples
stay (the size decision and the searches start from them). Encoded segments of an earlier
segmentation (another scene setting), which the output does not hold, go too.
keep_work=yes keeps everything."""

from __future__ import annotations

from pathlib import Path

from ..graph import Task, Upstream, tagged
from ..tracks import audio
from ..workdir import stow

DOC = ("tidy: the work folder's bulky intermediates removed after a finished encode "
       "(keep_work=yes keeps them).")


def task(up: Upstream) -> Task:
    job = up.job
    encodes = [t for name, t in up.made.items()
               if name.split(":")[0] in ("encode", "adjust")]
    names = [f"audio:{t.index}" for t in audio(up.probe, job.settings)]
    bulky = [(t["meta"]["stamp"], t["meta"]["target"])
             for t in [*encodes, *(up.get(name) for name in [*names, "concat"])]]
    keep = job.settings.keep_work == "yes"
    # A calibration sample stays: the size decision and the searches start from it.
    samples = {t["meta"]["target"] for name, t in up.made.items()
               if name.split(":")[0] in ("sample", "calibration")}
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

    return {"basename": "tidy", **({"name": job.tag} if job.tag else {}),
            "actions": [] if keep else [tidy],
            "uptodate": [lambda: keep or not (any(p.exists() for p in current) or stale())],
            "task_dep": [tagged(job, "report")], "doc": DOC}
