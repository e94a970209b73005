"""Files real libraries hold, generated: each either encodes whole in the default mode
(quality targeting) with its frames, timing, colour and tracks checked, or is refused with
one line and nothing written."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    assert_frames_in_place,
    ffmpeg_make,
    gray_frames,
    media_info,
    run_drapto,
    workdir_of,
)
from test_records import PROBE

from drapto.files import read_json
from drapto.media import proc, tracks
from drapto.media.probing import colour_of, ffmpeg_streams, main_video
from drapto.media.records import AudioTrack, Probe
from drapto.settings import load

SRC = ["-f", "lavfi", "-i"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]
# The default mode (quality targeting), on the fastest preset and short segments.
DEFAULT = {"DRAPTO_QUALITY": "vmaf"}
QUICK = ["preset=12", "min_segment=1", "max_segment=3", "max_encoded_percent=0"]


def encode(src: Path, cwd: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    """Encode *src* in the default mode; the output and its validation.json."""
    run_drapto(f"input={src}", "work=w", *QUICK, *args, cwd=cwd, env=DEFAULT)
    out = cwd / f"{src.stem}.av1.mkv"
    return out, read_json(workdir_of(cwd / "w") / "validation.json")


def refused(src: Path, cwd: Path) -> list[str]:
    """What a run that must refuse *src* said (it exits non-zero), besides doit's task
    lines."""
    result = run_drapto(f"input={src}", "work=w", *QUICK, cwd=cwd, env=DEFAULT, check=False)
    assert result.returncode != 0
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not line.startswith(".  ")]


def stream_starts(path: Path) -> dict[str, float]:
    """Each stream kind's first timestamp (s) as FFmpeg reads the file."""
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-copyts", "-i", str(path),
                          "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "framecrc",
                          "-"], capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL).stdout
    bases = {line.split()[1].rstrip(":"): line.split()[-1] for line in out.splitlines()
             if line.startswith("#tb ")}
    starts: dict[str, float] = {}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            index, _, pts = (x.strip() for x in line.split(",")[:3])
            num, den = (int(v) for v in bases[index].split("/"))
            kind = "video" if index == "0" else "audio"
            starts[kind] = min(starts.get(kind, 1e9), int(pts) * num / den)
    return starts


@pytest.mark.e2e
def test_video_that_starts_at_ten_seconds(tmp_path: Path) -> None:
    """An MP4 whose streams start at 10 s: its header counts 14 s of video from 0; every
    frame is encoded."""
    src = tmp_path / "late.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=4", *SRC, "sine=d=4", *X264, "-c:a", "aac",
                "-output_ts_offset", "10", str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    assert_frames_in_place(src, out)


@pytest.mark.e2e
@pytest.mark.parametrize("delay", ["1", "0.02"])
def test_edit_list_delay_keeps_every_frame_and_the_offset(tmp_path: Path, delay: str) -> None:
    """An MP4 edit list delays the video by 1 s (and by less than a frame); the audio
    starts at 0: every frame is encoded and the video keeps its delay."""
    video, audio = tmp_path / "v.mp4", tmp_path / "a.m4a"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=4", *X264, str(video))
    ffmpeg_make(*SRC, "sine=d=5", "-c:a", "aac", str(audio))
    src = tmp_path / "delayed.mp4"
    ffmpeg_make("-itsoffset", delay, "-i", str(video), "-i", str(audio), "-map", "0:v",
                "-map", "1:a", "-c", "copy", str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    assert_frames_in_place(src, out)
    want, got = stream_starts(src), stream_starts(out)
    assert abs((got["video"] - got["audio"]) - (want["video"] - want["audio"])) <= 0.021


# Mixed BT.601/BT.709 tags (primaries, transfer, matrix, range): FFmpeg's names, and
# MediaInfo's for the same values.
COLOURS = [
    (("bt709", "smpte170m", "bt470bg", "tv"), ("BT.709", "BT.601", "BT.470 System B/G",
                                                "Limited")),
    (("smpte170m", "bt709", "bt709", "pc"), ("BT.601 NTSC", "BT.709", "BT.709", "Full")),
    (("bt470bg", "bt709", "smpte170m", "tv"), ("BT.601 PAL", "BT.709", "BT.601", "Limited")),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("tags", "names"), COLOURS, ids=["709-601-bg", "601-709-709-full",
                                                          "pal-709-601"])
def test_mixed_colour_tags_are_carried_each_on_its_own(tmp_path: Path, tags: tuple[str, ...],
                                                       names: tuple[str, ...]) -> None:
    primaries, trc, matrix, rng = tags
    src = tmp_path / "tagged.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", "-vf",
                f"setparams=color_primaries={primaries}:color_trc={trc}:colorspace={matrix}"
                f":range={rng}", *X264, str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    v = media_info(out)["video"]
    assert (v["color_primaries"], v["transfer"], v["matrix"], v["color_range"]) == names


@pytest.mark.e2e
def test_container_and_stream_colour_that_disagree_is_a_warning(tmp_path: Path) -> None:
    """A phone-style HEVC MP4: the stream says matrix BT.470 B/G and leaves the transfer
    unspecified; the MP4 colr box says BT.601 and BT.709. The output carries the stream's
    matrix and the container's transfer; the disagreement is said, the run succeeds."""
    stream = tmp_path / "stream.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", "-c:v", "libx265", "-preset",
                "ultrafast", "-x265-params", "log-level=error", "-colorspace", "bt470bg",
                str(stream))
    src = tmp_path / "phone.mp4"
    ffmpeg_make("-i", str(stream), "-c", "copy", "-color_trc", "bt709", "-colorspace",
                "smpte170m", "-movflags", "+write_colr", str(src))
    probed = media_info(src)["video"]
    assert probed["colour_conflicts"] == {"matrix": {"container": "BT.601",
                                                     "stream": "BT.470 System B/G"}}
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    v = media_info(out)["video"]
    assert (v["transfer"], v["matrix"]) == ("BT.709", "BT.470 System B/G")
    assert any("matrix: the container says BT.601, the video stream BT.470 System B/G" in w
               for w in checks["warnings"])


