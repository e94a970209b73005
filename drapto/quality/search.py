"""The CRF search of one segment, and the film's calibration that the searches start from.

A search is a pure function of its segment's frames, the settings and its :class:`Prior`,
so the bytes it leaves do not depend on worker order, kills or machine history:

- the segments of the *calibration* (a fixed spread of the film's segments, chosen from
  scenes.json alone: :func:`calibration_indices`) start from fixed defaults;
- ``calibration.json`` (a target of its own, made from their records) gives the film's
  shift, slope and fast-preset CRF; every other segment's search starts from it, and its
  encode task depends on it.

The loop (:func:`run`) encodes through a callback, records each measurement as it comes
(a search interrupted mid-way resumes from them) and decides with :mod:`drapto.quality.decisions`.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drapto.files import make_key
from drapto.media.records import (
    Again,
    Calibration,
    CalibrationSegment,
    Measurement,
    Nearest,
    SearchState,
    Segment,
    SegmentRecord,
)
from drapto.media.records import Prior as PriorRecord
from drapto.quality import decisions as quality
from drapto.quality.policy import Quality

# calibrate's schema and each search's key: a search state of another schema is not taken.
SCHEMA = SearchState.SCHEMA


class Prior(PriorRecord):
    """What a segment's search starts from (its fields: :class:`drapto.media.records.Prior`, as
    the segment's record keeps them), made from the defaults, the calibration or the
    balance."""

    @classmethod
    def default(cls, q: Quality) -> Prior:
        shift, _ = shift_of([], q.preset, q.search_preset) if q.probing else (0.0, "")
        low, high = quality.probe_bounds(q.target(), shift)
        first = min(max(float(round(q.search_start_crf - shift)), low), high)
        return cls(round(shift, 3), quality.DEFAULT_SLOPE, first,
                   quality.ONE_PROBE_BAND_UNKNOWN_SLOPE, "default")

    @classmethod
    def after_lead(cls, lead: SegmentRecord, q: Quality) -> Prior:
        """A calibration segment after the lead (:func:`calibration_lead`): searched from
        where the lead crossed the target, with its slope, and kept within the band of the
        settings (its crossing is solved from what it measured and that slope: a narrower
        goal re-encoded a fifth of these segments for a calibration no more accurate, by
        replay on recorded curves)."""
        d = cls.default(q)
        if lead.scored is None or not lead.scored.search.finals and not \
                lead.scored.search.probes:
            return d
        s = lead.scored.search
        if not q.crf_min <= s.fast_crf <= q.crf_max:
            # A lead crossing out of reach (noise below crf_min, a title above crf_max) is
            # unlike the film: its crossing and slope would send every other one astray.
            return dataclasses.replace(d, source="defaults (the lead crossed out of reach)")
        low, high = quality.probe_bounds(q.target(), d.shift)
        first = float(round(s.fast_crf)) if q.probing else quality.quarter(s.fast_crf)
        return cls(d.shift, s.slope, min(max(first, low), high), d.band,
                   "lead calibration segment")

    @classmethod
    def from_calibration(cls, data: Calibration, q: Quality,
                         bytes_per_frame: float | None = None) -> Prior:
        """A segment's prior from the film's calibration: where the film's segments cross
        the target and their slope (the medians), or where the calibration segments
        nearest this one in the source's bytes per frame do, when they predict each other
        better (:func:`nearest_model`)."""
        if not data.segments_used:
            return cls.default(q)
        assert data.shift is not None and data.slope is not None and data.fast_crf is not None
        shift = float(data.shift) if q.probing else 0.0
        low, high = quality.probe_bounds(q.target(), shift)
        slope = float(data.slope)
        # Where the film crosses this search's target, from where it crossed the
        # calibration's (a film's lowered target is below it).
        at = data.target
        base, source = float(data.fast_crf), f"calibration of {data.segments_used} segments"
        if data.nearest and data.nearest.used and bytes_per_frame:
            near = _near(data.segments, bytes_per_frame)
            base = float(statistics.median(p.fast_crf for p in near))
            # Their curves too: a noise-like picture's is far flatter than a cartoon's.
            own = [p.slope for p in near if p.own_slope]
            if own:
                slope = float(statistics.median(own))
            source = (f"the {len(near)} of {data.segments_used} calibration segments "
                      f"nearest it")
        crossing = base + (
            quality.loss(q.target_vmaf) - quality.loss(q.target_vmaf if at is None else at)
        ) / slope
        # A probe goes to a whole CRF; a final encode (no probes) to the quarter step.
        first = float(round(crossing)) if q.probing else quality.quarter(crossing)
        first = min(max(first, low), high)
        aim = data.aim if data.aim is not None and at == q.target_vmaf else None
        return cls(shift, slope, first, quality.ONE_PROBE_BAND, source, aim)

    @classmethod
    def balancing(cls, crf: float, slope: float) -> Prior:
        """A segment encoded again by the film's balance: at the CRF its own curve puts at
        the target."""
        return cls(0.0, slope, crf, quality.ONE_PROBE_BAND, "balance")


# Final encodes at most of a segment encoded again by the balance.
BALANCE_ATTEMPTS = 2


@dataclass(frozen=True)
class FromDefaults:
    """A search from the settings' defaults: the lead calibration segment's, or any
    segment's when the film has no calibration."""

    def prior(self, q: Quality, seg: Segment) -> Prior:
        return Prior.default(q)

    def key_fields(self) -> dict[str, Any]:
        return {"calibration": None}


