"""A Dolby Vision RPU's level-5 active area, read and rewritten in an AV1 stream.

FFmpeg's libsvtav1 writes each frame's RPU as the source had it, so after a crop its active
area (level 5: the offsets of the picture inside the bars) would still describe the bars.
drapto rewrites it, frame by frame, where the joined stream holds it: in the ITU-T T.35
metadata OBU (country 0xB5, Dolby's provider code 0x003B, oriented code 0x800) that wraps
the RPU in an EMDF container. The offsets keep their 13 bits each, so nothing moves: the four
fields and the RPU's CRC-32 (MPEG-2) are written over in place.

The RPU syntax followed is FFmpeg's (libavcodec/dovi_rpudec.c), which wrote it: the header,
the mapping curves (polynomial or MMR, with or without NLQ), the display management data and
its extension blocks.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drapto.files import scratch as scratch_files
from drapto.media import obu, proc
from drapto.media.hevc import RPU_NAL, nal_units, unescape

DOLBY_T35 = bytes.fromhex("b5003b00000800")
EMDF_HEADER = 0x01BE6841  # 27 bits: FFmpeg's fixed EMDF container header
L5_BITS = 13
Area = tuple[int, int, int, int]  # a level-5 block's offsets: left, right, top, bottom


class Unreadable(Exception):
    """An RPU whose syntax drapto does not follow (it is kept as it is)."""


_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (the RPU's: polynomial 0x04C11DB7, not reflected, no final XOR), from
    zlib's reflected CRC-32 over the bytes with their bits reversed."""
    crc = zlib.crc32(data.translate(_REVERSED)) ^ 0xFFFFFFFF
    return int(f"{crc:032b}"[::-1], 2)


