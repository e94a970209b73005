"""The CRF search on recorded probe tables (no encoding), and VMAF pooling."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FAST, drapto_argv, run_drapto, workdir_of

from drapto import proc
from drapto.quality import Target, choose, next_crf, pool
from drapto.workdir import read_json

T = Target(vmaf=93.0, tolerance=1.0, crf_min=10, crf_max=50, attempts=6)


def search(curve: dict[int, float], start: int, target: Target = T) -> tuple[list[int], int]:
    """Run the search against a recorded CRF -> VMAF curve; the CRFs tried and the pick."""
    probes: dict[int, float] = {}
    while (crf := next_crf(probes, target, start)) is not None:
        probes[crf] = curve[crf]
    return list(probes), choose(probes, target)[0]


def linear(at25: float, slope: float) -> dict[int, float]:
    return {c: at25 - slope * (c - 25) for c in range(0, 64)}


@pytest.mark.parametrize("curve", [
    linear(96.0, 0.8),    # easy content: a higher CRF reaches 93
    linear(98.0, 0.35),   # easy and flat: far higher
    linear(91.5, 0.6),    # hard content: a lower CRF is needed
    linear(93.4, 0.9),    # the first probe is within tolerance
])
def test_search_reaches_the_target_without_wasting_bits(curve: dict[int, float]) -> None:
    tried, picked = search(curve, 25)
    # At the target, and either within the tolerance or the next CRF up misses it.
    assert curve[picked] >= 93.0
    assert curve[picked] - 93.0 <= T.tolerance or curve[picked + 1] < 93.0
    assert len(tried) <= 4, tried


def test_search_stops_at_the_bounds_and_says_so() -> None:
    hopeless = linear(80.0, 0.5)  # even CRF 10 gives 87.5
    tried, picked = search(hopeless, 25)
    assert picked == min(tried) and choose({c: hopeless[c] for c in tried}, T)[1] is False
    assert len(tried) <= T.attempts


def test_resumes_from_recorded_probes() -> None:
    curve = linear(96.0, 0.8)
    assert next_crf({25: curve[25]}, T, 25) == next_crf({25: curve[25]}, T, 30)
    assert next_crf({28: curve[28], 29: curve[29]}, T, 25) is None  # 28 passes, 29 misses


def test_pooling() -> None:
    scores = [90.0, 92.0, 94.0, 96.0, 98.0]
    assert pool(scores, "mean") == 94.0
    assert pool(scores, "p0") == 90.0 and pool(scores, "p50") == 94.0
    assert 93.8 < pool(scores, "harmonic") < 94.0


def test_vmaf_target_end_to_end_verified_independently(sample: Path, tmp_path: Path) -> None:
    run_drapto(f"input={sample}", *FAST, "quality=vmaf", "target_vmaf=93", cwd=tmp_path)
    out = tmp_path / "sample.av1.mkv"
    report = read_json(workdir_of(tmp_path / "drapto-work") / "report.json")
    assert all(s["vmaf"] >= 93.0 and s["vmaf_reached"] for s in report["segments"])
    assert all(len(s["probes"]) <= 5 for s in report["segments"])
    assert report["vmaf"]["mean"] >= 93.0 and report["vmaf"]["segments_below_target"] == 0
    # Not the search's own figure: libvmaf on every frame of the whole output.
    log = tmp_path / "check.json"
    subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(out), "-i", str(sample),
                    "-filter_complex", "[0:v]setpts=N,format=yuv420p10le[d];"
                    "[1:v]setpts=N,format=yuv420p10le[r];"
                    f"[d][r]libvmaf=log_fmt=json:log_path={log.name}", "-f", "null", "-"],
                   cwd=tmp_path, check=True, stdin=subprocess.DEVNULL)
    whole = json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"]
    assert 92.0 <= whole <= 95.5, whole  # within a point of the target, no bits wasted
    assert [s["crf"] for s in report["segments"]] != [25] * 4  # the CRF was searched


def test_interrupted_search_resumes_from_its_probes(sample: Path, tmp_path: Path) -> None:
    argv = drapto_argv(f"input={sample}", *FAST, "quality=vmaf", jobs=1)
    run = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("drapto-work/*/encoded/*.probes.json")):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run_drapto(f"input={sample}", *FAST, "quality=vmaf", cwd=tmp_path)
    log = next(tmp_path.glob("drapto-work/*/drapto.log")).read_text(encoding="utf-8")
    tried = re.findall(r"start: encoding segment (\d+) .* -crf (\d+) ", log)
    # Only the encode in flight at the kill may run twice.
    assert len(tried) - len(set(tried)) <= 1, tried
    assert not list(tmp_path.glob("drapto-work/*/encoded/*.crf*"))
