"""What the benchmarks share."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def workspace(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary folder for one benchmark run, removed at the end unless *keep*."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def record_of(work: Path, sid: str) -> dict[str, Any]:
    """The record of the encode of segment *sid* that the film was joined from, by the
    film's decisions: encoded again for the film's mean, its calibration sample (unless the
    target was lowered), or its encode."""
    def read(name: str) -> Any:
        path = work / name
        return json.loads(path.read_text()) if path.exists() else None
    balance, size = read("balance.json") or {}, read("size.json")
    folder = "encoded"
    if sid in balance.get("segments", {}):
        folder = "balanced"
    elif (work / "calibration" / f"{sid}.json").exists() and size and \
            size["target"] == size["asked"]:
        folder = "calibration"
    return dict(read(f"{folder}/{sid}.json"))
