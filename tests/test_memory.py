"""Worker counts from memory figures, learned estimates, and the machine-wide budget."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from conftest import drapto_argv, records_of, run_drapto, workdir_of

from drapto.errors import DraptoError
from drapto.files import read_json
from drapto.media import memory
from drapto.media.demo import make_sample

GIB = 2**30
TABLE = {576: 500, 1080: 1200, 2160: 4000}


def test_worker_count_from_memory_figures() -> None:
    assert memory.worker_count(estimate=1200, budget=12_000, cores=8) == 8
    assert memory.worker_count(estimate=4000, budget=12_000, cores=8) == 3
    assert memory.worker_count(estimate=4000, budget=3_000, cores=8) == 1  # never zero
    assert memory.worker_count(estimate=500, budget=100_000, cores=2) == 2


def test_budget_specs() -> None:
    assert memory.budget_mib("6G") == 6144 and memory.budget_mib("700M") == 700
    # auto: 75 % of what is free plus what drapto's encodes hold already
    assert memory.budget_mib("auto", reserved_mib=1024, available=3 * GIB) == 3072
    assert memory.budget_mib("50%", available=8 * GIB) == 4096
    with pytest.raises(DraptoError, match="expected auto, N%, NM or NG"):
        memory.budget_mib("lots")


def test_estimates_from_table_then_learned(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert memory.estimate_mib(144, 12, TABLE) == 500
    assert memory.estimate_mib(800, 6, TABLE) == 1200
    assert memory.estimate_mib(4320, 6, TABLE) == 4000  # larger than the table: its largest
    memory.learn(800, 6, 900 * 2**20 + 1)
    memory.learn(800, 6, 700 * 2**20)  # the largest seen stays
    assert memory.estimate_mib(800, 6, TABLE) == 901
    assert memory.estimate_mib(800, 8, TABLE) == 1200  # another preset: not learned yet


@pytest.mark.e2e
def test_encode_records_and_learns_its_measured_peak(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The encode's measured peak is in its record and becomes the estimate for its height
    and preset (in place of the table's, far above it at 180p)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    src = make_sample(tmp_path / "m.mkv", scenes=[1.0, 1.0], size="320x180", audio=False,
                      subtitles=False, chapters=False)
    run_drapto(f"input={src}", "preset=11", "min_segment=0.5", "max_segment=1", cwd=tmp_path,
               env={"XDG_CACHE_HOME": str(cache)})
    work = workdir_of(tmp_path / "drapto-work")
    peaks = [r["peak_memory_mib"] for r in records_of(work)]
    assert len(peaks) == 2
    assert all(10 < p < 2000 for p in peaks)
    learned = read_json(cache / "drapto" / "memory.json")["180p preset 11"]
    assert max(peaks) <= learned <= max(peaks) + 1 < TABLE[576]
    assert memory.estimate_mib(180, 11, TABLE) == learned


def _encode_spans(log: Path) -> list[tuple[datetime, datetime]]:
    """(start, end) of every segment encode in a drapto log."""
    spans, open_at = [], {}
    for line in log.read_text(encoding="utf-8").splitlines():
        m = re.match(r"(\S+ \S+) .*?(start|exit \d+): encoding segment (\d+)", line)
        if m:
            at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
            if m.group(2) == "start":
                open_at[m.group(3)] = at
            else:
                spans.append((open_at.pop(m.group(3)), at))
    return spans


@pytest.mark.e2e
def test_budget_holds_across_two_concurrent_runs(tmp_path: Path) -> None:
    """Two films at once, a budget of one encode: never two encodes at the same time."""
    # Two different films (the samples are bit-exact: another GOP makes other bytes).
    clips = [make_sample(tmp_path / f"film{i}.mkv", scenes=[1.0] * 4, size="320x180",
                         audio=False, subtitles=False, chapters=False, gop=100 - i)
             for i in (1, 2)]
    runs = [subprocess.Popen(drapto_argv(f"input={c}", "work=w", "preset=8",
                                         "min_segment=0.5", "max_segment=1",
                                         "memory_budget=100M", jobs=2),
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for c in clips]
    for run in runs:
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
    spans = sorted(s for d in (tmp_path / "w").iterdir() for s in _encode_spans(d / "drapto.log"))
    assert len(spans) == 8
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two encodes ran at once over a budget of one"
    waited = "".join((d / "drapto.log").read_text() for d in (tmp_path / "w").iterdir())
    assert "waits for" in waited