@pytest.mark.e2e
def test_a_3gpp_title_ffmpeg_cannot_read_is_carried(tmp_path: Path) -> None:
    src = tmp_path / "clip.3gp"
    ffmpeg_make(*SRC, "testsrc2=s=176x144:r=15:d=2", *SRC, "sine=d=2:sample_rate=8000",
                *X264, "-c:a", "aac", "-ac", "1", "-metadata", "title=A title", "-f", "3gp",
                str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    assert media_info(out)["title"] == "A title"


def _patched(path: Path, *swaps: tuple[bytes, bytes]) -> Path:
    data = path.read_bytes()
    for old, new in swaps:
        assert data.count(old) >= 1, old
        data = data.replace(old, new)
    out = path.with_name(f"patched-{path.name}")
    out.write_bytes(data)
    return out


@pytest.mark.e2e
def test_a_side_track_ffmpeg_knows_no_codec_for_is_left_out_with_a_warning(
        tmp_path: Path) -> None:
    """An MP4 whose audio sample entry FFmpeg does not know ('Audio: none'): the video is
    encoded, the track is named in a warning, the run succeeds."""
    made = tmp_path / "made.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", *SRC, "sine=d=2", *X264, "-c:a", "aac",
                str(made))
    src = _patched(made, (b"mp4a", b"xxxx"), (b"esds", b"xsds"))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    assert media_info(out)["audio"] == []
    assert_frames_in_place(made, out)
    assert any(w.startswith("audio track 0 (xxxx) left out") for w in checks["warnings"])


@pytest.mark.e2e
def test_an_av1_stream_under_the_dav1_sample_entry_is_decoded(tmp_path: Path) -> None:
    """Dolby Vision profile 10 AV1 sits under the 'dav1' sample entry, which FFmpeg's MP4
    reader does not name: libdav1d is asked for, and every frame is encoded."""
    made = tmp_path / "av1.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", "-c:v", "libsvtav1", "-preset", "12",
                str(made))
    src = _patched(made, (b"av01", b"dav1"))  # the sample entry, and a brand of the file
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    assert_frames_in_place(made, out)


@pytest.mark.e2e
def test_an_invalid_bitstream_is_refused_in_one_line(tmp_path: Path) -> None:
    made = tmp_path / "made.webm"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", "-c:v", "libvpx-vp9", "-deadline",
                "realtime", str(made))
    src = tmp_path / "broken.webm"
    ffmpeg_make("-i", str(made), "-c", "copy", "-bsf:v", "noise=amount=2", str(src))
    assert refused(src, tmp_path) == [f"drapto: {src}: the video stream (VP9) cannot be "
                                      "decoded: invalid bitstream at frame 0 (FFmpeg's lines "
                                      "are in drapto.log)"]
    assert not (tmp_path / "broken.av1.mkv").exists()
    assert "FFmpeg's last lines" in (workdir_of(tmp_path / "w") / "drapto.log").read_text()


