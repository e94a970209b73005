"""Real files' timelines: streams that start at other times than zero, clips, rotation,
irregular timestamps and audio longer or shorter than the video. Each output's streams are
measured (first and last timestamps of the video, decoded audio, subtitle cues) against
the source's, within one frame of video or 20 ms of audio."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import (
    FAST,
    assert_frames_in_place,
    executed,
    ffmpeg_make,
    media_info,
    run_drapto,
    workdir_of,
)

from drapto.files import read_json
from drapto.media import proc
from drapto.media.timeline import SPAN_CODECS, Span, read_framecrc, stream_maps
from drapto.stages.mux import on_screen_from

AUDIO_US = 20_000
FRAME_US = 41_667  # the generated clips run at 24 fps
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"]


def spans(path: Path) -> dict[str, list[Span | None]]:
    """Every stream's span in *path*, as the file's own timestamps (µs)."""
    info = media_info(path)
    na, ns = len(info["audio"]), len(info["subtitles"])
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-copyts", "-i", str(path),
                          *stream_maps(na, ns), *SPAN_CODECS, "-f", "framecrc", "-"],
                         capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL).stdout
    packets = read_framecrc(out.splitlines())

    def span(i: int, video: bool = False) -> Span | None:
        p = packets.get(i)
        if p is None or p.start is None or p.end is None or p.last is None:
            return None
        return Span(p.start, p.last if video else p.end)
    return {"video": [span(0, video=True)], "audio": [span(1 + i) for i in range(na)],
            "subtitles": [span(1 + na + i) for i in range(ns)]}


def assert_same_timeline(src: Path, out: Path) -> None:
    """Each stream of *out* starts and ends where it does in *src*, relative to the video's
    first frame (the output may move the whole file, not one stream against another)."""
    a, b = spans(src), spans(out)
    v0, w0 = a["video"][0], b["video"][0]
    assert v0 and w0
    assert abs((w0.end - w0.start) - (v0.end - v0.start)) <= FRAME_US
    assert len(a["audio"]) == len(b["audio"])
    for s, o in zip(a["audio"], b["audio"], strict=True):
        assert s and o
        assert abs((o.start - w0.start) - (s.start - v0.start)) <= AUDIO_US, (s, o, v0, w0)
        assert abs((o.end - w0.start) - (s.end - v0.start)) <= AUDIO_US, (s, o, v0, w0)
    starts = [x.start for kind in b.values() for x in kind if x]
    assert min(starts) <= 1_000, "the output's earliest stream starts at zero"


def encode(src: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    run_drapto(f"input={src}", "output=out.mkv", *FAST, *args, cwd=cwd, env=env)
    assert read_json(workdir_of(cwd / "drapto-work") / "validation.json")["ok"]
    return cwd / "out.mkv"


def av_source(path: Path, video_s: float = 2.0, audio_s: float = 2.0) -> Path:
    ffmpeg_make("-f", "lavfi", "-i", f"testsrc2=s=160x90:r=24:d={video_s}",
                "-f", "lavfi", "-i", f"sine=f=440:d={audio_s}:r=48000", "-map", "0", "-map", "1",
                *X264, "-c:a", "ac3", "-ac", "2", str(path))
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts"])
@pytest.mark.parametrize(("video_at", "audio_at"), [(0.067, 0.129), (0.3, 0.05), (0.0, -0.1)])
def test_streams_starting_at_other_times(ext: str, video_at: float, audio_at: float,
                                         tmp_path: Path) -> None:
    """Video and audio starting at different times (audio after the video, before it, and
    before the file's zero): each keeps its offset from the other."""
    base = av_source(tmp_path / "base.mkv")
    src = tmp_path / f"offsets.{ext}"
    ffmpeg_make("-itsoffset", str(video_at), "-i", str(base), "-itsoffset", str(audio_at),
                "-i", str(base), "-map", "0:v", "-map", "1:a", "-c", "copy", str(src))
    out = encode(src, tmp_path)
    assert_same_timeline(src, out)
    assert_frames_in_place(src, out)


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts"])
@pytest.mark.parametrize(("video_s", "audio_s"), [(2.0, 2.6), (2.0, 1.3)])
def test_audio_longer_or_shorter_than_the_video(ext: str, video_s: float, audio_s: float,
                                                tmp_path: Path) -> None:
    src = av_source(tmp_path / f"lengths.{ext}", video_s, audio_s)
    out = encode(src, tmp_path)
    assert_same_timeline(src, out)
    got = spans(out)["audio"][0]  # still as much longer or shorter (AC-3 frames: 32 ms)
    assert got and abs(got.end - got.start - audio_s * 1e6) <= 32_000


SRT = """1
00:00:00,100 --> 00:00:00,900
Before

2
00:00:01,000 --> 00:00:03,000
Crossing

3
00:00:03,500 --> 00:00:04,000
Inside

4
00:00:04,500 --> 00:00:06,000
Past the end
"""


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_clip_starts_at_zero_and_cuts_subtitle_cues(ext: str, tmp_path: Path) -> None:
    """start=2 end=0:05 with a cue from 1 s to 3 s: every stream starts at 0, the cue shows
    from 0 to 1 s, a cue that ended before the start is gone and one that runs past the end
    stops there."""
    (tmp_path / "cues.srt").write_text(SRT, encoding="utf-8")
    base = av_source(tmp_path / "base.mkv", 6.0, 6.0)
    src = tmp_path / f"cues.{ext}"
    ffmpeg_make("-i", str(base), "-i", str(tmp_path / "cues.srt"), "-map", "0", "-map", "1",
                "-c", "copy", "-c:s", "srt" if ext == "mkv" else "mov_text", str(src))
    run_drapto(f"input={src}", "output=out.mkv", *FAST, "start=2", "end=0:05", cwd=tmp_path)
    out = tmp_path / "out.mkv"
    got = spans(out)
    video, audio = got["video"][0], got["audio"][0]
    assert video and audio
    assert video.start == 0 and abs(video.end - (3_000_000 - FRAME_US)) <= 1_000
    assert audio.start <= 2_000 and abs(audio.end - 3_000_000) <= AUDIO_US
    cues = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(out), "-map", "0:s",
                           "-f", "srt", "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Before" not in cues
    assert "00:00:00,000 --> 00:00:01,000\nCrossing" in cues
    assert "00:00:01,500 --> 00:00:02,000\nInside" in cues
    assert "00:00:02,500 --> 00:00:03,000\nPast the end" in cues
    assert media_info(out)["video"]["delay_ms"] == 0


def test_image_cue_on_screen_at_a_clip_start() -> None:
    """Which of an image track's packets (timestamp, end; µs from the clip's start) is on
    screen at 0: the last to start by then, unless its own duration ended before."""
    assert on_screen_from([(-900, 1), (-500, 1), (300, 1)], [-900, -500, 300]) == 1
    assert on_screen_from([(-900, 1), (0, 1)], [-900, 0]) == 1
    assert on_screen_from([(-900, 1), (-500, 1)], [-400, -100]) == 2  # a DVB time-out
    assert on_screen_from([(-900, 1), (-500, 1)], [-400, 200]) == 1
    assert on_screen_from([(100, 1), (300, 1)], [100, 300]) == 0


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "m2ts"])
def test_clip_keeps_the_image_cue_showing_at_its_start(ext: str, tmp_path: Path) -> None:
    """PGS (Blu-ray image subtitles: a picture, then a packet that clears it) with start=2
    end=0:05: the picture shown from 1 s to 3 s is kept, moved to 0, and cleared at 1 s;
    what was cleared before the start is gone; the rest keeps its times."""
    from pgs import write_sup

    sup = write_sup(tmp_path / "cues.sup", (160, 90), [(0.1, 0.9), (1.0, 3.0), (3.5, 4.0),
                                                        (4.5, 6.0)])
    base = av_source(tmp_path / "base.mkv", 6.0, 6.0)
    src = tmp_path / f"cues.{ext}"
    made = tmp_path / "made.mkv" if ext != "mkv" else src
    ffmpeg_make("-i", str(base), "-copyts", "-i", str(sup), "-map", "0", "-map", "1",
                "-c", "copy", str(made))
    if made != src:  # a Blu-ray's own container: a transport stream
        ffmpeg_make("-i", str(made), "-map", "0", "-c", "copy", str(src))
    run_drapto(f"input={src}", "output=out.mkv", *FAST, "start=2", "end=0:05", cwd=tmp_path)
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(tmp_path / "out.mkv"),
                          "-map", "0:s", "-c", "copy", "-f", "framecrc", "-"],
                         capture_output=True, text=True, check=True).stdout
    cues = read_framecrc(out.splitlines(), sizes_of=0)[0].sizes or []
    picture, clear = 134, 21  # the bytes of a display set with the box, and of a clear one
    assert [n for _, n in cues] == [picture, clear, picture, clear, picture]
    for (t, _), want in zip(cues, [0, 1_000_000, 1_500_000, 2_000_000, 2_500_000],
                            strict=True):
        assert abs(t - want) <= 10_000, cues


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
@pytest.mark.parametrize("rotation", [90, 270])
def test_rotated_video_is_turned_upright(ext: str, rotation: int, tmp_path: Path) -> None:
    """A phone recording (stored 160x90, a display matrix turning it): the output holds the
    pixels as they are shown, 90x160, and no rotation."""
    base = av_source(tmp_path / "base.mp4")
    src = tmp_path / f"phone.{ext}"
    ffmpeg_make("-display_rotation:v:0", str(rotation), "-i", str(base), "-c", "copy", str(src))
    info = media_info(src)["video"]
    assert (info["rotation"], info["width"], info["height"]) == (rotation, 90, 160)
    out = encode(src, tmp_path)
    got = media_info(out)["video"]
    assert (got["width"], got["height"], got["rotation"]) == (90, 160, 0)
    assert_frames_in_place(src, out)  # both decoded upright: FFmpeg applies the matrix
    assert_same_timeline(src, out)


