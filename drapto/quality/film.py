"""Film-level decisions of quality targeting, as pure functions of recorded encodes.

- *Size* (``size.json``): from the calibration segments' curves, the film's AV1 video bytes
  at the target, against the source's video bytes; over ``max_encoded_percent``, what
  ``over_cap`` says: skip the film, lower its target once for the whole film, or encode.
- *Balance* (``balance.json``): once every segment has its first kept encode, the film's
  frame-weighted mean VMAF; when it is further than ``film_tolerance`` from the target,
  the segments farthest off on that side are encoded again at the CRF their own curve puts
  at the target, until the predicted mean is within half the tolerance (three quarters
  on a film of BALANCE_MANY segments or more).

Both read declared artifacts only (the records they are handed), so their decisions, and
the bytes that follow, do not depend on worker order, kills or history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from drapto.media.records import SegmentRecord, SizeDecision
from drapto.quality import decisions as quality

# ln(bytes) per CRF step of SVT-AV1 (bytes about halve every 6 steps), when a segment has
# one measured encode only.
BYTES_SLOPE = 0.12
# The balance moves segments until the predicted mean is within this share of the
# tolerance: what each lands at varies a point or so either way. On a film of BALANCE_MANY
# segments or more that averages out over the many it moves, and it stops sooner.
BALANCE_TO = 0.5
BALANCE_TO_MANY = 0.75
BALANCE_MANY = 100
# How far below the asked target over_cap=lower may go.
LOWEST_TARGET_DROP = 40.0


@dataclass(frozen=True)
class Curve:
    """A segment's final-preset curve, from its measured encodes: CRF -> (VMAF, bytes)."""
    start: int
    frames: int
    points: Mapping[float, tuple[float, int]]
    slope: float                      # of ln(100 - VMAF) per CRF step
    kept: float                       # the CRF of the encode kept
    source_bytes: int | None = None

    @classmethod
    def of(cls, record: SegmentRecord) -> Curve:
        """The curve of a segment's record, which holds a search."""
        assert record.scored is not None
        s = record.scored.search
        return cls(int(record.start), int(record.frames),
                   {float(f.crf): (float(f.vmaf), int(f.bytes)) for f in s.finals},
                   float(s.slope), float(record.crf), record.scored.source_bytes)

    @property
    def vmaf(self) -> float:
        """The kept encode's VMAF."""
        return self.points[self.kept][0]

    def crf_for(self, vmaf: float, low: float, high: float) -> float:
        """The CRF (quarter step, within the bounds) where the curve crosses *vmaf*."""
        crf, _ = quality.solve({c: v for c, (v, _) in self.points.items()}, vmaf, self.slope)
        return max(low, min(high, quality.quarter(crf)))

    def vmaf_at(self, crf: float) -> float:
        """VMAF at *crf*, from the nearest encode along the curve's slope."""
        c, (v, _) = min(self.points.items(), key=lambda p: abs(p[0] - crf))
        return 100 - math.exp(quality.loss(v) + self.slope * (crf - c))

    def bytes_at(self, crf: float) -> float:
        """Bytes at *crf*: ln(bytes) linear in CRF through the two nearest encodes (one:
        BYTES_SLOPE)."""
        near = sorted(self.points.items(), key=lambda p: abs(p[0] - crf))[:2]
        (c0, (_, b0)) = near[0]
        slope = BYTES_SLOPE
        if len(near) == 2:
            (c1, (_, b1)) = near[1]
            if c1 != c0 and b1 != b0 and b0 > 0 and b1 > 0:
                slope = min(0.4, max(0.02, (math.log(b0) - math.log(b1)) / (c1 - c0)))
        return b0 * math.exp(-slope * (crf - c0))


def predicted_percent(curves: Sequence[Curve], vmaf: float, low: float, high: float
                      ) -> float | None:
    """The film's AV1 video at *vmaf*, in % of the source's, from *curves* (the calibration
    segments; None when the source's share of them is unknown)."""
    spent = sum(c.source_bytes or 0 for c in curves)
    if not curves or not spent or any(not c.source_bytes for c in curves):
        return None
    return 100 * sum(c.bytes_at(c.crf_for(vmaf, low, high)) for c in curves) / spent


def decide_size(curves: Sequence[Curve], target: float, cap: float, over_cap: str,
                low: float, high: float) -> SizeDecision:
    """What size.json says: encode or skip, the target the film is encoded at (the asked
    one, or the lowered one), and the figures behind it."""
    pct = predicted_percent(curves, target, low, high)
    out = SizeDecision(target, target, cap, over_cap, "encode",
                       None if pct is None else round(pct, 1),
                       bool(cap and pct is not None and pct > cap))
    if not out.over or over_cap == "encode":
        return out
    if over_cap == "skip":
        return replace(out, action="skip")
    lo, hi = target - LOWEST_TARGET_DROP, target
    reached = predicted_percent(curves, lo, low, high)
    assert reached is not None
    if reached > cap:  # over even at crf_max: where the last curve reaches it
        lowered = math.floor(min(c.vmaf_at(high) for c in curves) * 10) / 10
    else:
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if (predicted_percent(curves, mid, low, high) or 0) <= cap \
                else (lo, mid)
        lowered = math.floor(lo * 10) / 10
    at = predicted_percent(curves, lowered, low, high)
    return replace(out, target=lowered, lowered_percent=None if at is None else round(at, 1),
                   cap_met=bool(at is not None and at <= cap))


def film_mean(curves: Sequence[Curve]) -> float:
    """The frame-weighted mean of the kept encodes' VMAF."""
    frames = sum(c.frames for c in curves)
    return sum(c.vmaf * c.frames for c in curves) / frames


def decide_balance(curves: Sequence[Curve], target: float, tolerance: float, low: float,
                   high: float) -> dict[int, float]:
    """Segments (by first frame) to encode again, and at which CRF, so that the film's mean
    comes within *tolerance* of *target*: none when it is; else, the segments farthest
    from the target on the side the mean is off, each moved to the target by its own
    curve, until the predicted mean is within half the tolerance (BALANCE_TO; on a film of
    BALANCE_MANY segments, BALANCE_TO_MANY)."""
    if not curves:
        return {}
    mean, frames = film_mean(curves), sum(c.frames for c in curves)
    if abs(mean - target) <= tolerance:
        return {}
    side = 1.0 if mean > target else -1.0
    share = BALANCE_TO_MANY if len(curves) >= BALANCE_MANY else BALANCE_TO
    movers = sorted((c for c in curves if (c.vmaf - target) * side > 0),
                    key=lambda c: (-abs(c.vmaf - target), c.start))
    chosen: dict[int, float] = {}
    for c in movers:
        if abs(mean - target) <= tolerance * share:
            break
        if quality.flat({crf: v for crf, (v, _) in c.points.items()}):
            continue  # its quality does not follow CRF: encoding it again would not move it
        crf = c.crf_for(target, low, high)
        if crf == c.kept:
            continue  # at a bound already, or within a quarter step of it
        chosen[c.start] = crf
        mean += (target - c.vmaf) * c.frames / frames
    return chosen
