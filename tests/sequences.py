"""Random sequences of drapto runs on one work root, as a library user makes them over days:
single files, batches, clips and job files, with other settings and outputs, one worker or
two, and kills. After every run that is not killed, each output it made must hold the
bytes a fresh run of the same command makes in an empty folder.

Used by tests/test_sequences.py (a few seeds) and bench/sequences.py (many operations).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import drapto_argv, run_drapto

from drapto.media.demo import make_sample

FILMS = ("a.mkv", "b.mkv")
# The default mode on the fastest preset; 8 segments a film, more than its calibration.
BASE = ["preset=12", "min_segment=0.5", "max_segment=0.5"]
# "balanced": a film's mean held so tight that segments are encoded again for it.
SETTINGS = {"vmaf 93": [], "vmaf 90": ["target_vmaf=90"], "crf": ["quality=crf"],
            "balanced": ["film_tolerance=0.05"]}
KINDS = ("single", "batch", "clip", "jobs", "kill")
ENV = {"DRAPTO_QUALITY": "vmaf"}


def make_films(folder: Path) -> Path:
    """Two 4 s films of eight scenes, in *folder*/films."""
    films = folder / "films"
    films.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(FILMS):
        make_sample(films / name, scenes=[0.5] * 8, size=f"{192 - 32 * i}x108",
                    subtitles=False, chapters=False)
    return films


@dataclass(frozen=True)
class Op:
    """One run: what is encoded (*kind*, *film*), with which *settings*, into which output
    folder, on how many workers; a kill is a single file's or a batch's run stopped with
    SIGKILL after *delay* seconds."""
    kind: str
    film: str
    settings: str
    out: str
    jobs: int
    delay: float = 0.0
    batch: bool = False   # a kill's run: a batch, else the film alone

    def args(self, root: Path, films: Path) -> list[str]:
        common = [*BASE, *SETTINGS[self.settings], f"output={root / self.out}/"]
        if self.kind == "batch" or (self.kind == "kill" and self.batch):
            return [f"input={films}", *common]
        if self.kind == "clip":
            return [f"input={films / self.film}", "start=1", "end=2.5", *common]
        if self.kind == "jobs":
            jobs = root / "jobs.yaml"
            jobs.write_text(f"- input: {films / FILMS[0]}\n"
                            f"- input: {films / FILMS[1]}\n"
                            "  clips:\n    - {start: 1, end: 2.5, name: middle}\n",
                            encoding="utf-8")
            return [f"jobs={jobs}", *common]
        return [f"input={films / self.film}", *common]

    def __str__(self) -> str:
        what = "batch" if self.kind == "batch" or (self.kind == "kill" and self.batch) \
            else self.film
        return (f"{self.kind} {what if self.kind != 'jobs' else ''} {self.settings} -> "
                f"{self.out}/ -n {self.jobs}" + (f" after {self.delay:.1f} s"
                                                  if self.kind == "kill" else ""))


def draw(rng: random.Random) -> Op:
    kind = rng.choice(KINDS)
    return Op(kind, rng.choice(FILMS), rng.choice(list(SETTINGS)), rng.choice(("out", "out2")),
              rng.choice((1, 2)), round(rng.uniform(0.5, 6.0), 1), rng.random() < 0.3)


@dataclass
class Sequence:
    """The runs of one work root (*root*/drapto-work), each checked against a fresh run."""
    root: Path
    films: Path
    references: dict[tuple[str, str, str], dict[str, bytes]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)

    def reference(self, op: Op) -> dict[str, bytes]:
        """The outputs of *op*'s command run once in an empty folder (kept per command)."""
        what = (op.kind, op.film if op.kind in ("single", "clip") else "", op.settings)
        if what not in self.references:
            fresh = self.root / "fresh" / str(len(self.references))
            fresh.mkdir(parents=True)
            run_drapto(*Op(op.kind, op.film, op.settings, "out", 2).args(fresh, self.films),
                       cwd=fresh, env=ENV)
            self.references[what] = {p.name: p.read_bytes()
                                     for p in sorted((fresh / "out").glob("*.mkv"))}
        return self.references[what]

    def run(self, op: Op) -> list[str]:
        """Run *op* here; what went wrong (nothing: an empty list)."""
        self.done.append(str(op))
        if op.kind == "kill":
            env = {k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")}
            child = subprocess.Popen(drapto_argv(*op.args(self.root, self.films), jobs=op.jobs),
                                     cwd=self.root, env={**env, **ENV},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
            time.sleep(op.delay)
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return []
        result = run_drapto(*op.args(self.root, self.films), cwd=self.root, env=ENV,
                            jobs=op.jobs, check=False)
        if result.returncode != 0:
            said = (result.stdout + result.stderr).strip().splitlines()[-3:]
            return [f"{op}: exit {result.returncode}: {' | '.join(said)}"]
        wrong = []
        for name, data in self.reference(op).items():
            path = self.root / op.out / name
            if not path.exists() or path.read_bytes() != data:
                wrong.append(f"{op}: {op.out}/{name} differs from a fresh run's")
        return wrong

    def history(self) -> str:
        return "\n".join(f"  {i + 1}. {d}" for i, d in enumerate(self.done))


def run_seed(root: Path, films: Path, seed: int, count: int) -> tuple[Sequence, list[str]]:
    """*count* operations drawn with *seed*, then a plain run of the last command if the
    sequence ended with a kill; what went wrong."""
    rng = random.Random(seed)
    seq = Sequence(root, films)
    problems: list[str] = []
    op = Op("single", FILMS[0], "vmaf 93", "out", 1)
    for _ in range(count):
        op = draw(rng)
        problems += seq.run(op)
    if op.kind == "kill":
        problems += seq.run(Op("batch" if op.batch else "single", op.film, op.settings,
                               op.out, op.jobs))
    return seq, problems
