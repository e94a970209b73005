"""Clips: start=, end=, duration= cut video, audio, subtitles and chapters to one range."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import FAST, assert_frames_in_place, media_info, run_drapto, workdir_of

from drapto.errors import DraptoError
from drapto.files import read_json
from drapto.media import proc
from drapto.media.timeline import read_framecrc
from drapto.media.timeparse import clip_range, parse_time


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90s", 90.0), ("1:30", 90.0), ("01:02:03.5", 3723.5), ("1h30m", 5400.0),
    ("2m5.5s", 125.5), ("1h", 3600.0), ("0.25", 0.25)])
def test_time_formats(text: str, seconds: float) -> None:
    assert parse_time("start", text) == seconds


@pytest.mark.parametrize(("args", "message"), [
    ({"start": "1:75"}, "start=1:75: not a time"),
    ({"start": "soon"}, "start=soon: not a time"),
    ({"start": "10", "end": "5"}, "end=5 is not after start=10"),
    ({"end": "5", "duration": "3"}, "give end= or duration=, not both"),
    ({"duration": "0"}, "duration=0: must be longer than zero"),
])
def test_bad_ranges(args: dict[str, str], message: str) -> None:
    with pytest.raises(DraptoError, match=message):
        clip_range(args.get("start"), args.get("end"), args.get("duration"))


@pytest.mark.e2e
def test_clip_is_exact_and_in_sync(sample: Path, tmp_path: Path) -> None:
    run_drapto(f"input={sample}", *FAST, "start=1.5", "duration=3", cwd=tmp_path)
    out_path = tmp_path / "sample.1.5s-4.5s.av1.mkv"
    assert_frames_in_place(sample, out_path, first=36, count=72)
    out_info = media_info(out_path)
    for a in out_info["audio"]:
        assert abs(a["delay_ms"] - out_info["video"]["delay_ms"]) <= 10
        assert abs(a["duration_ms"] - 3000) <= 40
    assert out_info["chapters"] == 1 and len(out_info["subtitles"]) == 1
    # The subtitle cues inside the range (1.5 s and 3.0 s in the source) now start at 0 and
    # 1.5 s.
    cues = subprocess.run([proc.ffmpeg(), "-v", "error", "-i", str(out_path), "-map", "0:s",
                           "-f", "srt", "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "00:00:00,000 -->" in cues and "00:00:01,500 -->" in cues
    work = workdir_of(tmp_path / "drapto-work")
    assert read_json(work / "validation.json")["ok"]
    # The report compares the output with the clip's own input: the source's packets in
    # its 3 s, read here from the whole file.
    lines = subprocess.run([proc.ffmpeg(), "-v", "error", "-copyts", "-i", str(sample),
                            "-map", "0:V", "-map", "0:a", "-map", "0:s", "-c", "copy",
                            "-f", "framecrc", "-"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    packets = read_framecrc(lines, sizes_of="all")
    zero = read_json(work / "scenes.json")["zero_us"]  # 1.5 s after the file's start
    own = sum(n for p in packets.values() for t, n in p.sizes or []
              if zero <= t < zero + 3_000_000)
    report = read_json(work / "report.json")
    assert (report["size_in"], report["size_in_of"]) == (own, "clip")
    assert own < sample.stat().st_size * 0.6


@pytest.mark.e2e
def test_clip_to_the_end(sample: Path, tmp_path: Path) -> None:
    run_drapto(f"input={sample}", *FAST, "start=0:04.5", cwd=tmp_path)
    out = media_info(tmp_path / "sample.4.5s-end.av1.mkv")
    assert read_json(workdir_of(tmp_path / "drapto-work") / "scenes.json")["frames"] == 36
    assert out["video"]["format"] == "AV1"


@pytest.mark.parametrize(("args", "message"), [
    (["start=10"], "start=10s is past the end of"),
    (["start=2", "end=9"], "end=9s is past the end of"),
])
@pytest.mark.e2e
def test_range_outside_the_file(args: list[str], message: str, sample: Path,
                                tmp_path: Path) -> None:
    result = run_drapto(f"input={sample}", *FAST, *args, cwd=tmp_path, check=False)
    assert result.returncode != 0 and message in result.stdout
    assert not list(tmp_path.glob("*.mkv"))
    assert not list(tmp_path.glob("drapto-work/*"))  # a refused clip leaves no work folder