@pytest.mark.e2e
@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts"])
def test_short_file_with_irregular_timestamps(ext: str, tmp_path: Path) -> None:
    """1.2 s whose frames come at irregular times from a 600 fps grid (FFmpeg guesses 600
    fps for the MKV, which SVT-AV1 refuses): every frame is encoded, in the default mode."""
    src = tmp_path / f"irregular.{ext}"
    ffmpeg_make("-f", "lavfi", "-i", "testsrc2=s=160x90:r=600:d=1.24",
                "-f", "lavfi", "-i", "sine=d=1.24:r=48000",
                "-vf", "select='not(mod(n\\,25))+eq(n\\,37)+eq(n\\,113)'",
                "-fps_mode", "passthrough", *X264, "-c:a", "ac3", str(src))
    out = encode(src, tmp_path, env={"DRAPTO_QUALITY": "vmaf"})
    assert_frames_in_place(src, out)
    assert_same_timeline(src, out)


def frame_times(path: Path) -> list[int]:
    """Each decoded frame's timestamp (µs from the first), as a player is handed them."""
    out = subprocess.run([proc.ffmpeg(), "-v", "error", "-copyts", "-i", str(path),
                          "-map", "0:V:0", "-fps_mode", "passthrough", "-f", "framecrc", "-"],
                         capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL).stdout
    packets = read_framecrc(out.splitlines(), sizes_of=0)[0].sizes or []
    return [t - packets[0][0] for t, _ in packets]