@pytest.mark.e2e
def test_a_video_codec_ffmpeg_does_not_know_is_refused_before_any_work(tmp_path: Path) -> None:
    made = tmp_path / "made.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=1", *X264, str(made))
    src = _patched(made, (b"avc1", b"xxxx"), (b"avcC", b"xvcC"))
    assert refused(src, tmp_path) == [f"drapto: {src}: the video stream's codec (xxxx, "
                                      "sample entry xxxx) is not one FFmpeg knows"]
    assert not (tmp_path / f"{src.stem}.av1.mkv").exists()
    assert not list(tmp_path.glob("w/*/scenes.json"))


@pytest.mark.e2e
def test_a_picture_smaller_than_libvmaf_measures_is_encoded(tmp_path: Path) -> None:
    """10x12 pixels: SVT-AV1 encodes it; libvmaf (which crashes under 18 pixels a side) is
    handed it padded."""
    src = tmp_path / "tiny.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=10x12:r=24:d=2", *X264, str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    v = media_info(out)["video"]
    assert (v["format"], v["width"], v["height"]) == ("AV1", 10, 12)
    assert len(gray_frames(out)) == 48


@pytest.mark.e2e
@pytest.mark.parametrize(("dispositions", "kept", "left"), [
    (("default", "default"), (256, 144), "video track 0 (AVC, 128x72)"),
    (("default", "0"), (128, 72), "video track 1 (AVC, 256x144)"),
    (("0", "default"), (256, 144), "video track 0 (AVC, 128x72)"),
], ids=["both default: the largest", "the small one default", "the large one default"])
def test_of_two_video_tracks_the_default_one_else_the_largest_is_encoded(
        tmp_path: Path, dispositions: tuple[str, str], kept: tuple[int, int],
        left: str) -> None:
    """An auxiliary 128x72 track first, a 256x144 one second: the one flagged default is
    encoded (the largest of them when both are), the other named in a warning."""
    src = tmp_path / "two.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=128x72:r=24:d=2", *SRC, "mandelbrot=s=256x144:r=24",
                "-map", "0:v", "-map", "1:v", "-t", "2", *X264,
                "-disposition:v:0", dispositions[0], "-disposition:v:1", dispositions[1],
                str(src))
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    info = media_info(out)
    assert (info["video"]["width"], info["video"]["height"]) == kept
    assert any(w.startswith(f"{left} left out") for w in checks["warnings"])


