"""The bad-input matrix: each file either encodes correctly or fails with one clear line,
a non-zero exit, and nothing under the output's name."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    FAST,
    assert_frames_in_place,
    ffmpeg_make,
    media_info,
    packet_times,
    run_drapto,
    workdir_of,
)

from drapto.media.demo import make_sample

SRC = ["-f", "lavfi", "-i"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]


def one_line_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    said = [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not line.startswith(".  ")]
    assert len(said) == 1 and said[0].startswith("drapto: ") and message in said[0], said


@pytest.mark.e2e
def test_truncated_mkv_refused(tmp_path: Path) -> None:
    full = tmp_path / "full.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=3", *X264, str(full))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    result = run_drapto(f"input={cut}", *FAST, cwd=tmp_path, check=False)
    one_line_failure(result, "the file looks truncated or damaged: its header says 3.00 s")
    assert not (tmp_path / "cut.av1.mkv").exists()


@pytest.mark.e2e
def test_mp4_cut_off_keyframe_with_edit_list(tmp_path: Path) -> None:
    """Lead-in frames hidden by the edit list stay hidden; every shown frame is kept."""
    long = tmp_path / "long.mp4"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=8", *X264, "-g", "48", "-bf", "2", str(long))
    cut = tmp_path / "cut.mp4"
    ffmpeg_make("-ss", "1.3", "-i", str(long), "-t", "5", "-c", "copy", str(cut))
    run_drapto(f"input={cut}", *FAST, cwd=tmp_path)
    assert_frames_in_place(cut, tmp_path / "cut.av1.mkv")


@pytest.mark.e2e
def test_odd_dimensions(tmp_path: Path) -> None:
    src = tmp_path / "odd.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=720x480:r=24:d=2", "-vf", "format=yuv444p,crop=719:479:0:0",
                *X264, str(src))
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = media_info(tmp_path / "odd.av1.mkv")["video"]
    assert (out["format"], out["width"], out["height"]) == ("AV1", 719, 479)


@pytest.mark.e2e
def test_variable_frame_rate_keeps_every_timestamp(tmp_path: Path) -> None:
    src = tmp_path / "vfr.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=30:d=4",
                "-vf", "setpts='if(lt(N,30),N/30/TB,(N*2-30)/30/TB)'", "-fps_mode", "vfr",
                *X264, str(src))
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = tmp_path / "vfr.av1.mkv"
    want, got = packet_times(src), packet_times(out)
    assert len(got) == len(want) == 120
    assert max(abs(a - b) for a, b in zip(want, got, strict=True)) <= 1
    assert_frames_in_place(src, out)


@pytest.mark.e2e
def test_long_ntsc_rate_does_not_drift(tmp_path: Path) -> None:
    """23.976 fps over many segments: the joins add no rounding, the end is where it was."""
    src = tmp_path / "ntsc.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=128x72:r=24000/1001:d=40", *X264, str(src))
    run_drapto(f"input={src}", "preset=12", "min_segment=0.5", "max_segment=1", cwd=tmp_path)
    want, got = packet_times(src), packet_times(tmp_path / "ntsc.av1.mkv")
    assert len(got) == len(want) > 900
    assert max(abs(a - b) for a, b in zip(want, got, strict=True)) <= 1


@pytest.mark.parametrize(("pix", "codec"), [("yuv420p", "libx264"),
                                            ("yuv420p10le", "libx265")])
@pytest.mark.e2e
def test_eight_and_ten_bit_sources(pix: str, codec: str, tmp_path: Path) -> None:
    src = tmp_path / "src.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=2", "-pix_fmt", pix, "-c:v", codec,
                "-preset", "ultrafast", "-x265-params", "log-level=error", str(src))
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    checks = {c["check"]: c for c in media_info_checks(tmp_path)}
    assert checks["bit depth"]["got"] == 10 and checks["frame count"]["got"] == 48


def media_info_checks(cwd: Path) -> list[dict[str, object]]:
    from drapto.files import read_json

    return list(read_json(workdir_of(cwd / "drapto-work") / "validation.json")["checks"])


@pytest.mark.e2e
def test_interlaced_source_is_deinterlaced(tmp_path: Path) -> None:
    src = tmp_path / "tff.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=50:d=3", "-vf", "interlace=scan=tff", *X264,
                "-flags", "+ildct+ilme", str(src))
    assert media_info(src)["video"]["interlaced"]
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    log = (workdir_of(tmp_path / "drapto-work") / "drapto.log").read_text(encoding="utf-8")
    assert "bwdif=mode=send_frame" in log
    assert {c["check"]: c["got"] for c in media_info_checks(tmp_path)}["frame count"] == 75


@pytest.mark.e2e
def test_three_five_seven_channels_and_many_tracks(tmp_path: Path) -> None:
    src = tmp_path / "many.mkv"
    layouts = ["2.1", "4.1", "6.1", "mono", "stereo"]
    args = [*SRC, "testsrc2=s=256x144:r=24:d=2"]
    graph, maps = [], ["-map", "0:v"]
    for i, layout in enumerate(layouts):
        args += [*SRC, f"sine=f={300 + 100 * i}:d=2"]
        graph.append(f"[{i + 1}]aformat=channel_layouts={layout}[a{i}]")
        maps += ["-map", f"[a{i}]"]
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    subs = []
    for k in range(3):
        args += ["-i", str(srt)]
        maps += ["-map", f"{len(layouts) + 1 + k}:s"]
        subs += [f"-metadata:s:s:{k}", f"language={['eng', 'spa', 'jpn'][k]}"]
    ffmpeg_make(*args, "-filter_complex", ";".join(graph), *maps, *X264, "-c:a", "pcm_s16le",
                "-c:s", "srt", *subs, str(src))
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = media_info(tmp_path / "many.av1.mkv")
    assert [(a["format"], a["channels"]) for a in out["audio"]] == [
        ("Opus", 3), ("Opus", 5), ("Opus", 7), ("Opus", 1), ("Opus", 2)]
    assert [s["language"] for s in out["subtitles"]] == ["en", "es", "ja"]


@pytest.mark.parametrize("name", ["semi;colon.mkv", "new\nline.mkv", "$(touch pwned).mkv",
                                  "-leading dash.mkv", "quote's \"both\".mkv", "ünï 字.mkv"])
@pytest.mark.e2e
def test_hostile_names(name: str, sample_small: Path, tmp_path: Path) -> None:
    src = tmp_path / name
    shutil.copy(sample_small, src)
    run_drapto(f"input={name}", *FAST, cwd=tmp_path)
    out = tmp_path / (Path(name).stem + ".av1.mkv")
    assert media_info(out)["video"]["format"] == "AV1"
    assert not (tmp_path / "pwned").exists()
    assert src.read_bytes() == sample_small.read_bytes()


@pytest.fixture(scope="module")
def sample_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("small") / "s.mkv", scenes=[1.0, 1.0],
                       subtitles=False, chapters=False)


def test_directory_without_videos(tmp_path: Path) -> None:
    (tmp_path / "films").mkdir()
    (tmp_path / "films" / "notes.txt").write_text("not a film\n")
    (tmp_path / "films" / "old.av1.mkv").write_bytes(b"")  # drapto's own outputs are not inputs
    one_line_failure(run_drapto("input=films", cwd=tmp_path, check=False),
                     "films: no video files in it")


@pytest.fixture
def tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Mount a small tmpfs (root only); yields (path, remount(options))."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def mount(*options: str) -> None:
        opts = ",".join(options)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")

    def remount(*options: str) -> None:
        subprocess.run(["mount", "-o", ",".join(["remount", *options]), str(mnt)], check=True)

    yield mnt, mount, remount
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.e2e
def test_output_folder_not_writable(tmpfs, sample_small: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mnt, mount, _ = tmpfs
    mount("ro", "size=1m")
    result = run_drapto(f"input={sample_small}", f"output={mnt}/out.mkv", *FAST, cwd=tmp_path,
                        check=False)
    one_line_failure(result, f"output folder {mnt}: cannot write in {mnt}")
    assert not (tmp_path / "drapto-work").exists()


@pytest.mark.e2e
def test_full_disk_then_resume(tmpfs, sample: Path, encoded: dict[str, object],  # type: ignore[no-untyped-def]
                               tmp_path: Path) -> None:
    mnt, mount, remount = tmpfs
    mount("size=600k")
    args = [f"input={sample}", "output=out.mkv", f"work={mnt}", *FAST]
    result = run_drapto(*args, cwd=tmp_path, check=False, jobs=2)
    assert result.returncode != 0
    said = [x for x in result.stdout.splitlines()  # the failures, not the progress lines
            if x.startswith("drapto: ") and not x.startswith("drapto: encode | ")]
    assert said and all("No space left on device" in x or "FFmpeg exited" in x
                        or "a rerun does only what is left" in x for x in said), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out.mkv").exists()
    remount("size=50m")
    again = run_drapto(*args, cwd=tmp_path, jobs=2)
    assert not [x for x in again.stdout.splitlines() if x in (".  probe", ".  scenes")]
    assert (tmp_path / "out.mkv").read_bytes() == Path(str(encoded["output"])).read_bytes()
    assert not [p for p in mnt.rglob("*") if ".tmp" in p.name]


@pytest.mark.e2e
def test_image_subtitles_kept(tmp_path: Path) -> None:
    from pgs import write_sup

    sup = write_sup(tmp_path / "subs.sup", (256, 144), [(0.5, 1.5), (2.0, 2.8)])
    src = tmp_path / "pgs.mkv"
    ffmpeg_make(*SRC, "testsrc2=s=256x144:r=24:d=3", "-i", str(sup), "-map", "0", "-map", "1",
                *X264, "-c:s", "copy", "-metadata:s:s:0", "language=jpn", str(src))
    assert [s["format"] for s in media_info(src)["subtitles"]] == ["PGS"]
    run_drapto(f"input={src}", *FAST, cwd=tmp_path)
    out = media_info(tmp_path / "pgs.av1.mkv")["subtitles"]
    assert [(s["format"], s["language"]) for s in out] == [("PGS", "ja")]
