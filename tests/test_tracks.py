"""Track choices: audio and subtitles kept by language, title or number; formats copied as
they are instead of Opus. The default keeps every track (tests/test_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAST, ffmpeg_make, media_info, run_drapto, workdir_of

from drapto.errors import DraptoError
from drapto.files import read_json
from drapto.settings import load

SRT = "1\n00:00:00,500 --> 00:00:01,500\nHello\n"


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Video; audio: eng AC-3 'Main', fre AAC, eng AAC 'Director's Commentary', eng FLAC
    'Lossless'; subtitles: eng and ger SRT."""
    folder = tmp_path_factory.mktemp("tracks")
    (folder / "s.srt").write_text(SRT, encoding="utf-8")
    src = folder / "many.mkv"
    tone = ["-f", "lavfi", "-i", "sine=d=2:r=48000"]
    ffmpeg_make("-f", "lavfi", "-i", "testsrc2=s=160x90:r=24:d=2", *tone, *tone, *tone, *tone,
                "-i", str(folder / "s.srt"), "-i", str(folder / "s.srt"),
                "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4", "-map", "5",
                "-map", "6", "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a:0", "ac3", "-c:a:1", "aac", "-c:a:2", "aac", "-c:a:3", "flac",
                "-c:s", "srt",
                "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Main",
                "-metadata:s:a:1", "language=fre",
                "-metadata:s:a:2", "language=eng",
                "-metadata:s:a:2", "title=Director's Commentary",
                "-metadata:s:a:3", "language=eng", "-metadata:s:a:3", "title=Lossless",
                "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=ger", str(src))
    return src


@pytest.mark.e2e
def test_languages_titles_and_a_copied_format(many: Path, tmp_path: Path) -> None:
    run_drapto(f"input={many}", *FAST, "audio_languages=eng", "audio_drop_titles=commentary",
               "audio_copy=flac", "subtitle_languages=de", cwd=tmp_path)
    out = media_info(tmp_path / "many.av1.mkv")
    assert [(a["format"], a["title"]) for a in out["audio"]] == [("Opus", "Main"),
                                                                 ("FLAC", "Lossless")]
    assert [s["language"] for s in out["subtitles"]] == ["de"]
    validation = read_json(workdir_of(tmp_path / "drapto-work") / "validation.json")
    assert validation["ok"]
    checks = {c["check"]: c for c in validation["checks"]}
    assert checks["audio codecs"]["expected"] == ["Opus", "FLAC"]
    assert "audio 1 end (ms)" in checks and "audio 2 start (ms)" not in checks


@pytest.mark.e2e
def test_tracks_by_number(many: Path, tmp_path: Path) -> None:
    run_drapto(f"input={many}", *FAST, "audio_tracks=1,2", "subtitle_tracks=0", cwd=tmp_path)
    out = media_info(tmp_path / "many.av1.mkv")
    assert [(a["language"], a["format"]) for a in out["audio"]] == [("fr", "Opus"),
                                                                    ("en", "Opus")]
    assert [s["language"] for s in out["subtitles"]] == ["en"]


def test_bad_track_settings() -> None:
    with pytest.raises(DraptoError, match="'mp3' is not one of truehd, dts, flac"):
        load(cli={"audio_copy": "mp3"})
    with pytest.raises(DraptoError, match="expected a list of track numbers"):
        load(cli={"audio_tracks": "first"})
