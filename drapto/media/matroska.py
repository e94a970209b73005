"""A Matroska file's video frames rewritten by drapto, everything else kept: the blocks of
a one-track file (FFmpeg's video.mkv) passed through a function, the header (the track with
its codec configuration, colour and HDR metadata, Dolby Vision configuration) copied as it
is. FFmpeg then writes the result again (cues, seek head), by stream copy.

For what FFmpeg cannot do to an AV1 stream it copies: add metadata OBUs to each frame (HDR10+)
or rewrite the ones it wrote (a Dolby Vision RPU's active area).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from drapto.errors import DraptoError

SEGMENT, CLUSTER, CRC32, VOID = 0x18538067, 0x1F43B675, 0xBF, 0xEC
SIMPLE_BLOCK, BLOCK_GROUP, BLOCK = 0xA3, 0xA0, 0xA1
# Level-1 elements kept as they are: info, tracks, tags, chapters, attachments (the others,
# seek head and cues, point at offsets that move).
KEPT = {0x1549A966, 0x1654AE6B, 0x1254C367, 0x1043A770, 0x1941A469}
UNKNOWN = -1


def _vint(f: BinaryIO, keep_marker: bool) -> tuple[int, bytes]:
    """An EBML variable-size integer (an ID keeps its marker bit, a size drops it), and
    its bytes; UNKNOWN for an unknown size."""
    first = f.read(1)
    if not first:
        raise EOFError
    length = 1
    while length <= 8 and not first[0] & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise DraptoError("not a Matroska file (a bad element header)")
    raw = first + f.read(length - 1)
    value = int.from_bytes(raw, "big")
    if keep_marker:
        return value, raw
    value &= (1 << (7 * length)) - 1
    return (UNKNOWN if value == (1 << (7 * length)) - 1 else value), raw


def size_bytes(n: int) -> bytes:
    """*n* as an 8-byte EBML size."""
    return bytes([0x01]) + n.to_bytes(7, "big")


def _element(eid: int, body: bytes) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + size_bytes(len(body)) + body


def _children(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(id, header bytes, body) of each element in *data*."""
    f = io.BytesIO(data)
    while f.tell() < len(data):
        eid, raw_id = _vint(f, True)
        size, raw_size = _vint(f, False)
        if size == UNKNOWN:
            raise DraptoError("an element of unknown size inside a cluster")
        yield eid, raw_id + raw_size, f.read(size)


def _block(body: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """A (Simple)Block with its frame edited: track number, timestamp and flags kept."""
    lead = 1
    while not body[0] & (0x80 >> (lead - 1)):
        lead += 1
    head = lead + 3
    if body[lead + 2] & 0x06:
        raise DraptoError("a laced video block (not written by FFmpeg)")
    return body[:head] + edit(body[head:])


def rewrite(src: Path, dst: Path, edit: Callable[[bytes], bytes]) -> int:
    """*src* with each video frame (each block, in order) replaced by ``edit(frame)``,
    written to *dst* (a segment of unknown size, no seek head or cues); the frame count."""
    frames = 0

    def one(frame: bytes) -> bytes:
        nonlocal frames
        frames += 1
        return edit(frame)

    with src.open("rb") as f, dst.open("wb") as out:
        eid, raw = _vint(f, True)
        size, raw_size = _vint(f, False)
        out.write(raw + raw_size + f.read(size))  # the EBML header
        eid, raw = _vint(f, True)
        if eid != SEGMENT:
            raise DraptoError(f"{src}: not a Matroska file (no segment)")
        _vint(f, False)
        out.write(raw + b"\x01\xff\xff\xff\xff\xff\xff\xff")
        while True:
            try:
                eid, raw = _vint(f, True)
            except EOFError:
                break
            size, raw_size = _vint(f, False)
            if size == UNKNOWN:
                raise DraptoError(f"{src}: an element of unknown size (not written by "
                                  "FFmpeg to a file)")
            body = f.read(size)
            if eid in KEPT:
                out.write(raw + raw_size + body)
            elif eid == CLUSTER:
                parts = []
                for cid, header, child in _children(body):
                    if cid == SIMPLE_BLOCK:
                        parts.append(_element(cid, _block(child, one)))
                    elif cid == BLOCK_GROUP:
                        parts.append(_element(cid, b"".join(
                            _element(g, _block(gb, one)) if g == BLOCK else gh + gb
                            for g, gh, gb in _children(child))))
                    elif cid not in (CRC32, VOID):
                        parts.append(header + child)
                out.write(_element(CLUSTER, b"".join(parts)))
    return frames