@dataclass(frozen=True)
class FromCalibration:
    """A segment's search from the film's calibration.json."""
    calibration: Path

    def prior(self, q: Quality, seg: Segment) -> Prior:
        return Prior.from_calibration(Calibration.read(self.calibration), q,
                                      bytes_per_frame(seg.source_bytes, seg.frames))

    def key_fields(self) -> dict[str, Any]:
        return {"calibration": self.calibration}


@dataclass(frozen=True)
class AfterLead:
    """A calibration segment's search from where the lead's crossed the target (its
    record)."""
    lead: Path

    def prior(self, q: Quality, seg: Segment) -> Prior:
        return Prior.after_lead(SegmentRecord.read(self.lead), q)

    def key_fields(self) -> dict[str, Any]:
        return {"calibration": None, "lead": self.lead}


@dataclass(frozen=True)
class Balancing:
    """A segment encoded again by balance.json, at the CRF its curve puts at the target."""
    again: Again

    def prior(self, q: Quality, seg: Segment) -> Prior:
        return Prior.balancing(self.again.crf, self.again.slope)

    def key_fields(self) -> dict[str, Any]:
        return {"calibration": None, "balance": self.again.to_json()}


# Where a segment's search starts: one of four. A task's key holds its key_fields, the
# arguments encodes were asked with before this type (so no finished encode is redone).
Start = FromDefaults | FromCalibration | AfterLead | Balancing


def start_of(fields: Mapping[str, Any]) -> Start:
    """A :data:`Start` from its key_fields, as JSON (a cluster's worker gets it so)."""
    if fields.get("balance"):
        return Balancing(Again.from_json(fields["balance"]))
    if fields.get("lead"):
        return AfterLead(Path(fields["lead"]))
    if fields.get("calibration"):
        return FromCalibration(Path(fields["calibration"]))
    return FromDefaults()


def goal_of(q: Quality, prior: Prior) -> quality.Target:
    """What a segment's search keeps: the band of the settings; :func:`calibration_goal`
    for a search from the defaults (the lead calibration segment; every segment of a film
    whose calibration learned nothing); for a segment the balance encodes again, the band of the
    settings in at most BALANCE_ATTEMPTS encodes (a second only when the first lands
    outside it: the balance counts on the mean of its moves, not on each one)."""
    goal = q.target()
    if prior.source == "balance":
        return dataclasses.replace(goal, attempts=BALANCE_ATTEMPTS)
    if prior.aim is not None:
        return dataclasses.replace(goal, aim_at=prior.aim)
    return calibration_goal(goal) if prior.source == "default" else goal


