"""The pipeline declared once (drapto/stages/__init__.py: PIPELINE): a kind added there is
made, listed, run, timed and recorded without touching anything else; and what a run must
do at its end (runs.json, finished.json, the refused input's folder, the exit status) is
done whichever reporter doit is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST, FIXED_CRF, ROOT, ffmpeg_make, run_drapto, workdir_of

from drapto import stages
from drapto.files import read_json

# A kind of task a test adds to the pipeline, after every other (a film's last step).
FAKE = r'''
import runpy, sys, time
from drapto import stages
from drapto.work.graph import Kind, tagged, watched

def fake_tasks(b):
    job = b.up.job
    target = job.work.path / "fake.txt"
    def write():
        time.sleep(0.2)
        target.write_text("made", encoding="utf-8")
    yield {"basename": FAKE.name, **({"name": job.tag} if job.tag else {}),
           "actions": [watched(job, FAKE, write)], "uptodate": [target.exists],
           "task_dep": [tagged(job, stages.PIPELINE[-2].name)], "doc": FAKE.doc,
           "meta": {"kind": FAKE}}

FAKE = Kind("fake", stages.layers(), "fake.txt: a kind a test added.",
            make=fake_tasks)
stages.PIPELINE = (*stages.PIPELINE, FAKE)
sys.argv = ["doit", *sys.argv[1:]]
runpy.run_module("doit", run_name="__main__")
'''


def test_the_declaration_is_whole() -> None:
    """Every kind once; the early ones made from the job, the later ones from their layer;
    each layer but the last has the one decision the next waits for."""
    names = [k.name for k in stages.PIPELINE]
    assert len(names) == len(set(names))
    assert [k.name for k in stages.kinds(0)] == ["probe", "crop", "scenes"]
    assert all(k.early for k in stages.kinds(0)) and all(
        k.make for k in stages.PIPELINE if k.layer)
    assert [stages.decider(n).name for n in range(stages.layers())] == \
        ["scenes", "size", "balance"]
    assert {k.name: k.per_segment for k in stages.segment_kinds()} == {
        "sample": "calibration", "calibration": "calibration", "encode": "first",
        "adjust": "again"}
    assert [k.layer for k in stages.PIPELINE] == sorted(k.layer for k in stages.PIPELINE)


@pytest.mark.e2e
def test_a_kind_added_to_the_pipeline_is_seen_everywhere(sample: Path, tmp_path: Path) -> None:
    script = tmp_path / "with_fake.py"
    script.write_text(FAKE, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")},
           **FIXED_CRF}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), "-f", str(ROOT / "dodo.py"),
                               *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
    listed = run("list", "--all")
    assert "fake.txt: a kind a test added." in listed.stdout, listed.stdout + listed.stderr
    done = run("encode", f"input={sample}", "output=out.mkv", "work=w", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".  fake" in done.stdout.splitlines()
    work = workdir_of(tmp_path / "w")
    assert (work / "fake.txt").read_text(encoding="utf-8") == "made"
    assert read_json(work / "runs.json")[-1]["stages"]["fake"] >= 0.2
    again = run("encode", f"input={sample}", "output=out.mkv", "work=w", *FAST)
    assert again.returncode == 0 and "drapto: up to date: " in again.stdout


def reported(reporter: str, *args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """``doit --reporter=REPORTER encode args...``, as run_drapto runs doit."""
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("DRAPTO_")},
                **FIXED_CRF, **(env or {})}
    return subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"),
                           f"--reporter={reporter}", "encode", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.mark.e2e
def test_any_reporter_leaves_the_end_of_the_run_in_place(sample: Path, tmp_path: Path) -> None:
    """With doit's own executed-only reporter, the run is recorded (runs.json,
    settings.json) and its finished state written, so the next run is a no-op; with the
    zero reporter, an input that is no video leaves no work folder and fails."""
    made = reported("executed-only", f"input={sample}", "output=out.mkv", "work=w", *FAST,
                    cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    assert ".  mux" in made.stdout and "drapto:" not in made.stdout  # doit's own lines
    work = workdir_of(tmp_path / "w")
    assert len(read_json(work / "runs.json")) == 1 and (work / "settings.json").exists()
    assert (work / "finished.json").exists() and not (work / "failed.json").exists()
    again = run_drapto(f"input={sample}", "output=out.mkv", "work=w", *FAST, cwd=tmp_path)
    assert again.stdout.strip() == f"drapto: up to date: {tmp_path / 'out.mkv'}"

    text = tmp_path / "notes.mkv"
    text.write_text("not a video\n", encoding="utf-8")
    refused = reported("zero", f"input={text}", "work=w2", cwd=tmp_path)
    assert refused.returncode != 0
    assert not list((tmp_path / "w2").glob("*/probe.json"))
    assert not [p for p in (tmp_path / "w2").glob("*") if p.is_dir()]


@pytest.mark.e2e
def test_a_skipped_film_exits_3_under_any_reporter(tmp_path: Path) -> None:
    """The size decision's skip: its line on stderr and status 3, with the zero reporter."""
    lean = tmp_path / "lean.mkv"
    ffmpeg_make("-f", "lavfi", "-i", "testsrc2=s=256x144:r=24:d=3,noise=alls=30:allf=t",
                "-c:v", "libx264", "-b:v", "40k", "-pix_fmt", "yuv420p", str(lean))
    skipped = reported("zero", f"input={lean}", *FAST, "target_vmaf=99", "crf_min=1",
                       cwd=tmp_path, env={"DRAPTO_QUALITY": "vmaf"})
    assert skipped.returncode == 3, skipped.stdout + skipped.stderr
    assert f"drapto: {lean}: not encoded: at VMAF 99" in skipped.stderr
