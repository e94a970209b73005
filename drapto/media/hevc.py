"""An HEVC source's own units, read by stream copy: the NAL units of one type (SEI, a Dolby
Vision RPU) that belong to each frame, in presentation order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.files import scratch
from drapto.media import proc
from drapto.media.records import Scenes

NO_PTS = -(2**63)  # FFmpeg's AV_NOPTS_VALUE, as framecrc prints it
RPU_NAL = 62  # a Dolby Vision RPU (UNSPEC62)


def unescape(rbsp: bytes) -> bytes:
    """An HEVC NAL unit's payload without its emulation prevention bytes (00 00 03)."""
    if b"\x00\x00\x03" not in rbsp:
        return rbsp
    out, i = bytearray(), 0
    while (j := rbsp.find(b"\x00\x00\x03", i)) >= 0:
        out += rbsp[i:j + 2]
        i = j + 3
    return bytes(out + rbsp[i:])


def nal_units(annexb: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream (start codes removed)."""
    starts = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    for a, b in zip(starts, [*starts[1:], len(annexb) + 3], strict=True):
        yield annexb[a:b - 3].rstrip(b"\x00")


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


class NoTimestamps(Exception):
    """A source whose packets carry no timestamps: which frame a unit belongs to is not
    known."""


NO_TIMESTAMPS = ("the source's packets carry no timestamps (a raw HEVC stream), so which "
                 "frame each payload belongs to is not known")


def frame_units(source: Path, scenes: Scenes, nal_type: int, scratch_near: Path,
                what: str) -> list[bytes]:
    """Each encoded frame's NAL units of *nal_type* (Annex B, start codes kept) in an HEVC
    source, in presentation order (frame 0: scenes.json's first frame; b"" for none): one
    stream copy of those units alone (FFmpeg's filter_units), nothing decoded. Raises
    NoTimestamps for a stream without them."""
    chain = f"hevc_mp4toannexb,filter_units=pass_types={nal_type}"
    with scratch(scratch_near.with_suffix(".hevc"), scratch_near.with_suffix(".crc")) as (
            units, listing):
        proc.run(["-v", "error", "-i", str(source), "-map", "0:v:0", "-c:v", "copy",
                  "-bsf:v", chain, "-f", "framecrc", str(listing),
                  "-map", "0:v:0", "-c:v", "copy", "-bsf:v", chain, "-f", "hevc",
                  str(units)], what=f"{source}: reading its {what}")
        packets = _packets(listing.read_text(encoding="utf-8"))
        data = units.read_bytes()
    if any(pts == NO_PTS for pts, _ in packets):
        raise NoTimestamps(NO_TIMESTAMPS)
    by_pts, at = [], 0
    for pts, size in packets:
        by_pts.append((pts, data[at:at + size]))
        at += size
    by_pts.sort(key=lambda p: p[0])
    # Frames before the film's first (an edit list's, or a clip's) are not encoded.
    half = 500_000 / scenes.fps if scenes.fps else 0
    kept = [u for t, u in by_pts if t >= scenes.first_pts_us - half][:scenes.frames]
    return kept + [b""] * (scenes.frames - len(kept))


