"""Quality targeting: the decisions of the CRF search, as pure functions of measurements.

Per segment (the loop itself is :mod:`drapto.quality.search`):
1. *Probes*: the middle of the segment at a fast preset, scored on every frame, give the
   fast-preset curve and the CRF where it crosses the target (:func:`solve`).
2. *Prediction*: the final preset reaches a given VMAF a *shift* above the fast-preset CRF;
   the shift comes from the film's calibration (:func:`drapto.search.shift_of`), else
   a default (DEFAULT_SHIFT_PER_PRESET).
3. *Verification*: the final encode is scored in the FFmpeg run that makes it; outside
   the band (``target - tolerance`` to ``target + overshoot``) it is re-encoded at a
   corrected CRF (:func:`next_final`).

Tested on recorded tables (tests/test_quality.py); the measurements behind the constants
are in docs/pages/benchmarks.md and git history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# Curves are modelled as ln(100 - VMAF) linear in CRF, which interpolates and extrapolates
# far better than VMAF itself; slopes are in those units per CRF step.
DEFAULT_SLOPE = 0.08
SLOPE_BOUNDS = (0.01, 0.4)
MAX_PROBES = 3
# Two close measurements' own slope is taken down to this share of the assumed one, no
# lower: a few CRF steps apart, noise can hide the whole difference.
MIN_SLOPE_SHARE = 0.5
# The farthest a probe goes from the nearest one, in CRF steps: extrapolated from far above
# the target, a slope measured near it overshoots (the curve is steeper near VMAF 100).
MAX_STEP = 8.0
# One probe is enough within this many tolerances of the target when the film's slope is
# known (the calibration), within the second otherwise.
ONE_PROBE_BAND = 2.0
ONE_PROBE_BAND_UNKNOWN_SLOPE = 0.5
# Above this VMAF the curve flattens: a probe there brackets the target without telling
# where it is crossed, and a third probe goes to the crossing.
SATURATED = 99.0
# CRF steps past a bound at which two probes' crossing is taken as beyond it.
BOUND_MARGIN = 2.0
# CRF steps the final preset sits above the probe preset, per preset of difference, when
# nothing was measured (measured on Big Buck Bunny and bikes by a probe bench since retired:
# git log -- bench/probes.py).
DEFAULT_SHIFT_PER_PRESET = 0.6
# The smallest CRF step: SVT-AV1 takes CRF in quarter steps.
STEP = 0.25


@dataclass(frozen=True)
class Target:
    vmaf: float
    tolerance: float      # a final encode down to vmaf - tolerance is kept
    crf_min: float
    crf_max: float
    attempts: int         # final encodes at most, per segment
    overshoot: float | None = None   # ... and up to vmaf + overshoot (None: the tolerance)
    aim_at: float | None = None      # the VMAF aimed at, when not the band's middle

    @property
    def above(self) -> float:
        return self.tolerance if self.overshoot is None else self.overshoot

    @property
    def aim(self) -> float:
        """The VMAF the search aims at: the middle of the band it keeps, so that a first
        encode off by the same amount either way is kept; or where the film's calibration
        puts it (*aim_at*: :func:`drapto.search.film_aim`)."""
        if self.aim_at is not None:
            return self.aim_at
        return self.vmaf + (self.above - self.tolerance) / 2

    def within(self, vmaf: float) -> bool:
        return self.vmaf - self.tolerance <= vmaf <= self.vmaf + self.above

    def band_text(self) -> str:
        """93 ± 1, or 93 (-1/+2)."""
        if self.above == self.tolerance:
            return f"{self.vmaf:g} ± {self.tolerance:g}"
        return f"{self.vmaf:g} (-{self.tolerance:g}/+{self.above:g})"

    def clamp(self, crf: float) -> float:
        return max(self.crf_min, min(self.crf_max, quarter(crf)))


def quarter(crf: float) -> float:
    return round(crf / STEP) * STEP


def loss(vmaf: float) -> float:
    """The modelled quantity: ln(100 - VMAF), linear in CRF."""
    return math.log(max(0.05, 100.0 - vmaf))


def _slope(a: tuple[float, float], b: tuple[float, float]) -> float | None:
    (ca, va), (cb, vb) = a, b
    if ca == cb or va == vb:
        return None
    return min(SLOPE_BOUNDS[1], max(SLOPE_BOUNDS[0], (loss(vb) - loss(va)) / (cb - ca)))


def solve(points: Mapping[float, float], vmaf: float, slope: float = DEFAULT_SLOPE,
          ) -> tuple[float, float]:
    """Where a CRF -> VMAF curve crosses *vmaf*: interpolated between the two measurements
    that bracket it, else extrapolated from the two nearest (or from one with *slope*).
    Returns the (unrounded) CRF and the slope used."""
    if not points:
        raise ValueError("no measurement")
    ordered = sorted(points.items())
    above = [p for p in ordered if p[1] >= vmaf]   # low CRFs, high VMAF
    below = [p for p in ordered if p[1] < vmaf]
    if above and below and above[-1][0] < below[0][0]:
        a, b = above[-1], below[0]
        s = _slope(a, b) or slope
        return a[0] + (loss(vmaf) - loss(a[1])) / (loss(b[1]) - loss(a[1])) * (b[0] - a[0]), s
    near = sorted(ordered, key=lambda p: abs(p[1] - vmaf))[:2]
    if len(near) == 2 and (s2 := _slope(*sorted(near))) is not None:
        # Far enough apart, their own slope is not noise: a segment whose quality hardly
        # follows CRF (noise-like pictures) must go far to reach the target.
        apart = abs(near[0][0] - near[1][0]) >= FLAT_SPAN
        slope = s2 if apart else max(s2, slope * MIN_SLOPE_SHARE)
    c, v = near[0]
    return c + (loss(vmaf) - loss(v)) / slope, slope


def bracketed(points: Mapping[float, float], vmaf: float) -> bool:
    above = [c for c, v in points.items() if v >= vmaf]
    below = [c for c, v in points.items() if v < vmaf]
    return bool(above and below and max(above) < min(below))


def next_probe(probes: Mapping[float, float], target: Target, slope: float,
               shift: float = 0.0, band: float = ONE_PROBE_BAND) -> float | None:
    """The CRF of the next probe, or None when the probes are enough: one within *band*
    tolerances of the target (from there the film's slope carries the crossing closer
    than the shift's own spread), two on either side of the target (a third at the
    crossing between them when the one above is SATURATED), or MAX_PROBES.
    Each further probe is aimed a point past the target from the nearest, so that two
    bracket it, at most MAX_STEP from it.

    Probes stay within the CRF bounds moved by *shift* (what the final preset's bounds are
    at the probe preset), and stop once two put the crossing BOUND_MARGIN past one: a
    segment above the target even at ``crf_max`` (a title card, a black screen) is encoded
    there whatever a further probe says."""
    if any(abs(v - target.vmaf) <= target.tolerance * band for v in probes.values()):
        return None
    if len(probes) >= MAX_PROBES:
        return None
    low, high = probe_bounds(target, shift)
    if bracketed(probes, target.vmaf):
        above = max(c for c, v in probes.items() if v >= target.vmaf)
        if probes[above] < SATURATED:
            return None
        crf = float(max(low, min(high, round(solve(probes, target.vmaf, slope)[0]))))
        return None if crf in probes else crf
    if len(probes) >= 2:  # two probes put the crossing well past a bound: the final is there
        crossing, _ = solve(probes, target.vmaf, slope)
        if not low - BOUND_MARGIN < crossing < high + BOUND_MARGIN:
            return None
    c, v = min(probes.items(), key=lambda p: abs(p[1] - target.vmaf))
    past = target.vmaf + (-1.0 if v > target.vmaf else 1.0)
    crf, _ = solve(probes, past, slope)
    step = crf - c
    step = math.copysign(min(MAX_STEP, max(2.0, abs(step))), step)
    nxt = float(max(low, min(high, round(c + step))))
    return None if nxt in probes else nxt


def probe_bounds(target: Target, shift: float) -> tuple[float, float]:
    """The probe preset's CRFs that correspond to the final preset's bounds (whole steps)."""
    low = max(0.0, min(63.0, float(math.floor(target.crf_min - shift))))
    return low, max(low, min(63.0, float(math.ceil(target.crf_max - shift))))


def predict(fast_crf: float, shift: float, target: Target, slope: float = DEFAULT_SLOPE
            ) -> float:
    """The first final encode's CRF: where the target is crossed (*fast_crf* moved by the
    *shift*), moved by *slope* to the target's aim."""
    return target.clamp(fast_crf + shift + (loss(target.aim) - loss(target.vmaf)) / slope)