class Bits:
    """A big-endian bit reader over *data*."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.value, self.size, self.pos = int.from_bytes(data, "big"), len(data) * 8, pos

    def u(self, n: int) -> int:
        if self.pos + n > self.size:
            raise Unreadable("the RPU ends early")
        self.pos += n
        return (self.value >> (self.size - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise Unreadable("a bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7

    def left(self) -> int:
        return self.size - self.pos


def _put(data: bytes, pos: int, n: int, value: int) -> bytes:
    """*data* with *value* written in *n* bits at bit *pos*."""
    shift = len(data) * 8 - pos - n
    whole = int.from_bytes(data, "big") & ~(((1 << n) - 1) << shift) | value << shift
    return whole.to_bytes(len(data), "big")


# The RPUs' bytes up to their extension blocks (which start on a byte), as parsed lately:
# a film's frames mostly share them (the mapping, the fixed display management data), and
# their ext blocks (the per-frame ones among them) are all that is left to read.
_HEADS: dict[bytes, int] = {}  # the head, and how many first extension blocks follow it
_HEADS_KEPT = 16


def level5(rpu: bytes) -> int | None:
    """The bit position, in *rpu* (from rpu_type on, without the 0x19 prefix), of its first
    level-5 block's offsets (left, right, top, bottom, 13 bits each); None without one."""
    for head, blocks in list(_HEADS.items()):
        if rpu.startswith(head):
            return _extension_level5(Bits(rpu, len(head) * 8), blocks)
    b = _head(rpu)
    if b is None:
        return None
    blocks = b.ue()
    b.align()
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.pop(next(iter(_HEADS)), None)
    _HEADS[rpu[:b.pos // 8]] = blocks
    return _extension_level5(b, blocks)


def _extension_level5(b: Bits, blocks: int) -> int | None:
    """From the RPU's first extension blocks (*blocks* of them): where level 5 is."""
    for version in (1, 2):
        if version == 2:
            if b.left() <= 48:
                break
            blocks = b.ue()
            b.align()
        for _ in range(blocks):
            length, level = b.ue(), b.u(8)
            start = b.pos
            if level == 5:
                return start
            b.pos = start + length * 8
    return None


def _head(rpu: bytes) -> Bits | None:
    """The RPU read up to its first extension blocks; None without display management
    data."""
    b = Bits(rpu)
    rpu_type, rpu_format = b.u(6), b.u(11)
    if rpu_type != 2:
        raise Unreadable(f"rpu_type {rpu_type}")
    b.u(8)  # vdr_rpu_profile, vdr_rpu_level
    if not b.u(1):
        raise Unreadable("no sequence information")
    b.u(1)
    coef_type = b.u(2)
    denom = b.ue() if coef_type == 0 else 0
    b.u(3)  # vdr_rpu_normalized_idc, bl_video_full_range_flag
    if rpu_format & 0x700:
        raise Unreadable(f"rpu_format {rpu_format:#x}")
    bl = b.ue() + 8
    el = (b.ue() & 0xFF) + 8
    b.ue()  # vdr_bit_depth_minus8
    b.u(1)
    compressed = b.u(3)
    b.u(1)
    residual = not b.u(1)
    dm_present, use_prev = b.u(1), b.u(1)

    def coef(signed: bool) -> None:
        if coef_type == 0:
            (b.se if signed else b.ue)()
            b.u(denom)
        else:
            b.u(32)
    if use_prev:
        b.ue()
    else:
        b.ue(), b.ue(), b.ue()  # vdr_rpu_id, mapping colour space and chroma format
        pivots = []
        for _ in range(3):
            n = b.ue() + 2
            pivots.append(n)
            b.u(bl * n)
        nlq = -1
        if residual:
            nlq = b.u(3)
            b.u(2 * bl)
        b.ue(), b.ue()  # partitions
        for n in pivots:
            for _ in range(n - 1):
                idc = b.ue()
                if idc == 0:  # polynomial
                    order = b.ue() + 1
                    if order == 1 and b.u(1):
                        raise Unreadable("a linear interpolation curve")
                    for _ in range(order + 1):
                        coef(True)
                elif idc == 1:  # MMR
                    order = b.u(2) + 1
                    coef(True)
                    for _ in range(order * 7):
                        coef(True)
                else:
                    raise Unreadable(f"mapping_idc {idc}")
        if residual:
            for _ in range(3):
                b.u(el)
                coef(False)
                if nlq == 0:  # linear dead zone
                    coef(False)
                    coef(False)
    if not dm_present:
        return None
    b.ue(), b.ue(), b.ue()  # dm metadata ids, scene_refresh_flag
    if compressed:
        raise Unreadable("compressed display management data")
    b.u(16 * 9 + 32 * 3 + 16 * 9 + 16 * 3 + 32 + 5 + 2 + 2 + 2 + 12 + 12 + 10)
    return b


@dataclass(frozen=True)
class Wrapped:
    """Where an RPU lies in a Dolby T.35 payload (in bits from the payload's start)."""
    start: int
    size: int  # bytes


def unwrap(payload: bytes) -> Wrapped | None:
    """The RPU inside a T.35 payload from Dolby, or None for another payload."""
    if not payload.startswith(DOLBY_T35):
        return None
    b = Bits(payload, len(DOLBY_T35) * 8)
    if b.u(27) != EMDF_HEADER:
        raise Unreadable("an unknown EMDF header")
    size = b.u(8)
    while b.u(1):
        size = ((size + 1) << 8) | b.u(8)
    return Wrapped(b.pos, size)


def _bits_out(payload: bytes, start: int, size: int) -> bytes:
    b = Bits(payload, start)
    return b.u(size * 8).to_bytes(size, "big")


def _rpu(payload: bytes) -> tuple[Wrapped, bytes] | None:
    """Where the RPU of a Dolby T.35 payload lies, and its bytes; None for another payload."""
    w = unwrap(payload)
    return None if w is None else (w, _bits_out(payload, w.start, w.size))


def _area(rpu: bytes) -> tuple[int, Area] | None:
    """Where an RPU's level-5 offsets are (in bits) and what they say, or None."""
    at = level5(rpu)
    if at is None:
        return None
    b = Bits(rpu, at)
    return at, (b.u(L5_BITS), b.u(L5_BITS), b.u(L5_BITS), b.u(L5_BITS))


def active_area(payload: bytes) -> Area | None:
    """A Dolby T.35 payload's level-5 offsets (left, right, top, bottom), or None."""
    found = _rpu(payload)
    area = _area(found[1]) if found else None
    return area[1] if area else None


def cropped_frame(tu: bytes, cut: Area) -> bytes:
    """A temporal unit (or a frame of it, as Matroska keeps it) with the RPU of its Dolby
    T.35 metadata OBU moved by the *cut* (:func:`cropped`); the same size."""
    for kind, _, payload, end in obu.units(tu):
        if kind != obu.METADATA:
            continue
        kind_t35, at = obu.read_leb128(tu, payload)
        if kind_t35 == obu.METADATA_ITUT_T35 and tu[at:at + len(DOLBY_T35)] == DOLBY_T35:
            body = tu[at:end - 1]  # without the trailing bits' byte
            try:
                new = cropped(body, cut)
            except Unreadable:
                return tu
            return tu[:at] + new + tu[end - 1:]
    return tu


def nal_area(nal: bytes) -> Area | None:
    """The level-5 offsets of an HEVC RPU NAL unit (type 62, start code removed), or None."""
    data = unescape(nal[2:]).rstrip(b"\x00")
    area = _area(data[1:]) if data[:1] == b"\x19" else None
    return area[1] if area else None


def crc_holds(payload: bytes) -> bool:
    """Whether the RPU in a Dolby T.35 payload has the CRC of its bytes."""
    found = _rpu(payload)
    return found is not None and _crc_holds(found[1])


def _crc_holds(rpu: bytes) -> bool:
    return rpu[-1] == 0x80 and crc32_mpeg2(rpu[:-5]) == int.from_bytes(rpu[-5:-1], "big")


def checked_area(payload: bytes) -> tuple[bool, Area | None]:
    """Whether a Dolby T.35 payload's RPU has the CRC of its bytes, and its level-5 area."""
    found = _rpu(payload)
    if found is None:
        return False, None
    area = _area(found[1])
    return _crc_holds(found[1]), area[1] if area else None


def moved(area: Area, cut: Area) -> Area:
    """A level-5 active area after a crop that took *cut* from each side (the offsets are
    what is left of the bars in the cropped picture)."""
    left, right, top, bottom = (max(0, o - c) for o, c in zip(area, cut, strict=True))
    return left, right, top, bottom


def cropped(payload: bytes, cut: Area) -> bytes:
    """A Dolby T.35 payload with its level-5 area :func:`moved` by the *cut*, the CRC
    written again; as it was without a level-5 block or with nothing to change."""
    return with_area(payload, lambda area: moved(area, cut))


def with_area(payload: bytes, change: Callable[[Area], Area]) -> bytes:
    """A Dolby T.35 payload with its level-5 area ``change(area)``."""
    found = _rpu(payload)
    area = _area(found[1]) if found else None
    if not found or not area:
        return payload
    (w, rpu), (at, offsets) = found, area
    new = change(offsets)
    if new == offsets:
        return payload
    for i, v in enumerate(new):
        rpu = _put(rpu, at + i * L5_BITS, L5_BITS, v)
    rpu = rpu[:-5] + crc32_mpeg2(rpu[:-5]).to_bytes(4, "big") + rpu[-1:]
    return _put(payload, w.start, w.size * 8, int.from_bytes(rpu, "big"))


# The source frames whose RPUs are read before a crop is decided.
FIRST_FRAMES = 48


def unrewritable(source: Path, video_format: str, scratch: Path) -> str | None:
    """Why the active area of a Dolby Vision source's RPUs could not follow a crop (their
    syntax is not one :func:`level5` reads), from its first FIRST_FRAMES frames; None
    when it can. Read before any encode, so that such a film keeps its bars instead."""
    try:
        if video_format == "HEVC":
            with scratch_files(scratch.with_suffix(".hevc")) as (tmp,):
                proc.run(["-v", "error", "-i", str(source), "-map", "0:v:0", "-frames:v",
                          str(FIRST_FRAMES), "-c:v", "copy", "-bsf:v",
                          f"hevc_mp4toannexb,filter_units=pass_types={RPU_NAL}", "-f",
                          "hevc", str(tmp)], what=f"{source}: reading its Dolby Vision RPUs")
                for nal in nal_units(tmp.read_bytes()):
                    nal_area(nal)
        else:
            for found in obu.t35_by_frame(source, scratch, FIRST_FRAMES):
                for payload in found:
                    active_area(payload)
    except Unreadable as exc:
        return str(exc)
    return None
