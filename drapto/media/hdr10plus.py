"""HDR10+ kept frame by frame: each source frame's SMPTE ST 2094-40 payload, read from the
source's SEI (ITU-T T.35), written into the joined AV1 stream as a metadata OBU in the
frame's temporal unit (the HDR10+ AV1 metadata handling specification).

libsvtav1 in FFmpeg writes no HDR10+ and no FFmpeg filter inserts metadata OBUs, so this is
a bitstream step of drapto's own: the payloads are kept as they are in the source (what
libaom-av1 writes from FFmpeg's side data is the same bytes), one per output frame, in
presentation order. Crop does not touch them: a payload's processing windows (a second or
third window, which no stream seen here uses) keep the source's coordinates, which the
validation says (:func:`windows`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from drapto.errors import DraptoError
from drapto.files import atomic_path
from drapto.media import obu
from drapto.media.hevc import NoTimestamps, frame_units, nal_units, unescape
from drapto.media.records import Scenes

# country code US, provider SMPTE (0x003C), provider oriented code 1, application id 4
PREFIX = bytes.fromhex("b5003c000104")
# The frame's payloads, as the file keeps them: a header, a line saying why none are kept
# (empty when they are), then per frame a 4-byte length (0: none) and the payload from the
# country code on.
MAGIC = b"drapto hdr10+ 1\n"
PREFIX_SEI = 39


def sei_payloads(annexb: bytes) -> list[bytes]:
    """The HDR10+ payloads (ITU-T T.35, from the country code on) of one access unit's
    prefix SEI messages."""
    found = []
    for nal in nal_units(annexb):
        if len(nal) < 3 or (nal[0] >> 1) & 0x3F != PREFIX_SEI:
            continue
        data, i = unescape(nal[2:]), 0
        while i < len(data) and not (data[i] == 0x80 and i == len(data) - 1):
            kind = size = 0
            while i < len(data) and data[i] == 0xFF:
                kind, i = kind + 255, i + 1
            kind, i = kind + data[i], i + 1
            while i < len(data) and data[i] == 0xFF:
                size, i = size + 255, i + 1
            if i >= len(data):
                break
            size, i = size + data[i], i + 1
            payload, i = data[i:i + size], i + size
            if kind == 4 and payload.startswith(PREFIX):
                found.append(payload)
    return found


def read_source(source: Path, scenes: Path, target: Path) -> None:
    """The HDR10+ payload of each frame the film is encoded from, in presentation order,
    from the source's HEVC prefix SEI messages (:func:`frame_units`)."""
    try:
        units = frame_units(source, Scenes.read(scenes), PREFIX_SEI, target,
                            "HDR10+ metadata")
    except NoTimestamps as exc:
        write(target, [], str(exc))
        return
    write(target, [next(iter(sei_payloads(u)), b"") for u in units])


def write(target: Path, payloads: Sequence[bytes], unkept: str = "") -> None:
    """*unkept*: why the film's HDR10+ cannot be kept (then *payloads* is empty)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(MAGIC + unkept.encode() + b"\n"
                        + b"".join(struct.pack("<I", len(p)) + p for p in payloads))


def unkept(path: Path) -> str:
    """Why the film's HDR10+ is not kept (hdr10plus.t35), or ""."""
    data = path.read_bytes()
    return data[len(MAGIC):data.index(b"\n", len(MAGIC))].decode()


def read(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise DraptoError(f"{path}: not an HDR10+ payload file of this drapto")
    out, i = [], data.index(b"\n", len(MAGIC)) + 1
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def windows(payload: bytes) -> int:
    """How many processing windows an HDR10+ payload describes (after the prefix and the
    application version: num_windows, 2 bits)."""
    return payload[len(PREFIX) + 1] >> 6 if len(payload) > len(PREFIX) + 1 else 0


def read_back(video: Path, scratch: Path) -> list[bytes]:
    """Each frame's HDR10+ payload in an AV1 video (b"" where a frame has none)."""
    return of_frames(obu.t35_by_frame(video, scratch))


def of_frames(frames: list[list[bytes]]) -> list[bytes]:
    """Each frame's HDR10+ payload among its T.35 payloads (:func:`drapto.obu.t35_by_frame`),
    b"" where a frame has none."""
    return [next((p for p in found if p.startswith(PREFIX)), b"") for found in frames]
