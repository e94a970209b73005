"""HDR10+ kept frame by frame: each source frame's SMPTE ST 2094-40 payload, read from the
source's SEI (ITU-T T.35), written into the joined AV1 stream as a metadata OBU in the
frame's temporal unit (the HDR10+ AV1 metadata handling specification).

libsvtav1 in FFmpeg writes no HDR10+ and no FFmpeg filter inserts metadata OBUs, so this is
a bitstream step of drapto's own: the payloads are kept as they are in the source (what
libaom-av1 writes from FFmpeg's side data is the same bytes), one per output frame, in
presentation order. Crop does not touch them: a payload's processing windows (a second or
third window, which no stream seen here uses) would keep the source's coordinates.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import obu, proc
from .errors import DraptoError
from .records import Scenes
from .workdir import atomic_path, temp_path

# country code US, provider SMPTE (0x003C), provider oriented code 1, application id 4
PREFIX = bytes.fromhex("b5003c000104")
# The frame's payloads, as the file keeps them: a header, a line saying why none are kept
# (empty when they are), then per frame a 4-byte length (0: none) and the payload from the
# country code on.
MAGIC = b"drapto hdr10+ 1\n"
NO_PTS = -(2**63)  # FFmpeg's AV_NOPTS_VALUE, as framecrc prints it
_PREFIX_SEI = 39


@contextlib.contextmanager
def scratch(*finals: Path) -> Iterator[list[Path]]:
    """Temporary files beside *finals*, removed whatever happens."""
    paths = [temp_path(f) for f in finals]
    try:
        yield paths
    finally:
        for p in paths:
            p.unlink(missing_ok=True)


def _unescape(rbsp: bytes) -> bytes:
    """An HEVC NAL unit's payload without its emulation prevention bytes (00 00 03)."""
    if b"\x00\x00\x03" not in rbsp:
        return rbsp
    out, i = bytearray(), 0
    while (j := rbsp.find(b"\x00\x00\x03", i)) >= 0:
        out += rbsp[i:j + 2]
        i = j + 3
    return bytes(out + rbsp[i:])


def _nal_units(annexb: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream (start codes removed)."""
    starts = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    for a, b in zip(starts, [*starts[1:], len(annexb) + 3], strict=True):
        yield annexb[a:b - 3].rstrip(b"\x00")


def sei_payloads(annexb: bytes) -> list[bytes]:
    """The HDR10+ payloads (ITU-T T.35, from the country code on) of one access unit's
    prefix SEI messages."""
    found = []
    for nal in _nal_units(annexb):
        if len(nal) < 3 or (nal[0] >> 1) & 0x3F != _PREFIX_SEI:
            continue
        data, i = _unescape(nal[2:]), 0
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


def _packets(framecrc: str) -> list[tuple[int, int]]:
    """(pts in µs, size) of each packet of FFmpeg's framecrc listing, in its order."""
    num, den = 1, 1
    out = []
    for line in framecrc.splitlines():
        if line.startswith("#tb 0:"):
            num, den = map(int, line.split(":")[1].strip().split("/"))
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            pts = int(fields[2])
            out.append((pts if pts == NO_PTS else pts * 1_000_000 * num // den,
                        int(fields[4])))
    return out


def read_source(source: Path, scenes: Path, target: Path) -> None:
    """The HDR10+ payload of each frame the film is encoded from, in presentation order
    (frame 0: scenes.json's first frame), from the source's HEVC prefix SEI messages.
    One stream copy of the video's SEI units alone (FFmpeg's filter_units): the source is
    read once and nothing is decoded."""
    film = Scenes.read(scenes)
    chain = "hevc_mp4toannexb,filter_units=pass_types=39"
    with scratch(target.with_suffix(".hevc"), target.with_suffix(".crc")) as (units, listing):
        proc.run(["-v", "error", "-i", str(source), "-map", "0:v:0", "-c:v", "copy",
                  "-bsf:v", chain, "-f", "framecrc", str(listing),
                  "-map", "0:v:0", "-c:v", "copy", "-bsf:v", chain, "-f", "hevc",
                  str(units)], what=f"{source}: reading its HDR10+ metadata")
        packets = _packets(listing.read_text(encoding="utf-8"))
        data = units.read_bytes()
    if any(pts == NO_PTS for pts, _ in packets):
        write(target, [], "the source's packets carry no timestamps (a raw HEVC stream), "
                         "so which frame each HDR10+ payload belongs to is not known")
        return
    by_pts, at = [], 0
    for pts, size in packets:
        found = sei_payloads(data[at:at + size])
        at += size
        by_pts.append((pts, found[0] if found else b""))
    by_pts.sort(key=lambda p: p[0])
    # Frames before the film's first (an edit list's, or a clip's) are not encoded.
    half = 500_000 / film.fps if film.fps else 0
    kept = [p for t, p in by_pts if t >= film.first_pts_us - half][:film.frames]
    write(target, kept + [b""] * (film.frames - len(kept)))


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


def insert(ivf: Path, payloads: Sequence[bytes], target: Path) -> int:
    """*ivf* with each temporal unit given its frame's payload as a metadata OBU, written
    to *target*; the number inserted. The video must have one frame per payload."""
    frames = obu.ivf_frames(ivf)
    header, _ = next(frames)
    count = inserted = 0
    with target.open("wb") as out:
        out.write(header)
        for head, tu in frames:
            if count >= len(payloads):
                raise DraptoError(f"{ivf}: more frames than the {len(payloads)} whose "
                                  "HDR10+ metadata was read")
            payload = payloads[count]
            count += 1
            if payload:
                tu = obu.with_unit(tu, obu.t35_unit(payload))
                inserted += 1
            out.write(struct.pack("<I", len(tu)) + head[4:] + tu)
    if count != len(payloads):
        raise DraptoError(f"{ivf}: {count} frames where {len(payloads)} were encoded")
    return inserted


def read_back(video: Path, scratch: Path) -> list[bytes]:
    """Each frame's HDR10+ payload in an AV1 video (b"" where a frame has none)."""
    return [next((p for p in found if p.startswith(PREFIX)), b"")
            for found in obu.t35_by_frame(video, scratch)]
