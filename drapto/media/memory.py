"""Memory-aware parallelism.

How much one encode needs: a table by output height (``memory_estimates``), replaced by
what encodes of that height and preset were measured to peak at (psutil on the FFmpeg
child, remembered in the cache folder). How much all encodes may take together:
``memory_budget``, a machine-wide budget kept in a ledger file that every drapto run on
the machine (for this user) shares: an encode reserves its estimate before it starts and
waits while the budget is taken; it never fails for it. Reservations of processes that
died are ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.files import locked, write_json
from drapto.media import proc

log = logging.getLogger("drapto")
MIB = 2**20
AUTO_SHARE = 0.75
_BUDGET = re.compile(r"^(auto|(\d+(?:\.\d+)?)([MG%]))$")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "drapto"


@contextlib.contextmanager
def locked_cache(name: str) -> Iterator[Path]:
    folder = cache_dir()
    with locked(folder / f"{name}.lock"):
        yield folder / f"{name}.json"


def load_cache(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_cache(path: Path, data: Any) -> None:
    write_json(path, data, leased=False)  # the machine's, not a work folder's


def _learned_key(height: int, preset: int) -> str:
    return f"{height}p preset {preset}"


def estimate_mib(height: int, preset: int, table: Mapping[int, int]) -> int:
    """One encode's expected peak (MiB): measured before for this height and preset, else
    the table's entry for the smallest height at least this one (or its largest)."""
    learned = load_cache(cache_dir() / "memory.json") or {}
    if _learned_key(height, preset) in learned:
        return int(learned[_learned_key(height, preset)])
    rows = sorted(table.items())
    return next((mib for h, mib in rows if height <= h), rows[-1][1])


def learn(height: int, preset: int, peak_bytes: int) -> None:
    """Remember an encode's measured peak (the largest seen per height and preset)."""
    if peak_bytes <= 0:
        return
    with locked_cache("memory") as path:
        data = load_cache(path) or {}
        key = _learned_key(height, preset)
        data[key] = max(int(data.get(key, 0)), -(-peak_bytes // MIB))
        save_cache(path, data)


def budget_mib(spec: str, reserved_mib: int = 0, available: int | None = None) -> int:
    """The machine-wide budget: ``auto`` (75 % of what is available to drapto: free memory
    plus what drapto's running encodes hold), ``N%`` of that, or ``NM``/``NG``."""
    m = _BUDGET.match(spec)
    if not m:
        raise DraptoError(f"memory_budget {spec!r}: expected auto, N%, NM or NG")
    if m.group(2) and m.group(3) in "MG":
        return int(float(m.group(2)) * (1024 if m.group(3) == "G" else 1))
    share = AUTO_SHARE if m.group(1) == "auto" else float(m.group(2)) / 100
    free = available_bytes() if available is None else available
    return int(share * (free // MIB + reserved_mib))


def available_bytes() -> int:
    """Memory available to new processes: the kernel's MemAvailable, read directly on Linux
    (what psutil reads, without importing it on every run), else psutil's."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/meminfo", encoding="ascii") as fh:
            line = next(x for x in fh if x.startswith("MemAvailable:"))
        return int(line.split()[1]) * 1024
    import psutil

    return int(psutil.virtual_memory().available)


def worker_count(estimate: int, budget: int, cores: int | None = None) -> int:
    """Parallel encodes: at most one per core, and as many estimates as fit the budget."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, budget // max(1, estimate)))


def _alive(entry: Mapping[str, Any]) -> bool:
    import psutil

    try:
        return bool(psutil.Process(entry["pid"]).create_time() == entry["started"])
    except (psutil.Error, KeyError, TypeError):
        return False


@contextlib.contextmanager
def reserve(mib: int, spec: str, label: str) -> Iterator[int]:
    """Hold *mib* of the machine-wide budget while the block runs; wait until it fits (an
    encode alone always fits, however large). Yields how many encodes hold the budget now,
    this one included."""
    import psutil

    me = {"id": secrets.token_hex(6), "pid": os.getpid(), "mib": mib, "label": label,
          "started": psutil.Process().create_time()}
    waited = False
    while True:
        with locked_cache("ledger") as path:
            entries = [e for e in (load_cache(path) or []) if _alive(e)]
            held = sum(int(e["mib"]) for e in entries)
            budget = budget_mib(spec, held)
            if not entries or held + mib <= budget:
                save_cache(path, [*entries, me])
                running = len(entries) + 1
                break
        if not waited:
            log.info("memory: %s waits for %d MiB (%d of %d MiB held)", label, mib, held,
                     budget)
            waited = True
        if proc.stopping():
            raise DraptoError(f"{label}: interrupted")
        time.sleep(0.25)
    log.info("memory: %s holds %d MiB (%d of %d MiB held)", label, mib, held + mib, budget)
    try:
        yield running
    finally:
        with locked_cache("ledger") as path:
            save_cache(path, [e for e in (load_cache(path) or []) if e.get("id") != me["id"]])


def svt_threads(workers: int, cores: int | None = None) -> int:
    """SVT-AV1 ``lp`` per encode: twice the encode's share of the cores (at most all of
    them), so that the workers together fill the cores even when some wait on their input
    or the last segments of a run encode alone (measured: a 2-segment film on 2 cores
    took 15 % less time with lp=2 than with lp=1 per encode)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, 2 * cores // max(1, workers)))