# CRF steps at most that a first encode at NEAR_CEILING or above moves the next up: the
# curve is flatter there than ln(100 - VMAF) says, and the film's slope from 98.9 at CRF
# 31.5 sent a segment to 63 (16.2), where 43.5 is within the band (recorded, mixed film).
MAX_UP_STEP = 12.0
NEAR_CEILING = 98.0
# Encodes past the attempts for a segment whose encodes all landed below the band: its
# quality floor is a promise, the attempts a budget for landing inside the band.
FLOOR_ATTEMPTS = 2


def below(finals: Mapping[float, float], target: Target) -> bool:
    """Whether every final encode landed below the band."""
    return all(v < target.vmaf - target.tolerance for v in finals.values())


def limit(finals: Mapping[float, float], target: Target) -> int:
    """The final encodes a segment may spend: the attempts, and FLOOR_ATTEMPTS more while
    every one is below the band (not when the attempts are 1: one encode was asked for)."""
    return target.attempts + (FLOOR_ATTEMPTS if below(finals, target) and target.attempts > 1
                              else 0)


def next_final(finals: Mapping[float, float], predicted: float, slope: float,
               target: Target) -> float | None:
    """The CRF of the next final encode, or None when the search is over: one was within
    the band, the attempts are spent (:func:`limit`), or the bounds stop it. A correction
    aims at ``target.aim``; past the attempts, at the target by the segment's own slope."""
    if not finals:
        return predicted
    if any(target.within(v) for v in finals.values()) or len(finals) >= limit(finals, target):
        return None
    if flat(finals):
        # Below the band, only crf_min tells a still picture from a slowly rising one.
        low = target.clamp(target.crf_min)
        return low if below(finals, target) and low not in finals else None
    # Past the attempts, a segment below the band aims at the target itself, not under it,
    # by its own slope: its curve flattens there (4 encodes crept from 84.3 to 90.6).
    rescue = len(finals) >= target.attempts
    aim = max(target.aim, target.vmaf) if rescue else target.aim
    crf, _ = solve(finals, aim, SLOPE_BOUNDS[0] if rescue else slope)
    if len(finals) == 1:
        (c, v), = finals.items()
        if v >= NEAR_CEILING:  # there one encode says little of how far the curve falls
            crf = min(crf, c + MAX_UP_STEP)
    crf = target.clamp(crf)
    if crf in finals:  # rounding landed on a CRF measured already: a quarter step on
        best = min(finals, key=lambda c: abs(finals[c] - aim))
        crf = target.clamp(best + (STEP if finals[best] > aim else -STEP))
    return None if crf in finals else crf


