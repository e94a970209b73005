"""AV1 open bitstream units: the few that drapto reads or writes itself (metadata OBUs of
type ITU-T T.35, which carry Dolby Vision RPUs and HDR10+)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.files import temp_path
from drapto.media import proc

TEMPORAL_DELIMITER, SEQUENCE_HEADER, METADATA = 2, 1, 5
METADATA_ITUT_T35 = 4


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_leb128(data: bytes, i: int) -> tuple[int, int]:
    """The value at *data[i]* and the index after it."""
    value = shift = 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def units(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(type, start, payload start, end) of each OBU in *data*; one without a size field
    runs to the end."""
    i = 0
    while i < len(data):
        header = data[i]
        j = i + 1 + (header >> 2 & 1)
        size, j = read_leb128(data, j) if header >> 1 & 1 else (len(data) - j, j)
        yield header >> 3 & 0x0F, i, j, j + size
        i = j + size


def t35(data: bytes, payload: int) -> bytes | None:
    """A metadata OBU's ITU-T T.35 payload (from the country code on, its trailing bits
    left out), or None for another kind of metadata."""
    kind, at = read_leb128(data, payload)
    if kind != METADATA_ITUT_T35:
        return None
    return data[at:].rstrip(b"\x00")[:-1]


def t35_unit(payload: bytes) -> bytes:
    """A metadata OBU of type ITU-T T.35 holding *payload* (country code first)."""
    body = leb128(METADATA_ITUT_T35) + payload + b"\x80"  # the OBU's trailing bits
    return bytes([METADATA << 3 | 0x02]) + leb128(len(body)) + body


def t35_by_frame(path: Path, scratch: Path, first: int | None = None) -> list[list[bytes]]:
    """The ITU-T T.35 payloads of each frame (temporal unit) of *path*'s AV1 video (its
    *first* frames, or all): its OBUs read by stream copy, only temporal delimiters and
    metadata kept (written to a temporary file beside *scratch*)."""
    tmp = temp_path(scratch.with_suffix(".obu"))
    limit = ["-frames:v", str(first)] if first else []
    try:
        proc.run(["-v", "error", "-i", str(path), "-map", "0:V:0", *limit, "-c", "copy",
                  "-bsf:v", f"filter_units=pass_types={TEMPORAL_DELIMITER}|{METADATA}",
                  "-f", "obu", str(tmp)], what=f"reading the AV1 metadata of {path}")
        data = tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    frames: list[list[bytes]] = []
    for kind, _, payload, end in units(data):
        if kind == TEMPORAL_DELIMITER:
            frames.append([])
        elif kind == METADATA and frames and (found := t35(data[:end], payload)):
            frames[-1].append(found)
    return frames


def with_unit(tu: bytes, unit: bytes) -> bytes:
    """A temporal unit with *unit* placed after its temporal delimiter and sequence header
    (where metadata belongs, before the frame it describes)."""
    at = 0
    for kind, _, _, end in units(tu):
        if kind not in (TEMPORAL_DELIMITER, SEQUENCE_HEADER):
            break
        at = end
    return tu[:at] + unit + tu[at:]
