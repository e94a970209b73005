"""A minimal PGS (Blu-ray image subtitle, .sup) writer: FFmpeg has no PGS encoder, and
image-based subtitles are what Blu-ray remuxes carry."""

from __future__ import annotations

import struct
from pathlib import Path


def _segment(kind: int, pts: int, data: bytes) -> bytes:
    return b"PG" + struct.pack(">IIBH", pts, 0, kind, len(data)) + data


def _rle_box(w: int, h: int, color: int) -> bytes:
    line = bytes([0x00, 0xC0 | (w >> 8), w & 0xFF, color]) + b"\x00\x00"
    return line * h


def _display_set(pts: int, video: tuple[int, int], number: int, box: tuple[int, int] | None
                 ) -> bytes:
    vw, vh = video
    if box is None:  # clears the screen
        pcs = struct.pack(">HHBHBBBB", vw, vh, 0x10, number, 0x00, 0, 0, 0)
        return (_segment(0x16, pts, pcs) + _segment(0x17, pts, b"\x00")
                + _segment(0x80, pts, b""))
    w, h = box
    x, y = (vw - w) // 2, vh - h - 8
    pcs = struct.pack(">HHBHBBBB", vw, vh, 0x10, number, 0x80, 0, 0, 1)
    pcs += struct.pack(">HBBHH", 0, 0, 0, x, y)
    wds = struct.pack(">BBHHHH", 1, 0, x, y, w, h)
    pds = bytes([0, 0]) + bytes([1, 235, 128, 128, 255])  # entry 1: white, opaque
    rle = _rle_box(w, h, 1)
    ods = struct.pack(">HBB", 0, 0, 0xC0) + (len(rle) + 4).to_bytes(3, "big")
    ods += struct.pack(">HH", w, h) + rle
    return b"".join([_segment(0x16, pts, pcs), _segment(0x17, pts, wds),
                     _segment(0x14, pts, pds), _segment(0x15, pts, ods),
                     _segment(0x80, pts, b"")])


def write_sup(path: Path, video: tuple[int, int], cues: list[tuple[float, float]]) -> Path:
    """One white box per (start, end) cue, in seconds."""
    out = b""
    for n, (start, end) in enumerate(cues):
        out += _display_set(round(start * 90000), video, 2 * n, (40, 12))
        out += _display_set(round(end * 90000), video, 2 * n + 1, None)
    path.write_bytes(out)
    return path