def calibration_goal(goal: quality.Target) -> quality.Target:
    """The lead calibration segment is kept only within half the band's narrower side of
    the target, both ways: the other calibration segments start from where it crossed the
    target and with its slope, so a lead that stopped anywhere in a wide band would move
    them all."""
    half = min(goal.tolerance, goal.above) / 2
    return dataclasses.replace(goal, tolerance=half, overshoot=half)


def calibration_lead(indices: Sequence[int]) -> int | None:
    """The calibration segment searched first, alone, whose crossing the others start from
    (the middle one); None when there is only one."""
    return indices[len(indices) // 2] if len(indices) > 1 else None


def size_indices(indices: Sequence[int]) -> list[int]:
    """The calibration segments the film's size is predicted from, before the others are
    encoded (so that a skipped film costs only these): the lead and every other one counted
    from it both ways (for 6: the 2nd, 4th and 6th), or all of them when there are 3 or
    fewer."""
    if len(indices) <= 3:
        return list(indices)
    lead = len(indices) // 2
    return sorted({*indices[lead::2], *indices[lead::-2]})


def calibration_indices(frames: Sequence[int], count: int) -> list[int]:
    """The segments searched from defaults, whose results calibrate the film (*frames*: each
    segment's frame count): those holding the middle frame of each of *count* equal
    stretches of the film, or every segment of a film of no more. Chosen by time, not by
    number, so a cut changed elsewhere leaves them, and every encode that starts from their
    calibration, as they were."""
    if len(frames) <= count:
        return list(range(len(frames)))
    ends, total = list(itertools.accumulate(frames)), sum(frames)
    return sorted({bisect.bisect_right(ends, (2 * i + 1) * total // (2 * count))
                   for i in range(count)})


# The calibration grows with the film: a segment in this many is a calibration segment (at
# least calibration_segments of them), so that its variety is sampled (bench/mixed.py).
SEGMENTS_PER_SAMPLE = 16
# A segment's first encode starts from where this many calibration segments nearest it in
# the source's bytes per frame crossed the target (their median) ...
NEAREST = 3
# Of those, the ones at most this many times as far as the nearest (or within
# NEAREST_CLOSE of it, in the logarithm of the bytes per frame: 5 %): on a 2-hour film of
# eight kinds of picture, the median of 3 missed a segment's crossing by 7.9 CRF steps on
# average, the nearest alone by 5.3, these by 5.4 (and by 4.7 against 4.4 and 5.6 among the
# calibration segments, each left out in turn).
NEAREST_SPREAD = 2.0
NEAREST_CLOSE = 0.05
# ... when there are this many calibration segments or more, and, each left out in turn, the
# nearest predicted its crossing with at most this share of the film median's error.
NEAREST_LEAST = 12
NEAREST_GAIN = 0.75


def wave_size(segments: int, least: int) -> int:
    """How many calibration segments a film of *segments* segments has."""
    return max(least, -(-segments // SEGMENTS_PER_SAMPLE))


def _near(points: Sequence[CalibrationSegment], bytes_per_frame: float
          ) -> list[CalibrationSegment]:
    """The NEAREST calibration segments to *bytes_per_frame* (in its logarithm), but those
    more than NEAREST_SPREAD times as far as the nearest one: between two kinds of picture
    the nearer kind decides."""
    x = math.log(bytes_per_frame)

    def far(p: CalibrationSegment) -> float:
        return abs(math.log(p.bytes_per_frame or 1) - x)
    near = sorted((p for p in points if p.bytes_per_frame), key=lambda p: (far(p), p.start))
    if not near:
        return []
    reach = max(NEAREST_CLOSE, NEAREST_SPREAD * far(near[0]))
    return [p for p in near[:NEAREST] if far(p) <= reach]


def nearest_crossing(points: Sequence[CalibrationSegment], bytes_per_frame: float) -> float:
    """The median crossing of the calibration segments nearest *bytes_per_frame*."""
    return float(statistics.median(p.fast_crf for p in _near(points, bytes_per_frame)))


def nearest_model(used: Sequence[CalibrationSegment]) -> Nearest | None:
    """Whether the source's bytes per frame predict the segments' crossings, by leaving
    each calibration segment out in turn: the mean error of the film's median against that
    of its nearest; None with fewer than NEAREST_LEAST segments that know their bytes.
    On a film of one kind of picture the median wins (the bytes say little); on one that
    mixes kinds (test cards, animation, live action) the nearest do."""
    known = [u for u in used if u.bytes_per_frame]
    if len(known) < NEAREST_LEAST:
        return None
    by_median, by_nearest = [], []
    for u in known:
        rest = [v for v in known if v is not u]
        by_median.append(abs(u.fast_crf - statistics.median(v.fast_crf for v in rest)))
        by_nearest.append(abs(u.fast_crf - nearest_crossing(rest, u.bytes_per_frame or 1)))
    median_error, nearest_error = statistics.fmean(by_median), statistics.fmean(by_nearest)
    return Nearest(round(median_error, 3), round(nearest_error, 3),
                   nearest_error <= NEAREST_GAIN * median_error)


def film_aim(kept: Sequence[tuple[int, float]], film_frames: int, target: float,
             band: tuple[float, float]) -> float | None:
    """Where the film's other segments aim, so that its mean comes to *target* without a
    balance: as far from the middle of the *band* as the calibration segments' mean
    (*kept*: their frames and kept VMAF) is on the other side, weighed by the share of the
    film the others are; at most half the band's side from the target. The segments that
    cannot move (above the band at crf_max, a still picture) hold a film's mean up; the
    others make up for it. None with fewer than NEAREST_LEAST segments (too few to say
    where the film's mean goes), or when the calibration is all of the film."""
    frames = sum(f for f, _ in kept)
    if len(kept) < NEAREST_LEAST or not frames or film_frames <= frames:
        return None
    low, high = band
    middle = (low + high) / 2
    off = sum(f * v for f, v in kept) / frames - target
    aim = middle - off * film_frames / (film_frames - frames)
    return round(min(max(aim, target - (target - low) / 2), target + (high - target) / 2), 3)


def bytes_per_frame(source_bytes: int | None, frames: int) -> float | None:
    return round(source_bytes / frames, 1) if source_bytes and frames else None


def run_calibration(records: list[Path], target: Path, film_frames: int = 0) -> None:
    """calibration.json from the calibration segments' records: the medians of what the
    segments that reached the target measured (one pinned at a bound says nothing). The
    slope is the median of those that measured their own (two encodes or two probes; one
    measurement only repeats the slope it was assumed with), else the default. On a long
    film (*film_frames*), where the others aim (:func:`film_aim`) and whether they start
    from their nearest (:func:`nearest_model`)."""
    used, targets = [], set[float]()
    kept: list[tuple[int, float]] = []
    bands = set[tuple[float, float]]()
    for path in records:
        r = SegmentRecord.read(path)
        if r.scored is None:
            continue
        targets.add(r.scored.target_vmaf)
        kept.append((r.frames, r.scored.vmaf))
        bands.add(tuple(r.scored.band))  # type: ignore[arg-type]
        s = r.scored.search
        shift = implied_shift(r)
        if r.scored.reached and s.finals and shift is not None:
            used.append(CalibrationSegment(
                r.start, r.crf, s.fast_crf, s.slope, shift,
                own_slope=len(s.finals) >= 2 or len(s.probes) >= 2,
                bytes_per_frame=bytes_per_frame(r.scored.source_bytes, r.frames)))
    data = Calibration(tuple(used), targets.pop() if len(targets) == 1 else None)
    if used:
        slopes = [u.slope for u in used if u.own_slope] or [quality.DEFAULT_SLOPE]
        data = dataclasses.replace(
            data, shift=round(statistics.median(u.shift for u in used), 3),
            slope=round(statistics.median(slopes), 4),
            fast_crf=round(statistics.median(u.fast_crf for u in used), 3),
            crf=statistics.median(u.crf for u in used), nearest=nearest_model(used))
        if data.target is not None and len(bands) == 1:
            aim = film_aim(kept, film_frames, data.target, next(iter(bands)))
            data = dataclasses.replace(data, aim=aim)
    data.write(target)


def state_key(q: Quality, probe_settings: Mapping[str, Any], prior: Prior) -> str:
    return make_key("search", SCHEMA, dataclasses.asdict(q), dict(probe_settings),
                    dataclasses.asdict(prior))


def known_probes(record: Path, probe_settings: Mapping[str, Any]) -> dict[float, Measurement]:
    """Probes this segment's previous search measured with the same probe settings (another
    target, say): the search takes their figures instead of encoding them again. Only the
    CRFs it asks for are taken, so the result is that of a search from nothing."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        before = SegmentRecord.read(record).scored
        if before and before.search.probe_settings == dict(probe_settings):
            return {float(p.crf): Measurement(p.vmaf, p.bytes) for p in before.search.probes}
    return {}


def implied_shift(record: SegmentRecord) -> float | None:
    """From a verified segment: how far above its fast-preset CRF the final preset reached
    the target (None if the record holds no search, or no final encode)."""
    if record.scored is None or not record.scored.search.finals:
        return None
    s = record.scored.search
    crf, _ = quality.solve({float(f.crf): f.vmaf for f in s.finals}, s.target, s.slope)
    return float(crf - s.fast_crf)


def shift_of(records: Iterable[SegmentRecord], preset: int, search_preset: int
             ) -> tuple[float, str]:
    """The shift to predict with, and where it came from: the median over the given
    verified segments (the film's calibration), else the default."""
    shifts = [s for r in records if (s := implied_shift(r)) is not None]
    if shifts:
        return statistics.median(shifts), f"{len(shifts)} calibration segments"
    return quality.DEFAULT_SHIFT_PER_PRESET * (search_preset - preset), "default"


@dataclass(frozen=True)
class Outcome:
    crf: float               # the final encode kept
    reached: bool            # within the band kept
    fast_crf: float
    slope: float
    predicted: float


# measure(crf, final) -> the measurement of a probe (final=False) or a final encode.
Measure = Callable[[float, bool], Measurement]


def run(state: SearchState, prior: Prior, goal: quality.Target, direct: bool,
        measure: Measure, save: Callable[[], None],
        known: Mapping[float, Measurement] | None = None) -> Outcome:
    """The search of one segment from *state* on: probes (none when *direct*: a probe would
    be a final encode), then final encodes and their corrections. A segment encoded again
    by the balance keeps the encode nearest the target that is not below the band."""
    known = known or {}

    def take(crf: float, final: bool) -> None:
        kind = state.finals if final else state.probes
        kind[crf] = known[crf] if not final and crf in known else measure(crf, final)
        save()

    def vmafs(ms: dict[float, Measurement]) -> dict[float, float]:
        return {c: m.vmaf for c, m in ms.items()}

    while not direct and (nxt := quality.next_probe(
            vmafs(state.probes), goal, prior.slope, prior.shift, prior.band)
            if state.probes else prior.first_probe) is not None:
        take(nxt, final=False)
    probes = vmafs(state.probes)
    if direct:
        fast_crf, slope = prior.first_probe, prior.slope
    else:
        fast_crf, slope = quality.solve(probes, goal.vmaf, prior.slope)
    predicted = quality.predict(fast_crf, prior.shift, goal, slope)
    searched: dict[float, Measurement] = {}   # the finals this search asked for
    while (crf := quality.next_final(
            vmafs(searched), predicted,
            quality.correction_slope(probes, vmafs(searched), prior.shift, slope),
            goal)) is not None:
        if crf not in state.finals:
            take(crf, final=True)
        searched[crf] = state.finals[crf]
    finals = vmafs(searched)
    if direct:  # what the calibration learns: this segment's own crossing and slope
        fast_crf, slope = quality.solve(finals, goal.vmaf, slope)
    chosen, within = quality.choose(finals, goal)
    if prior.source == "balance":
        chosen = quality.choose_nearest(finals, goal.vmaf, goal.vmaf - goal.tolerance)
        within = goal.within(finals[chosen])
    return Outcome(chosen, within, fast_crf, slope, predicted)
