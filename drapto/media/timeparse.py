"""Times for start=, end=, duration=: 90, 90s, 1:30, 01:02:03.5, 1h30m, 2m5.5s."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from drapto.errors import DraptoError


class Clip(NamedTuple):
    """A clip's range on the input's timeline, µs from its start; no end: to the end of the
    file. Written to JSON (scenes.json, keys) as ``[start, end]``."""
    start_us: int
    end_us: int | None

    @classmethod
    def of(cls, value: Sequence[int | None] | None) -> Clip | None:
        """A clip from its JSON form (or None: the whole file)."""
        if not value:
            return None
        start, end = value
        return cls(int(start or 0), None if end is None else int(end))

    @property
    def length_us(self) -> int | None:
        return None if self.end_us is None else self.end_us - self.start_us

_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s?$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$")
_UNITS = re.compile(r"^(?=\d)(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_time(name: str, text: str) -> float:
    """Seconds from *text*; DraptoError naming the variable when it is not a time."""
    t = text.strip().lower()
    if m := _SECONDS.match(t):
        return float(m.group(1))
    if m := _CLOCK.match(t):
        h, mi, s = m.groups()
        if float(s) < 60 and (h is None or int(mi) < 60):
            return int(h or 0) * 3600 + int(mi) * 60 + float(s)
    if (m := _UNITS.match(t)) and any(m.groups()):
        h, mi, s = (float(g or 0) for g in m.groups())
        return h * 3600 + mi * 60 + s
    raise DraptoError(f"{name}={text}: not a time (e.g. 90, 90s, 1:30, 01:02:03.5, 1h30m)")


def clip_range(start: str | None, end: str | None, duration: str | None) -> Clip | None:
    """(start, end) in µs from the start= end= duration= variables (end None: to the end of
    the file), or None when none is given."""
    if start is None and end is None and duration is None:
        return None
    if end is not None and duration is not None:
        raise DraptoError("give end= or duration=, not both")
    first = parse_time("start", start) if start is not None else 0.0
    last = None
    if end is not None:
        last = parse_time("end", end)
        if last <= first:
            raise DraptoError(f"end={end} is not after start={start or 0}")
    elif duration is not None:
        length = parse_time("duration", duration)
        if length <= 0:
            raise DraptoError(f"duration={duration}: must be longer than zero")
        last = first + length
    return Clip(round(first * 1e6), None if last is None else round(last * 1e6))
