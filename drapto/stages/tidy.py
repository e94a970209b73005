"""tidy: after a finished, validated encode, the work folder's bulky intermediates (encoded
segments, audio tracks, the joined video) are removed, their stamps kept as *stowed*: the
output holds their content, and a re-mux takes them back from it. Encoded segments of an
earlier segmentation (another scene setting), which the output does not hold, go too.
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
    names = [f"encode:{i:04d}" for i in range(len(up.scenes["segments"]))]
    names += [f"audio:{t['index']}" for t in audio(up.probe, job.settings)]
    bulky = [(up.get(name)["meta"]["stamp"], up.get(name)["meta"]["target"])
             for name in [*names, "concat"]]
    keep = job.settings.keep_work == "yes"
    current = {path for _, path in bulky}

    def stale() -> list[Path]:
        return [p for p in job.work.path.glob("encoded/*.mkv") if p not in current]

    def tidy() -> None:
        for stamp, path in bulky:
            stow(stamp, path)
        for path in stale():
            path.unlink(missing_ok=True)

    return {"basename": "tidy", **({"name": job.tag} if job.tag else {}),
            "actions": [] if keep else [tidy],
            "uptodate": [lambda: keep or not (any(p.exists() for p in current) or stale())],
            "task_dep": [tagged(job, "report")], "doc": DOC}
