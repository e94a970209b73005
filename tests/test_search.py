"""One segment's search (drapto/quality/search.py) on recorded curves, without encoding: resumed
searches decide as uninterrupted ones, reused probes change nothing but the work, and the
calibration's choice and figures."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from conftest import a_record, record_json
from test_quality import RECORDED, T, curve

from drapto.files import read_json, write_json
from drapto.media.records import Calibration, CalibrationSegment
from drapto.quality import decisions as quality
from drapto.quality import search
from drapto.quality.policy import Quality

Q = Quality(target_vmaf=93.0, vmaf_tolerance=1.0, vmaf_overshoot=1.0, crf_min=10, crf_max=63,
            search_attempts=3, vmaf_pool="mean", search_start_crf=35, preset=6,
            search_preset=10, search="probes", search_sample=0.5,
            vmaf_subsample=9, vmaf_model="vmaf_v0.6.1", vmaf_scoring="yuv420p")


def bytes_at(crf: float, at_30: int = 100_000) -> int:
    """A segment's size: halving every 6 CRF steps, as SVT-AV1's roughly do."""
    return round(at_30 * math.exp(-0.115 * (crf - 30)))


class Segment:
    """A recorded segment as the search sees it: measure() encodes nothing."""

    def __init__(self, name: str, fail_after: int | None = None):
        self.final, self.fast = (curve(v) for v in RECORDED[name])
        self.calls: list[tuple[float, bool]] = []
        self.fail_after = fail_after

    def measure(self, crf: float, final: bool) -> search.Measurement:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt  # the run is killed here
        self.calls.append((crf, final))
        vmaf = round((self.final if final else self.fast)(crf), 3)
        return search.Measurement(vmaf, bytes_at(crf) // (1 if final else 4),
                                  [vmaf] * 10 if final else None)


def run(seg: Segment, state: search.SearchState, prior: search.Prior, path: Path,
        known: dict[float, search.Measurement] | None = None) -> search.Outcome:
    return search.run(state, prior, T, False, seg.measure, lambda: state.write(path), known)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_a_search_killed_at_any_measurement_resumes_to_the_same_result(
        name: str, tmp_path: Path) -> None:
    prior = search.Prior.default(Q)
    whole = Segment(name)
    expected = run(whole, search.SearchState("k"), prior, tmp_path / "a.json")
    for kill_at in range(1, len(whole.calls)):
        path = tmp_path / f"kill{kill_at}.json"
        seg = Segment(name, fail_after=kill_at)
        with pytest.raises(KeyboardInterrupt):
            run(seg, search.SearchState("k"), prior, path)
        resumed = search.SearchState.load(path, "k")
        assert resumed is not None and len(resumed.probes) + len(resumed.finals) == kill_at
        rest = Segment(name)
        assert run(rest, resumed, prior, path) == expected
        assert seg.calls + rest.calls == whole.calls  # nothing measured twice
    assert search.SearchState.load(tmp_path / "a.json", "another key") is None


def test_known_probes_save_encodes_and_change_nothing(tmp_path: Path) -> None:
    prior = search.Prior.default(Q)
    fresh = Segment("bbb 0")
    expected = run(fresh, search.SearchState("k"), prior, tmp_path / "a.json")
    probes = {c: search.Measurement(round(fresh.fast(c), 3), bytes_at(c) // 4)
              for c, final in fresh.calls if not final}
    extra = {20.0: search.Measurement(99.0, 1)}  # measured for another target, not asked for
    again = Segment("bbb 0")
    assert run(again, search.SearchState("k"), prior, tmp_path / "b.json",
               known={**probes, **extra}) == expected
    assert again.calls == [c for c in fresh.calls if c[1]]  # only the final encodes


def test_calibration_segments_are_spread_over_the_film_by_time() -> None:
    assert search.calibration_indices([24, 24], 3) == [0, 1]
    assert search.calibration_indices([1] * 8, 3) == [1, 4, 6]
    assert search.calibration_indices([1] * 68, 3) == [11, 34, 56]
    for n in range(4, 300):
        idx = search.calibration_indices([1] * n, 3)
        assert idx == sorted(set(idx)) and len(idx) == 3 and idx[-1] < n
    # By time, not by number: a long first segment holds the middle frames of the first
    # two stretches (frames 16 and 50 of 100), and a cut added past the last calibration
    # segment leaves them all.
    assert search.calibration_indices([60, 10, 10, 10, 10], 3) == [0, 3]
    assert search.calibration_indices([30] * 7, 3) == [1, 3, 5]
    assert search.calibration_indices([30] * 6 + [15, 15], 3) == [1, 3, 5]


def test_the_calibration_takes_the_medians_of_the_segments_that_reached(
        tmp_path: Path) -> None:
    def record(i: int, fast: float, crf: float, slope: float, reached: bool = True,
               encodes: int = 1) -> Path:
        path = tmp_path / f"{i:04d}.json"
        finals = [{"crf": crf, "vmaf": 93.0}, {"crf": crf - 4, "vmaf": 95.0}][:encodes]
        write_json(path, record_json({"start": 24 * i, "crf": crf, "reached": reached,
                                      "target_vmaf": 93.0,
                                      "search": {"target": 93.0, "fast_crf": fast,
                                                 "slope": slope, "finals": finals}}))
        return path

    paths = [record(1, 33.0, 39.0, 0.06, encodes=2), record(4, 35.0, 40.0, 0.2),
             record(6, 30.0, 36.0, 0.05, encodes=2), record(7, 60.0, 63.0, 0.02, reached=False)]
    run_target = tmp_path / "calibration.json"
    search.run_calibration(paths, run_target)
    data = read_json(run_target)
    # The slope: of the two that measured their own (one encode only repeats the assumed).
    assert data["segments_used"] == 3 and data["fast_crf"] == 33.0 and data["slope"] == 0.055
    assert data["shift"] == 6.0 and data["target"] == 93.0  # shifts 6, 5, 6
    search.run_calibration([paths[1]], run_target)
    assert read_json(run_target)["slope"] == quality.DEFAULT_SLOPE
    search.run_calibration(paths, run_target)
    data = read_json(run_target)
    prior = search.Prior.from_calibration(Calibration.from_json(data), Q)
    assert (prior.shift, prior.first_probe, prior.band) == (6.0, 33.0, quality.ONE_PROBE_BAND)
    # Nothing reached (a film of title cards): the defaults.
    search.run_calibration(paths[3:], run_target)
    assert search.Prior.from_calibration(Calibration.read(run_target), Q) == \
        search.Prior.default(Q)


def test_the_lead_searches_a_narrow_band_and_the_rest_the_settings_band() -> None:
    """The other calibration segments start from where the lead crossed the target, so it
    is kept only within half the tolerance of it; the others within the band of the
    settings."""
    q = dataclasses.replace(Q, search="final", vmaf_overshoot=2.0)
    calibrating = search.goal_of(q, search.Prior.default(q))
    assert (calibrating.tolerance, calibrating.above, calibrating.aim) == (0.5, 0.5, 93.0)
    seg = CalibrationSegment(0, 40.0, 40.0, 0.05, 0.0, True)
    data = Calibration((seg, seg, seg), None, shift=0.0, slope=0.05, fast_crf=40.0, crf=40.0)
    other = search.goal_of(q, search.Prior.from_calibration(data, q))
    assert (other.tolerance, other.above, other.aim) == (1.0, 2.0, 93.5)
    # On a recorded curve whose first encode lands within the band but half a point off
    # the target: kept as it is, but encoded again as the lead.
    seg = Segment("bbb 1")
    prior = search.Prior.default(q)
    wide = search.run(search.SearchState("a"), prior, other, True, seg.measure,
                      lambda: None)
    n_wide = len(seg.calls)
    narrow = search.run(search.SearchState("b"), prior, calibrating, True, seg.measure,
                        lambda: None)
    assert n_wide == 1 and len(seg.calls) - n_wide >= 2
    assert other.within(seg.final(wide.crf)) and abs(seg.final(narrow.crf) - 93.0) <= 0.5


def test_calibration_segments_after_the_lead_start_where_it_crossed() -> None:
    """The middle calibration segment (the lead) is searched alone from the fixed start;
    the others start from where it crossed the target, with its slope, and keep the band
    of the settings. On recorded curves of one film, that saves encodes."""
    assert search.calibration_lead([1, 4, 6]) == 4
    assert search.calibration_lead([2, 5, 8, 11]) == 8
    assert search.calibration_lead([3]) is None
    q = dataclasses.replace(Q, search="final", vmaf_overshoot=2.0)
    lead = Segment("bikes 0")
    out = search.run(state := search.SearchState("lead"), search.Prior.default(q),
                     search.goal_of(q, search.Prior.default(q)), True, lead.measure,
                     lambda: None)
    record = a_record({"crf": out.crf, "search": {
        "target": 93.0, "fast_crf": out.fast_crf, "slope": out.slope,
        "finals": [{"crf": c, "vmaf": m.vmaf} for c, m in state.finals.items()]}})
    prior = search.Prior.after_lead(record, q)
    assert prior.first_probe == quality.quarter(out.fast_crf) != search.Prior.default(q).first_probe
    assert prior.slope == out.slope and prior.source == "lead calibration segment"
    assert search.goal_of(q, prior) == q.target() != search.goal_of(q, search.Prior.default(q))
    # The other segments of the same film: fewer encodes from the lead's crossing.
    from_start = from_lead = 0
    for name in ("bikes 1", "bikes 2", "bikes 3"):
        for p in (search.Prior.default(q), prior):
            seg = Segment(name)
            search.run(search.SearchState(name), p, search.goal_of(q, p), True, seg.measure,
                       lambda: None)
            if p is prior:
                from_lead += len(seg.calls)
            else:
                from_start += len(seg.calls)
    assert from_lead < from_start, (from_lead, from_start)
    # Half the calibration decides the size: the lead and every other one from it.
    assert search.size_indices([1, 4, 6]) == [1, 4, 6]
    assert search.size_indices([0, 2, 5, 7, 9, 11]) == [2, 7, 11]
    assert search.size_indices([0, 2, 5, 7]) == [0, 5]
    assert search.size_indices([0, 1, 2, 3, 4, 5, 6]) == [1, 3, 5]
    # A lead without a search (a fixed CRF) gives the defaults.
    assert search.Prior.after_lead(a_record({}), q) == search.Prior.default(q)
    # So does a lead that crossed out of reach: on the 2-hour mixed film, a noise-like one
    # crossed at CRF -5.4 with slope 0.011, and every other calibration segment started at
    # CRF 10, corrected by a slope a tenth of theirs.
    noise = a_record({"crf": 10, "search": {
        "target": 93.0, "fast_crf": -5.4, "slope": 0.011,
        "finals": [{"crf": 19.75, "vmaf": 90.718}, {"crf": 29.5, "vmaf": 89.645}]}})
    astray = search.Prior.after_lead(noise, q)
    default = search.Prior.default(q)
    assert (astray.first_probe, astray.slope) == (default.first_probe, default.slope)
    assert astray.source.startswith("defaults") and search.goal_of(q, astray) == q.target()
