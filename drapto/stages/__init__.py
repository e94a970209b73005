"""The pipeline, one module per artifact, in order. Each module owns its artifact: the
action that makes it, the task (its key derived from the action's arguments by
:func:`drapto.graph.make_task`) and its text for ``doit list``.

    probe      probe.json       what the input holds (MediaInfo)
    crop       crop.json        the crop rectangle, or none, with the evidence
    scenes     scenes.json      scene cuts and segment boundaries, stream spans
    -- made once scenes.json is (first):
    encode     sample:N         the calibration segments the size is predicted from: the
                                lead, searched from the defaults, then the others from it
    size       size.json        the film's size predicted from them: encode, encode at a
                                lowered target, or skip
    -- made once size.json is, unless the film is skipped (second):
    encode     calibration:N    the other calibration segments, from the lead
               calibrate        calibration.json, where the other segments' searches start
    encode     encode:N         each other segment's AV1 encode, searched to the target
    audio      audio:N          each kept audio track, Opus or copied
    hdr10plus  hdr10plus.t35    each frame's HDR10+ metadata from the source (HEVC HDR10+)
    balance    balance.json     the segments to encode again for the film's mean VMAF
    -- made once balance.json is (third):
    encode     adjust:N         those segments encoded again
    concat     video.mkv        the encoded segments joined
    mux        the output       video, audio, subtitles, chapters, attachments, tags
    validate   validation.json  the output checked against the source
    report     report.json      figures per segment and overall (and report.html)
    tidy                        the bulky intermediates removed once the output holds them

Each later layer's tasks are made from what the earlier ones wrote (size.json, balance.json)
as values: a setting that leaves a decision as it was leaves every encode after it as it
was.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import outputs
from ..graph import Task, Upstream, done, stamp_of, upstream
from ..job import Job
from ..workdir import file_state, read_json
from . import (
    audio,
    balance,
    concat,
    crop,
    encode,
    hdr10plus,
    mux,
    probe,
    report,
    scenes,
    size,
    tidy,
    validate,
)


def early(job: Job) -> list[Task]:
    """The tasks that exist before scene detection, in order: probe, crop, scenes."""
    p = probe.task(job)
    return [p, crop.task(job, p), scenes.task(job, p)]


LAYERS = 3


_Built = tuple[Upstream | None, list[list[Task]]]
# The layers made for a job, by the state of the files they are made from: a run makes
# them once per state (each creator and each stowed check asks).
_BUILT: dict[tuple[int, int, tuple[tuple[int, ...], ...]], tuple[Job, _Built]] = {}


def _layers(job: Job, threads: int | None, upto: int) -> _Built:
    """The tasks of the layers after scene detection, up to *upto* (1 to 3), each made from
    what the layer before it wrote: none of a layer whose decision is not made yet, or
    after a skip. *threads* None: whichever threads a build of this state was made with
    (a question about the files, not the actions)."""
    marks = tuple(file_state(stamp_of(job, n)) for n in ("probe", "scenes", "size", "balance"))
    if threads is None:
        threads = next((t for (j, t, m), (held, _) in _BUILT.items()
                        if j == id(job) and m == marks and held is job), 1)
    key = (id(job), threads, marks)
    cached = _BUILT.get(key)
    if cached is None or cached[0] is not job:  # the job is kept: its id stays its own
        cached = _BUILT[key] = (job, _make_layers(job, threads))
    up, made = cached[1]
    return up, made[:upto]


def _make_layers(job: Job, threads: int) -> _Built:
    up = upstream(job, early(job))
    made: list[list[Task]] = []
    if up is None:
        return None, made
    made.append([*encode.sample_tasks(up, threads), size.task(up)])
    decided = size.decision(job)
    if not (job.settings.quality != "vmaf" or done(up.get("size"))) or (
            decided and decided["action"] == "skip"):
        return up, made
    stowed = _Held(job)
    made.append([*encode.calibration_tasks(up, threads), *encode.tasks(up, threads, stowed),
                 *audio.tasks(up), *hdr10plus.tasks(up), balance.task(up)])
    if not (job.settings.quality != "vmaf" or done(up.get("balance"))):
        return up, made
    adjusted = read_json(job.work.balance) if job.settings.quality == "vmaf" else None
    made.append([*(encode.adjust_tasks(up, threads, adjusted, stowed) if adjusted else []),
                 *concat.tasks(up), mux.task(up), validate.task(up), report.task(up),
                 tidy.task(up)])
    return up, made


def layer(job: Job, threads: int, n: int) -> list[Task]:
    """The tasks of layer *n* (1: segments, calibration and size; 2: the encodes, audio and
    balance; 3: the adjusted encodes, the join, the output and what follows it)."""
    _, made = _layers(job, threads, n)
    return made[n - 1] if len(made) >= n else []


def late(job: Job, threads: int) -> Iterator[Task]:
    """Every task after scene detection whose layer can be made now."""
    _, made = _layers(job, threads, LAYERS)
    for tasks in made:
        yield from tasks


def skipped(job: Job) -> bool:
    """Whether size.json, for this run's calibration, says the film is not encoded."""
    up, made = _layers(job, None, 1)
    if up is None or not made or job.settings.quality != "vmaf":
        return False
    d = size.decision(job)
    return bool(d and d["action"] == "skip" and done(up.get("size")))


class _Held:
    """:func:`holds_video` for the encodes of one build, asked again only when the mux
    stamp or the output changed: each of a film's hundreds of stowed checks asks."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.paths = (str(stamp_of(job, "mux")), str(job.output))
        self.answers: dict[tuple[tuple[int, ...], ...], bool] = {}

    def __call__(self) -> bool:
        states = tuple(file_state(p) for p in self.paths)
        if states not in self.answers:
            self.answers[states] = holds_video(self.job)
        return self.answers[states]


def holds_video(job: Job) -> bool:
    """Whether the output holds the video this run would join (concat's key): then every
    encoded segment may be stowed."""
    up, made = _layers(job, None, LAYERS)
    return up is not None and len(made) == LAYERS and outputs.holds_video(up)