# Two encodes this many CRF steps apart or more are far enough to tell a flat curve from
# noise: a real curve's slope (0.03 and up) moves VMAF about a point over them, noise a few
# tenths (recorded: 94.22 and 94.16 at CRF 35.5 and 38 on a real segment).
FLAT_SPAN = 6.0


def flat(finals: Mapping[float, float]) -> bool:
    """Whether the segment's quality does not follow CRF: two neighbouring encodes at least
    FLAT_SPAN apart measured no loss of quality (slope under SLOPE_BOUNDS[0]), or a gain,
    at the higher CRF. A still card or an empty picture scores the same at any CRF: a
    further encode would land where these did."""
    points = sorted(finals.items())
    return any(c2 - c1 >= FLAT_SPAN and (loss(v2) - loss(v1)) / (c2 - c1) < SLOPE_BOUNDS[0]
               for (c1, v1), (c2, v2) in zip(points, points[1:]))


def correction_slope(probes: Mapping[float, float], finals: Mapping[float, float],
                     shift: float, slope: float) -> float:
    """The slope to correct a missed first final encode with. A single probe measured no
    slope (the film's was assumed); the probe moved by the shift and the final encode are
    two points of the final curve, and give this segment's own. Two probes measured one."""
    if len(probes) != 1 or len(finals) != 1:
        return slope
    (cp, vp), = probes.items()
    (cf, vf), = finals.items()
    if abs(cf - (cp + shift)) < 1.0:
        return slope  # too close to tell
    own = (loss(vf) - loss(vp)) / (cf - cp - shift)
    if own <= 0:
        return slope  # the shift was wrong for this segment: the two points disagree
    return min(SLOPE_BOUNDS[1], max(SLOPE_BOUNDS[0], own))


def choose(finals: Mapping[float, float], target: Target) -> tuple[float, bool]:
    """The final encode to keep, and whether it is within the tolerance: the highest CRF
    within it (fewest bytes); else the highest at the target or above; else the best."""
    inside = [c for c, v in finals.items() if target.within(v)]
    if inside:
        return max(inside), True
    passing = [c for c, v in finals.items() if v >= target.vmaf]
    if passing:
        return max(passing), False
    return max(finals, key=lambda c: finals[c]), False


def choose_nearest(finals: Mapping[float, float], vmaf: float, floor: float) -> float:
    """The final encode nearest to *vmaf* among those not below *floor* (else the best): a
    segment encoded again for the film's mean is kept for where it lands, not for bytes."""
    fair = [c for c, v in finals.items() if v >= floor] or [max(finals, key=finals.__getitem__)]
    return min(fair, key=lambda c: (abs(finals[c] - vmaf), -c))