def _joined(tmp_path: Path, middle: str) -> Path:
    """Three 3 s parts joined by FFmpeg's concat demuxer: 320x180 limited range, *middle*
    (a lavfi chain's size and format), then the first again."""
    parts = []
    for name, chain in (("a", "testsrc2=s=320x180:r=24:d=3,format=yuv420p"), ("b", middle)):
        part = tmp_path / f"{name}.mkv"
        ffmpeg_make(*SRC, chain, *SRC, "sine=d=3", *X264, "-c:a", "aac", str(part))
        parts.append(part)
    listing = tmp_path / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in (parts[0], parts[1], parts[0])))
    src = tmp_path / "joined.mkv"
    ffmpeg_make("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(src))
    return src


@pytest.mark.e2e
@pytest.mark.parametrize(("middle", "said"), [
    ("testsrc2=s=320x180:r=24:d=3,format=yuvj420p", "320x180 pc from frame 72"),
    ("testsrc2=s=256x144:r=24:d=3,format=yuv420p", "256x144 tv from frame 72"),
    ("testsrc2=s=240x180:r=24:d=3,format=yuv420p", "240x180 tv from frame 72"),
    ("testsrc2=s=320x180:r=24:d=3,format=yuv420p,setsar=4/3", None),
], ids=["range", "size", "aspect 4:3", "sample aspect"])
def test_a_picture_that_changes_midway_is_encoded_whole(tmp_path: Path, middle: str,
                                                        said: str | None) -> None:
    """Every frame, at one size (the largest), the smaller part fitted in it, never
    stretched; the change is said."""
    src = _joined(tmp_path, middle)
    out, checks = encode(src, tmp_path)
    assert checks["ok"]
    v = media_info(out)["video"]
    assert (v["width"], v["height"]) == (320, 180)
    frames = gray_frames(out, "32x18")
    assert len(frames) == 216
    changes = [w for w in checks["warnings"] if w.startswith("the picture changes midway")]
    if said is None:
        assert not changes
        return
    assert len(changes) == 1 and said in changes[0]
    assert "every frame encoded at 320x180" in changes[0]
    if middle.startswith("testsrc2=s=240x180"):
        # 4:3 fitted in 16:9: pillarboxed, the bars black (the middle part's first frame).
        row = frames[80][9 * 32:10 * 32]
        assert max(row[:3]) < 30 and max(row[-3:]) < 30 and max(row[8:24]) > 60


# -- the decisions, without FFmpeg ----------------------------------------------------------

def test_colour_comes_from_the_stream_and_the_container_where_the_stream_says_nothing() -> None:
    """MediaInfo's fields of a phone recording: the colr box and the stream disagree on the
    matrix, the stream leaves the transfer unspecified, both say the range."""
    v = {"color_range": "Limited", "colour_range_source": "Container / Stream",
         "transfer_characteristics": "BT.709", "transfer_characteristics_source": "Container",
         "transfer_characteristics_original_source": "Stream",
         "matrix_coefficients": "BT.601", "matrix_coefficients_source": "Container",
         "matrix_coefficients_original": "BT.470 System B/G",
         "matrix_coefficients_original_source": "Stream"}
    truth, conflicts, explicit = colour_of(v)
    assert truth == {"color_primaries": None, "transfer": "BT.709",
                     "matrix": "BT.470 System B/G", "color_range": "Limited"}
    assert conflicts == (("matrix", "BT.601", "BT.470 System B/G"),)
    assert explicit == ("transfer",)
    # A tag only the container states, where the stream is silent, is what the decoder
    # hands on already: nothing to tell the encoder.
    assert colour_of({"color_range": "Limited", "colour_range_source": "Container"})[2] == ()


def test_the_main_video_track_is_the_default_one_else_the_largest() -> None:
    def video(w: int, h: int, default: bool = False, attached: bool = False) -> dict[str, Any]:
        return {"kind": "Video", "codec": "h264", "tag": None, "default": default,
                "attached": attached, "size": (w, h)}
    assert main_video([video(128, 72), video(256, 144, default=True)]) == 1
    assert main_video([video(1920, 1080, default=True), video(3840, 2160)]) == 0
    assert main_video([video(128, 72), video(256, 144)]) == 1
    assert main_video([video(600, 600, attached=True), video(256, 144)]) == 0


def test_ffmpeg_stream_lines_are_read() -> None:
    stderr = "\n".join([
        "  Stream #0:0[0x1](und): Video: none (dav1 / 0x31766164), none(progressive), "
        "256x144, 309 kb/s, SAR 1:1 DAR 16:9, 24 fps, 24 tbr, 12288 tbn (default)",
        "  Stream #0:1[0x2](eng): Audio: ac4 (ac-4 / 0x342D6361), 44100 Hz, mono (default)",
        "  Stream #0:2: Video: mjpeg (Baseline), yuvj420p(pc), 600x600, 90k tbn "
        "(attached pic)",
        "Stream mapping:",
        "  Stream #0:0 -> #0:0 (copy)"])
    assert ffmpeg_streams(stderr) == [
        {"kind": "Video", "codec": "none", "tag": "dav1", "default": True, "attached": False,
         "size": (256, 144)},
        {"kind": "Audio", "codec": "ac4", "tag": "ac-4", "default": True, "attached": False,
         "size": (0, 0)},
        {"kind": "Video", "codec": "mjpeg", "tag": None, "default": False, "attached": True,
         "size": (600, 600)}]


def _audio(**kw: Any) -> AudioTrack:
    return AudioTrack(format="AC-4", codec_id="ac-4", language=None, language_639_2=None,
                      title=None, default=True, forced=False, index=0, channels=2,
                      layout=None, delay_us=0, duration_us=0, **kw)


def test_an_audio_track_ffmpeg_cannot_decode_is_copied_if_matroska_holds_it() -> None:
    settings = load(env={})
    copied = replace(Probe.from_json(PROBE), audio=(_audio(decodable=False),))
    assert tracks.kept_audio(copied, settings, clip=False) == [(copied.audio[0], True)]
    assert tracks.left_out(copied) == ["audio track 0 (AC-4) copied as it is: FFmpeg cannot "
                                       "decode it"]
    lost = replace(copied, audio=(_audio(decodable=False, muxable=False),))
    assert tracks.kept_audio(lost, settings, clip=False) == []
    assert tracks.left_out(lost) == ["audio track 0 (AC-4) left out: FFmpeg cannot decode "
                                     "it and Matroska cannot hold it as it is"]


@pytest.mark.e2e
def test_a_picture_that_changes_gives_the_same_bytes_with_one_worker_or_two(
        tmp_path: Path) -> None:
    """Each segment scales its frames on its own (whichever size its seek lands in): the
    output does not depend on how the segments were spread over the workers."""
    src = _joined(tmp_path, "testsrc2=s=256x144:r=24:d=3,format=yuv420p")
    outs = []
    for jobs in (1, 2):
        cwd = tmp_path / f"n{jobs}"
        cwd.mkdir()
        run_drapto(f"input={src}", "work=w", *QUICK, cwd=cwd, env=DEFAULT, jobs=jobs)
        outs.append((cwd / "joined.av1.mkv").read_bytes())
    assert outs[0] == outs[1]
