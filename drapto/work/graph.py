"""The pipeline as a graph of doit tasks: one target each, up to date by stamps.

Every task carries a *key*, derived by :func:`make_task` from exactly what its action is
handed (its keyword arguments) and the keys of the tasks it depends on, so a key cannot
leave out something its action reads. Files an action reads are its dependencies' targets:
their content is in those tasks' keys. A task is up to date when its stamp holds its key
and its target is the file stamped (:mod:`drapto.work.workdir`); doit's own database is never
consulted, so resume works after kill -9 and a no-op rerun hashes nothing but settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from drapto.errors import DraptoError
from drapto.files import make_key
from drapto.media.records import Probe, Record, Scenes
from drapto.work.job import Job, Plan
from drapto.work.ledger import Watch
from drapto.work.workdir import is_done, mark_done

Task = dict[str, Any]   # doit's form of a task; read its parts through the functions below


@dataclass(frozen=True)
class Kind:
    """One kind of task of the pipeline, declared once (drapto/stages/__init__.py: PIPELINE
    lists them in order): what doit's creators, ``doit list``, the layers and the run's
    summary all read.

    *layer* 0 kinds exist from the start (*early* makes the one task of a job, from the
    tasks made before it by kind name); a kind of layer n >= 1 is made (*make*, from a
    :class:`Building`) once the *decides* kind of layer n - 1 is done, unless its *stops*
    says the film goes no further. *per_segment*: one task per segment, asked for by number
    (encode:0003), ``calibration`` (a calibration sample), ``first`` (a segment's first
    encode) or ``again`` (encoded again for the film's mean)."""
    name: str
    layer: int
    doc: str              # for doit list: what it makes, first
    make: Callable[[Building], Iterable[Task]] | None = None
    early: Callable[[Job, Mapping[str, Task]], Task] | None = None
    decides: bool = False
    stops: Callable[[Job], bool] | None = None
    per_segment: str | None = None
    reports: bool = False  # the job's last word: once it is made, the file's run is recorded
    # Without input= (doit list, doit report): the kind's one task; None: a task that only
    # shows the doc.
    alone: Callable[[Alone], Task] | None = None

    def at(self, i: int) -> str:
        """The untagged name of this kind's task for segment *i*: encode:0003."""
        return f"{self.name}:{i:04d}"

    def named(self, sub: object) -> str:
        """The untagged name of this kind's subtask *sub*: audio:1."""
        return f"{self.name}:{sub}"


@dataclass(frozen=True)
class Alone:
    """What a run without input= has: a job file's plan (jobs=, else None), the work root,
    and whether a job's film is skipped by its size decision."""
    plan: Plan | None
    work_root: Path
    skipped: Callable[[Job], bool]


@dataclass(frozen=True)
class Building:
    """What a later layer's kinds are made from: the facts read once (*up*), the threads
    each encode runs with, and whether the output holds the video this run would join
    (asked again only when the output or the mux stamp changed)."""
    up: Upstream
    threads: int
    stowed: Callable[[], bool]
    muxed: Callable[[], bool]   # whether the output is the file this run's mux made


def kind_of(task: Task) -> Kind | None:
    """The kind a task was made as (None: a task made by hand, such as tidy)."""
    kind = task.get("meta", {}).get("kind")
    return kind if isinstance(kind, Kind) else None


def target_of(task: Task) -> Path:
    """The file a task writes."""
    return Path(task["meta"]["target"])


def record_of(task: Task) -> Path:
    """The record beside an encode task's target (its .json)."""
    return target_of(task).with_suffix(".json")


def stamp_path(task: Task) -> Path:
    """The stamp that says a task is done."""
    return Path(task["meta"]["stamp"])


def tagged(job: Job, name: str) -> str:
    """A task's full name: in a batch, the file's tag follows the basename (encode:film:0003,
    probe:film); alone, the plain name (encode:0003, probe)."""
    if not job.tag:
        return name
    base, _, sub = name.partition(":")
    return f"{base}:{job.tag}:{sub}" if sub else f"{base}:{job.tag}"


def stamp_of(job: Job, name: str) -> Path:
    """The stamp of task *name* (untagged: ``encode:0003``) in the job's work folder, named
    the same however the film is run (alone, in a batch or a job file), so each way finds
    the others' work. A stamp a batch wrote under its tagged name before is taken over."""
    stamp = job.work.stamp(name)
    if job.tag and not stamp.exists():
        legacy = job.work.stamp(tagged(job, name))
        with contextlib.suppress(FileNotFoundError):
            legacy.replace(stamp)
    return stamp


# _keyed of frozen dataclasses, by identity (job, value): every segment's encode task hands
# the same Video and Crop, and converting them for each task was most of a no-op's time.
_KEYED: dict[tuple[int, int], tuple[Job, Any, Any]] = {}
_PLAIN = (str, int, float, bool)


def _keyed(job: Job, value: Any) -> Any:
    """*value* as it enters a key: the input as its content fingerprint (a moved, renamed or
    touched film redoes nothing), a path in the work folder relative to it (the folder is
    found by the input's content), any other path as it is; a record (drapto/media/records.py)
    as its JSON."""
    if value is None or type(value) in _PLAIN:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and \
            type(value).__dataclass_params__.frozen:  # type: ignore[attr-defined]
        hit = _KEYED.get((id(job), id(value)))
        if hit is None or hit[0] is not job or hit[1] is not value:
            if len(_KEYED) > 4096:
                _KEYED.clear()
            hit = _KEYED[id(job), id(value)] = (job, value, _keyed_new(job, value))
        return hit[2]
    return _keyed_new(job, value)


def _keyed_new(job: Job, value: Any) -> Any:
    """:func:`_keyed`, made anew."""
    if isinstance(value, Path):
        text, root = str(value), str(job.work.path)
        if text == str(job.source):
            return f"<input {job.work.fingerprint}>"
        if text.startswith(root) and text[len(root):len(root) + 1] in ("/", ""):
            return f"<work>/{text[len(root) + 1:] or '.'}"
        return text
    if isinstance(value, Record):
        return _keyed(job, value.to_json())
    if hasattr(value, "key_json"):
        return _keyed(job, value.key_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _keyed(job, dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _keyed(job, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_keyed(job, v) for v in value]
    return value


def task_key(job: Job, basename: str, schema: int, kwargs: dict[str, Any],
             deps: Iterable[Task], unkeyed: Iterable[str] = ()) -> str:
    """The one key function: the stage, its schema, every argument of its action but those
    named *unkeyed* (where the work runs, how many threads: never the bytes), and the keys
    of its dependencies."""
    skip = set(unkeyed)
    args: dict[str, Any] = {}
    for k, v in kwargs.items():
        # A value standing for several arguments (a search's start) is keyed as them.
        spread = v.key_fields() if hasattr(v, "key_fields") else {k: v}
        args.update((name, _keyed(job, value)) for name, value in spread.items()
                    if name not in skip)
    return make_key(basename, schema, args, sorted(key_of(d) for d in deps))


def key_of(task: Task) -> str:
    return str(task["meta"]["key"])


def full_name(task: Task) -> str:
    return str(task["meta"]["task"])


def _action(name: str, stamp: Path, key: str, target: Path, fn: Callable[..., None],
            kwargs: dict[str, Any], watch: Watch) -> TaskFailed | None:
    watch.begin()
    try:
        fn(**kwargs)
        mark_done(stamp, key, target)
    except DraptoError as exc:
        failure = str(exc)
    except OSError as exc:  # a full disk, a folder that cannot be written or read
        where = f" ({exc.filename})" if exc.filename else ""
        failure = f"{name}: {exc.strerror or exc}{where}"
    except BaseException:
        watch.end(errored=True)
        raise
    else:
        watch.end()
        return None
    watch.end(failure)
    return TaskFailed(failure)


def watched(job: Job, kind: Kind, fn: Callable[[], None]) -> Callable[[], None]:
    """*fn* as an action that tells the run's ledger when it runs (for a task made without
    :func:`make_task`)."""
    watch = Watch(kind.name, job.tag, tagged(job, kind.name))

    def action() -> None:
        watch.begin()
        try:
            fn()
        except BaseException:
            watch.end(errored=True)
            raise
        watch.end()
    return action


def _clean(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


_NO_PARAMETERS = inspect.Signature()


def _check(fn: Callable[..., bool], *args: Any) -> Callable[[], bool]:
    """An ``uptodate`` callable that says it takes no argument: doit reads each one's
    signature (for its optional ``task`` and ``values``) on every status check, which cost
    more than the check itself at hundreds of segments."""
    check = functools.partial(fn, *args)
    check.__signature__ = _NO_PARAMETERS  # type: ignore[attr-defined]
    return check


def make_task(job: Job, kind: Kind, name: str | None, fn: Callable[..., None],
              kwargs: dict[str, Any], deps: Sequence[Task], doc: str, schema: int = 1,
              unkeyed: Iterable[str] = (), keep_on_clean: bool = False,
              stowed: Callable[[], bool] | None = None, stamp_as: str | None = None) -> Task:
    """A task whose action is ``fn(**kwargs)``, writing ``kwargs["target"]``, after *deps*
    (tasks made by this module's creators). Its key is :func:`task_key` of the same
    arguments and dependencies. *stowed*: the target may be removed after a finished run
    (tidy) while the output holds its content; then the stamp alone decides. *stamp_as*:
    the stamp's name when it is not the task's (a segment's is its first frame)."""
    basename = kind.name
    full = tagged(job, f"{basename}:{name}" if name else basename)
    target = Path(kwargs["target"])
    key = task_key(job, basename, schema, kwargs, deps, unkeyed)
    stamp = stamp_of(job, stamp_as or (f"{basename}:{name}" if name else basename))
    task: Task = {
        "basename": basename,
        "actions": [(_action, [full, stamp, key, target, fn, kwargs,
                               Watch(basename, job.tag, full, job.work.failure, kind.reports)])],
        # doit runs a task whose declared target is missing: a target that may be stowed
        # is not declared; its stamp decides alone.
        "targets": [] if stowed else [str(target)],
        "uptodate": [_check(is_done, stamp, key, target, stowed)],
        "task_dep": [full_name(d) for d in deps],
        "clean": [(_clean, [stamp] if keep_on_clean else [target, stamp])],
        "doc": doc,
        "meta": {"key": key, "task": full, "target": target, "stamp": stamp, "kind": kind},
    }
    if ":" in full:  # a subtask: encode:0003, or a batch file's probe:film
        task["name"] = full.partition(":")[2]
    return task


def done(task: Task) -> bool:
    """Whether *task*'s target is made, for its key."""
    return is_done(task["meta"]["stamp"], key_of(task), task["meta"]["target"])


@dataclass
class Upstream:
    """What the tasks after scene detection are made from, read once per creator pass: the
    early tasks (for their keys and names), probe.json and scenes.json, and each task made
    so far by name (later stages depend on earlier ones)."""
    job: Job
    probe: Probe
    scenes: Scenes
    made: dict[str, Task] = field(default_factory=dict)
    # stages/encode.final_targets, for as many tasks made as the first number
    finals: tuple[int, list[Path]] | None = None

    def add(self, task: Task) -> Task:
        self.made[full_name(task)] = task
        return task

    def get(self, name: str) -> Task:
        return self.made[tagged(self.job, name)]

    def step(self, kind: Kind, after: list[str]) -> Task:
        """A task without action that later stages wait on (a film-level decision in a mode
        that makes none): done once the tasks named *after* are."""
        task: Task = {"basename": kind.name,
                      **({"name": self.job.tag} if self.job.tag else {}),
                      "actions": None, "task_dep": after, "doc": kind.doc,
                      "meta": {"kind": kind}}
        self.made[tagged(self.job, kind.name)] = task
        return task

    def has(self, name: str) -> bool:
        """Whether a task of this (untagged) name was made."""
        return tagged(self.job, name) in self.made


def upstream(job: Job, early: Sequence[Task]) -> Upstream | None:
    """The facts the later tasks are made from, once the early tasks (probe, crop, scenes)
    are done for this run's input and settings (a scenes.json of other settings, say the
    whole film's when this run's clip was refused, makes no task)."""
    by_base = {t["basename"]: t for t in early}
    if not (done(by_base["probe"]) and done(by_base["scenes"])):
        return None
    up = Upstream(job, Probe.read(job.work.probe), Scenes.read(job.work.scenes))
    for t in early:
        up.add(t)
    return up
