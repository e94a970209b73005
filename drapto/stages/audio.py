"""One Opus track per source audio track, with its language, title and dispositions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drapto.files import atomic_path
from drapto.media import proc, tracks
from drapto.media.records import AudioTrack
from drapto.media.timeline import audio_window, seek_arg, seek_input
from drapto.stages.probe import KIND as PROBE
from drapto.work import outputs
from drapto.work.graph import Building, Kind, Task, key_of, make_task

SCHEMA = 1

# Layouts libopus maps (Vorbis channel order) by channel count; anything else, 5.1(side)
# included, is converted to these (side channels move to the back positions).
OPUS_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1",
                7: "6.1", 8: "7.1"}

# Per-stream statistics that mkvmerge writes; stale after re-encoding.
STALE_TAGS = ("BPS", "DURATION", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES", "ENCODER",
              "_STATISTICS_WRITING_APP", "_STATISTICS_WRITING_DATE_UTC", "_STATISTICS_TAGS")


def drop_stale_tags(spec: str) -> list[str]:
    """``-metadata:<spec> TAG=`` for every stale statistics tag."""
    return [a for tag in STALE_TAGS for a in (f"-metadata:{spec}", f"{tag}=")]


def opus_args(channels: int, bitrate_k: int, filters: list[str] | None = None) -> list[str]:
    args = ["-c:a", "libopus", "-b:a", f"{bitrate_k}k", "-application", "audio",
            "-vbr", "on", "-compression_level", "10", "-frame_duration", "20"]
    chain = list(filters or [])
    if channels in OPUS_LAYOUTS:
        chain.append(f"aformat=channel_layouts={OPUS_LAYOUTS[channels]}")
    else:
        args += ["-mapping_family", "255"]
    return [*args, "-af", ",".join(chain)] if chain else args


def run_audio(source: Path, track: AudioTrack, bitrate_k: int | None, target: Path,
              window: list[int | None] | None = None) -> None:
    """Encode one track at *bitrate_k* (None: copy it as it is). *window*: a clip's
    [seek from, start, end] (µs; the seek relative to the file's start, start and end as
    the file's own timestamps), cut to the sample."""
    seek: list[str] = []
    trim: list[str] = []
    if window:
        seek = seek_input(int(window[0] or 0))
        trim = [f"atrim=start={seek_arg(int(window[1] or 0))}"
                + (f":end={seek_arg(window[2])}" if window[2] is not None else "")]
    with atomic_path(target) as tmp:
        # -copyts: the file's own timestamps, so a delayed start stays (see mux).
        proc.run(["-v", "error", "-copyts", *seek, "-i", str(source),
                  "-map", f"0:a:{track.index}",
                  *(["-c:a", "copy"] if bitrate_k is None
                    else opus_args(track.channels, bitrate_k, trim)),
                  "-map_chapters", "-1",
                  *drop_stale_tags("s:a:0"), "-fflags", "+bitexact", "-flags:a", "+bitexact",
                  str(tmp)],
                 what=f"encoding audio track {track.index} of {source}")


def tasks(b: Building) -> Iterator[Task]:
    """audio:N per kept audio track; stowed once the output holds it (its key is in the
    output's DRAPTO_AUDIO tag)."""
    up = b.up
    job = up.job
    for track, copied in tracks.kept_audio(up.probe, job.settings, bool(job.clip)):
        i = track.index

        def in_output(i: int = i) -> bool:
            return b.muxed() or \
                key_of(up.get(KIND.named(i))) in outputs.holds(job)["audio"]
        yield up.add(make_task(
            job, KIND, str(i), run_audio,
            {"source": job.source, "track": track, "target": job.work.audio(i),
             "bitrate_k": None if copied else job.settings.audio_bitrate(track.channels),
             "window": audio_window(up.scenes)},
            [up.get(PROBE.name)], f"{'copy' if copied else 'Opus encode'} of audio track {i}",
            SCHEMA, stowed=in_output))


KIND = Kind("audio", 2,
            "audio:N: Opus encode of the input's audio track N (or a copy of it).", make=tasks)
