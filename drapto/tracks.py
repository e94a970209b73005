"""Which audio and subtitle tracks the output keeps, and which audio is copied as it is.

By default every track is kept and every audio track becomes Opus. ``audio_tracks`` /
``subtitle_tracks`` keep tracks by number; else ``*_languages`` keeps tracks by language
(a track without one stays) and ``*_drop_titles`` leaves out tracks whose title contains a
word (commentary). ``audio_copy`` names formats copied as they are (TrueHD, DTS-HD MA, FLAC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .settings import COPYABLE, Settings


def _keep(track: Mapping[str, Any], numbers: Sequence[int], languages: Sequence[str],
          drop_titles: Sequence[str]) -> bool:
    if numbers:
        return int(track["index"]) in numbers
    codes = {str(track.get(k) or "").lower() for k in ("language", "language_639_2")} - {""}
    if languages and codes and not codes & {code.lower() for code in languages}:
        return False
    title = str(track.get("title") or "").lower()
    return not any(word.lower() in title for word in drop_titles)


def audio(probe: Mapping[str, Any], s: Settings) -> list[dict[str, Any]]:
    """The source's audio tracks the output keeps, in their order."""
    return [t for t in probe["audio"]
            if _keep(t, s.audio_tracks, s.audio_languages, s.audio_drop_titles)]


def subtitles(probe: Mapping[str, Any], s: Settings) -> list[dict[str, Any]]:
    """The source's subtitle tracks the output keeps, in their order."""
    return [t for t in probe["subtitles"]
            if _keep(t, s.subtitle_tracks, s.subtitle_languages, s.subtitle_drop_titles)]


def copied(track: Mapping[str, Any], s: Settings, clip: bool) -> bool:
    """Whether this audio track is copied as it is (never in a clip, which is cut to the
    sample and so encoded)."""
    if clip:
        return False
    names = (str(track.get("format") or "").lower(), str(track.get("codec_id") or "").lower())
    return any(n in COPYABLE[c.lower()] for c in s.audio_copy for n in names)


def kept_audio(probe: Mapping[str, Any], s: Settings, clip: bool
               ) -> list[tuple[dict[str, Any], bool]]:
    """The audio tracks the output keeps, each with whether it is copied as it is."""
    return [(t, copied(t, s, clip)) for t in audio(probe, s)]


def kept_view(probe: Mapping[str, Any], scenes: Mapping[str, Any], s: Settings, clip: bool
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """probe.json and scenes.json as the output should be: only the kept tracks (an audio
    track copied says so: ``kept_as``, its own format), their spans only."""
    kept = [{**t, "kept_as": t["format"] if was_copied else "Opus"}
            for t, was_copied in kept_audio(probe, s, clip)]
    subs = subtitles(probe, s)
    streams = scenes.get("streams") or {}

    def spans(kind: str, tracks: list[dict[str, Any]]) -> list[Any]:
        found = streams.get(kind) or []
        return [found[t["index"]] if t["index"] < len(found) else None for t in tracks]
    view = {**scenes, "streams": {**streams, "audio": spans("audio", kept),
                                  "subtitles": spans("subtitles", subs)}}
    return {**probe, "audio": kept, "subtitles": subs}, view
