"""Which audio and subtitle tracks the output keeps, and which audio is copied as it is.

By default every track is kept and every audio track becomes Opus. ``audio_tracks`` /
``subtitle_tracks`` keep tracks by number; else ``*_languages`` keeps tracks by language
(a track without one stays) and ``*_drop_titles`` leaves out tracks whose title contains a
word (commentary). ``audio_copy`` names formats copied as they are (TrueHD, DTS-HD MA, FLAC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from drapto.media.records import AudioTrack, Probe, Scenes, SubtitleTrack, Track
from drapto.media.timeline import Span
from drapto.settings import COPYABLE, Settings

_T = TypeVar("_T", AudioTrack, SubtitleTrack)


def _keep(track: AudioTrack | SubtitleTrack, numbers: Sequence[int], languages: Sequence[str],
          drop_titles: Sequence[str]) -> bool:
    if numbers:
        return int(track.index) in numbers
    codes = {str(c or "").lower() for c in (track.language, track.language_639_2)} - {""}
    if languages and codes and not codes & {code.lower() for code in languages}:
        return False
    title = str(track.title or "").lower()
    return not any(word.lower() in title for word in drop_titles)


def audio(probe: Probe, s: Settings) -> list[AudioTrack]:
    """The source's audio tracks the output keeps, in their order."""
    return [t for t in probe.audio if (t.decodable or t.muxable)
            and _keep(t, s.audio_tracks, s.audio_languages, s.audio_drop_titles)]


def subtitles(probe: Probe, s: Settings) -> list[SubtitleTrack]:
    """The source's subtitle tracks the output keeps, in their order."""
    return [t for t in probe.subtitles if t.muxable
            and _keep(t, s.subtitle_tracks, s.subtitle_languages, s.subtitle_drop_titles)]


def left_out(probe: Probe) -> list[str]:
    """What the output keeps differently from the source, in words: tracks FFmpeg cannot
    decode (copied if Matroska holds them, else left out), subtitle tracks Matroska cannot
    hold, and the video tracks not encoded."""
    said = [f"audio track {t.index} ({t.format or t.codec_id or 'unknown format'}) left "
            "out: FFmpeg cannot decode it and Matroska cannot hold it as it is"
            for t in probe.audio if not (t.decodable or t.muxable)]
    said += [f"subtitle track {t.index} ({t.format or t.codec_id or 'unknown format'}) left "
             "out: Matroska cannot hold it" for t in probe.subtitles if not t.muxable]
    said += [f"audio track {t.index} ({t.format or t.codec_id}) copied as it is: FFmpeg "
             "cannot decode it" for t in probe.audio if t.muxable and not t.decodable]
    said += [f"{other} left out: drapto encodes one video track (the default one, else the "
             "largest)" for other in probe.other_videos]
    return said


def copied(track: Track, s: Settings, clip: bool) -> bool:
    """Whether this audio track is copied as it is (never in a clip, which is cut to the
    sample and so encoded)."""
    if isinstance(track, AudioTrack) and not track.decodable:
        return True  # kept only when Matroska holds it as it is (audio())
    if clip:
        return False
    names = (str(track.format or "").lower(), str(track.codec_id or "").lower())
    return any(n in COPYABLE[c.lower()] for c in s.audio_copy for n in names)


def kept_audio(probe: Probe, s: Settings, clip: bool) -> list[tuple[AudioTrack, bool]]:
    """The audio tracks the output keeps, each with whether it is copied as it is."""
    return [(t, copied(t, s, clip)) for t in audio(probe, s)]


def kept_view(probe: Probe, scenes: Scenes, s: Settings, clip: bool
              ) -> tuple[Probe, Scenes]:
    """probe.json and scenes.json as the output should be: only the kept tracks (an audio
    track copied says so: ``kept_as``, its own format), their spans only."""
    kept = tuple(replace(t, in_view=True, kept_as=t.format if was_copied else "Opus")
                 for t, was_copied in kept_audio(probe, s, clip))
    subs = tuple(subtitles(probe, s))

    def spans(found: tuple[Span | None, ...], tracks: tuple[_T, ...]) -> tuple[Span | None, ...]:
        return tuple(found[t.index] if t.index < len(found) else None for t in tracks)
    streams = scenes.streams
    view = replace(scenes, streams=replace(streams, audio=spans(streams.audio, kept),
                                           subtitles=spans(streams.subtitles, subs)))
    return replace(probe, audio=kept, subtitles=subs), view
