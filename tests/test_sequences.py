"""Any sequence of runs (settings, outputs, -n, kills, batches, clips, job files) leaves a
work folder that the next run completes, with the bytes of a fresh run (tests/sequences.py).
The seeds that once failed are kept here as regular tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sequences import Op, Sequence, make_films, run_seed


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_films(tmp_path_factory.mktemp("films"))


@pytest.mark.e2e
def test_other_settings_and_another_output_in_between_do_not_stick_the_folder(
        films: Path, tmp_path: Path) -> None:
    """An encode with segments encoded again for the film's mean, the same film at a fixed
    CRF to another folder, the first command again: the third run found the join's stamp
    of the second run, and the segments it needed removed by the first run's tidy."""
    seq = Sequence(tmp_path, films)
    problems = []
    for op in (Op("single", "a.mkv", "balanced", "out", 2),
               Op("single", "a.mkv", "crf", "out2", 2),
               Op("single", "a.mkv", "balanced", "out", 2)):
        problems += seq.run(op)
    assert problems == [], seq.history()


@pytest.mark.e2e
def test_a_batch_does_not_skip_an_output_made_with_other_settings(
        films: Path, tmp_path: Path) -> None:
    """Seed 18 of bench/sequences.py: one output folder with other settings, then the film
    alone to another folder with this run's settings: the first folder's output is not
    up to date for them (the work folder's settings.json was of the other output)."""
    seq = Sequence(tmp_path, films)
    problems = []
    for op in (Op("batch", "", "balanced", "out2", 2), Op("single", "b.mkv", "vmaf 90", "out", 2),
               Op("batch", "", "vmaf 90", "out2", 2)):
        problems += seq.run(op)
    assert problems == [], seq.history()


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequences_end_with_the_right_outputs(films: Path, tmp_path: Path,
                                                     seed: int) -> None:
    seq, problems = run_seed(tmp_path, films, seed, 8)
    assert problems == [], f"seed {seed}:\n{seq.history()}\n" + "\n".join(problems)
