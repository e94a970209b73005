"""The pipeline, one module per artifact, declared once in :data:`PIPELINE`: each kind of
task with its layer, its doc line (what it makes, first), the function that makes its
tasks and whether the next layer waits for its decision. Each stage's module owns its
artifact: the action that makes it, its task (the key derived from the action's arguments
by :func:`drapto.work.graph.make_task`) and its Kind.

Layer 0 (probe, crop, scenes) exists from the start; layer 1 (the calibration the size is
decided from, size) once scenes.json is; layer 2 (the rest of the calibration, the
encodes, audio, HDR10+, balance) once size.json is, unless the film is skipped; layer 3
(the adjusted encodes, the join, the output, validation, the report, tidy) once
balance.json is. Each later layer's tasks are made from what the earlier ones wrote as
values: a setting that leaves a decision as it was leaves every encode after it as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

from drapto.stages import (
    audio,
    balance,
    calibration,
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
from drapto.work import outputs
from drapto.work.graph import (
    Building,
    Kind,
    Task,
    Upstream,
    done,
    key_of,
    stamp_of,
    tagged,
    upstream,
)
from drapto.work.job import Job
from drapto.work.workdir import file_state

# The pipeline, declared once: every kind of task, in the order its tasks are made (and
# listed). doit's creators (drapto/tasks.py), the layers, ``doit list`` and the run's
# summary are all read from it.
PIPELINE: tuple[Kind, ...] = (
    probe.KIND, crop.KIND, scenes.KIND,
    calibration.SAMPLE, size.KIND,
    calibration.MORE, calibration.CALIBRATE, encode.ENCODE, audio.KIND, hdr10plus.KIND,
    balance.KIND,
    encode.ADJUST, concat.KIND, mux.KIND, validate.KIND, report.KIND, tidy.KIND,
)


def kinds(layer: int) -> list[Kind]:
    """The kinds of *layer*, in order."""
    return [k for k in PIPELINE if k.layer == layer]


def layers() -> int:
    """How many layers follow scene detection."""
    return max(k.layer for k in PIPELINE)


def decider(layer: int) -> Kind:
    """The kind of *layer* whose run the next layer waits for."""
    found = [k for k in kinds(layer) if k.decides]
    assert len(found) == 1, f"layer {layer} must have one deciding kind, not {found}"
    return found[0]


def segment_kinds() -> list[Kind]:
    """The kinds with one task per segment (asked for by number: encode:0003)."""
    return [k for k in PIPELINE if k.per_segment]


def early(job: Job) -> list[Task]:
    """The tasks that exist before scene detection, in order (probe, crop, scenes)."""
    made: dict[str, Task] = {}
    for k in kinds(0):
        assert k.early is not None, k.name
        made[k.name] = k.early(job, made)
    return list(made.values())


_Built = tuple[Upstream | None, list[list[Task]]]
# The layers made for a job, by the state of the files they are made from: a run makes
# them once per state (each creator and each stowed check asks).
_BUILT: dict[tuple[int, int, tuple[tuple[int, ...], ...]], tuple[Job, _Built]] = {}


def _marks(job: Job) -> tuple[tuple[int, ...], ...]:
    """The state of the stamps the layers are made from: the early tasks' and each
    decision's."""
    return tuple(file_state(stamp_of(job, k.name)) for k in PIPELINE
                 if k.layer == 0 or k.decides)


def _layers(job: Job, threads: int | None, upto: int) -> _Built:
    """The tasks of the layers after scene detection, up to *upto*, each made from what
    the layer before it wrote: none of a layer whose decision is not made yet, or after a
    film is stopped (skipped). *threads* None: whichever threads a build of this state was
    made with (a question about the files, not the actions)."""
    marks = _marks(job)
    if threads is None:
        threads = next((t for (j, t, m), (held, _) in _BUILT.items()
                        if j == id(job) and m == marks and held is job), 1)
    key = (id(job), threads, marks)
    cached = _BUILT.get(key)
    if cached is None or cached[0] is not job:  # the job is kept: its id stays its own
        cached = _BUILT[key] = (job, _make_layers(job, threads))
    up, made = cached[1]
    return up, made[:upto]


def _decided(up: Upstream, kind: Kind) -> bool:
    """Whether the decision *kind* makes is there to build on: its task is done (a step
    without action, in a mode that makes no such decision, waits in doit itself), and it
    does not stop the film."""
    task = up.get(kind.name)
    if task.get("actions") and not done(task):
        return False
    return not (kind.stops and kind.stops(up.job))


def _make_layers(job: Job, threads: int) -> _Built:
    up = upstream(job, early(job))
    made: list[list[Task]] = []
    if up is None:
        return None, made
    b = Building(up, threads, _Held(job), lambda: _muxed(up))
    for n in range(1, layers() + 1):
        if n > 1 and not _decided(up, decider(n - 1)):
            break
        made.append([t for k in kinds(n) if k.make for t in k.make(b)])
    return up, made


def layer(job: Job, threads: int, n: int) -> list[Task]:
    """The tasks of layer *n* (1: the calibration the size decision is made from, and it;
    2: the encodes, audio and the balance; 3: the adjusted encodes, the join, the output
    and what follows it)."""
    _, made = _layers(job, threads, n)
    return made[n - 1] if len(made) >= n else []


def late(job: Job, threads: int) -> Iterator[Task]:
    """Every task after scene detection whose layer can be made now."""
    _, made = _layers(job, threads, layers())
    for tasks in made:
        yield from tasks


def skipped(job: Job) -> bool:
    """Whether a decision, for this run's calibration, says the film is not encoded."""
    up, made = _layers(job, None, 1)
    if up is None or not made:
        return False
    return any(k.stops(job) and up.has(k.name) and done(up.get(k.name))
               for k in PIPELINE if k.stops and k.layer == 1)


def _muxed(up: Upstream) -> bool:
    """Whether the output is the file this run's mux made: then it holds this run's video
    and audio, known without reading the file."""
    return outputs.made_here(up.made.get(tagged(up.job, mux.KIND.name)))


class _Held:
    """:func:`holds_video` for the encodes of one build, asked again only when the mux
    stamp or the output changed: each of a film's hundreds of stowed checks asks."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.paths = (str(stamp_of(job, mux.KIND.name)), str(job.output))
        self.answers: dict[tuple[tuple[int, ...], ...], bool] = {}

    def __call__(self) -> bool:
        states = tuple(file_state(p) for p in self.paths)
        if states not in self.answers:
            self.answers[states] = holds_video(self.job)
        return self.answers[states]


def holds_video(job: Job) -> bool:
    """Whether the output holds the video this run would join (concat's key): then every
    encoded segment, and the joined video, may be stowed."""
    up, made = _layers(job, None, layers())
    if up is None or len(made) < layers():
        return False
    return _muxed(up) or key_of(up.get(concat.KIND.name)) in outputs.holds(job)["video"]