def pattern_source(path: Path, pattern: str) -> Path:
    """A short file whose frames come in *pattern*, with a sound track as long as it."""
    # At such rates the test picture barely moves from one frame to the next: a white bar
    # jumping across it tells the frames apart.
    bar = ["-vf", "geq=lum='if(between(X-mod(N*37\\,140)\\,0\\,20)\\,255\\,lum(X\\,Y))'"
                  ":cb='cb(X\\,Y)':cr='cr(X\\,Y)'"]
    video, seconds, extra = {
        "600 fps": ("r=600:d=0.2", 0.2, bar),
        "1000 fps": ("r=1000:d=0.12", 0.12, bar),
        "one frame": ("r=24:d=1", 0.5, ["-frames:v", "1"]),
        "two frames": ("r=24:d=1", 0.5, ["-frames:v", "2"]),
        "10 s gap": ("r=24:d=2", 12.0, ["-vf", "setpts='PTS+if(gte(N,24),10/TB,0)'",
                                        "-fps_mode", "passthrough"]),
        "going back": ("r=24:d=2", 2.0, []),
    }[pattern]
    made = path.with_name(f"made-{path.name}") if pattern == "going back" else path
    ffmpeg_make("-f", "lavfi", "-i", f"testsrc2=s=160x90:{video}",
                "-f", "lavfi", "-i", f"sine=d={seconds}:r=48000", *extra, *X264,
                "-crf", "10", "-c:a", "ac3", str(made))  # a mezzanine: the size cap holds
    if pattern == "going back":  # frame 11 stored before frame 10 (decode order kept)
        ffmpeg_make("-i", str(made), "-c", "copy", "-bsf:v",
                    "setts=pts='if(eq(N,10),PTS+DURATION,if(eq(N,11),PTS-DURATION,PTS))'"
                    ":dts='DTS-DURATION'", str(path))
    return path


@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts"])
@pytest.mark.parametrize("pattern", ["600 fps", "1000 fps", "one frame", "two frames",
                                     "10 s gap", "going back"])
@pytest.mark.e2e
def test_any_frame_timing_encodes(ext: str, pattern: str, tmp_path: Path) -> None:
    """Frames 1/600 s or 1/1000 s apart (beyond SVT-AV1's 240 fps), a single frame, two, a
    10 s gap with no keyframe after it (a transport stream then seeks to nothing), and
    timestamps going back in the container: in the default mode, every frame is encoded
    with its own timestamp and the sound stays in sync."""
    src = pattern_source(tmp_path / f"{pattern.replace(' ', '-')}.{ext}", pattern)
    out = encode(src, tmp_path, env={"DRAPTO_QUALITY": "vmaf"})
    want, got = frame_times(src), frame_times(out)
    assert len(got) == len(want)
    assert max(abs(a - b) for a, b in zip(want, got, strict=True)) <= 1_000, (want, got)
    assert_frames_in_place(src, out)
    assert_same_timeline(src, out)


@pytest.mark.e2e
def test_refused_clip_changes_nothing(tmp_path: Path) -> None:
    """A clip past the end is refused after the film was encoded: nothing but the probe and
    the scene pass that found it runs (in the clip's own work folder), and the film's next
    run is still a no-op."""
    src = av_source(tmp_path / "film.mkv")
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    refused = run_drapto(f"input={src}", *FAST, "start=1:30", cwd=tmp_path, check=False)
    assert refused.returncode != 0 and "start=90s is past the end of" in refused.stdout
    assert executed(refused) == ["probe", "scenes"]
    assert executed(run_drapto(f"input={src}", *FAST, cwd=tmp_path)) == []
