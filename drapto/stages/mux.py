"""The output MKV: AV1 video, the Opus tracks, and the source's subtitles, chapters,
attachments and global tags (stream copy)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from drapto.errors import DraptoError
from drapto.files import atomic_path
from drapto.media import proc, tracks
from drapto.media.records import Probe, Scenes, SubtitleTrack
from drapto.media.timeline import read_framecrc, seek_arg, seek_input, segment_durations
from drapto.stages.audio import KIND as AUDIO
from drapto.stages.concat import KIND as CONCAT
from drapto.work import outputs
from drapto.work.graph import Building, Kind, Task, key_of, make_task

SCHEMA = 2

# Subtitle formats (MediaInfo names) that Matroska cannot hold as they are, and what to
# convert them to.
SUBTITLE_CONVERT = {"Timed Text": "srt"}


# How far before a clip's start a subtitle cue may begin and still be shown in it.
SUBTITLE_LOOKBACK_US = 30_000_000


# Image subtitles (MediaInfo names): a packet is a new state of the screen (a picture, or a
# clear), with no duration of its own; what shows at a clip's start is the last one before it.
BITMAP_SUBTITLES = ("PGS", "DVB Subtitle", "VobSub")


def clip_subtitles(length_us: int, first: int | None = None) -> str:
    """Bitstream filters that fit subtitle cues to a clip of *length_us* (on the output's
    timeline, the clip starts at 0): a cue that ended before the start is dropped, one that
    began before it is cut to begin at 0, one that runs past the end is cut to end there.
    For an image track, *first* is the number of its packets (as the mux reads them) that
    come before the one on screen at the start: that one is moved to 0, those before dropped.
    """
    start = "max(PTS\\,0)"
    cut = f"min(DURATION-({start}-PTS)\\,{seek_arg(length_us)}/TB-{start})"
    if first is None:
        return (f"noise=drop='lte((pts+duration)*tb\\,0)',"
                f"setts=pts='{start}':dts='{start}':duration='{cut}'")
    return (f"noise=drop='lt(n\\,{first})',"
            f"setts=pts='{start}':dts='{start}':duration='if(DURATION\\,{cut}\\,0)'")


def on_screen_from(packets: list[tuple[int, int]], ends: list[int]) -> int:
    """Of an image track's packets (timestamp and end, µs on the clip's timeline), how many
    come before the one on screen at 0: the last that starts at or before 0, unless it has a
    duration that ended by then."""
    before = [i for i, (t, _) in enumerate(packets) if t <= 0]
    if not before:
        return 0
    last = before[-1]
    shown = ends[last] == packets[last][0] or ends[last] > 0
    return last if shown else last + 1


def image_cues(source: Path, subtitles: Sequence[SubtitleTrack], shift: list[str],
               seek: list[str]) -> dict[int, int]:
    """For a clip: for each image subtitle track (by its place among *subtitles*), the
    packets to drop before the one on screen at the clip's start (:func:`on_screen_from`),
    read as the mux reads the source (*shift*, *seek*) up to a second past the start."""
    images = [out for out, sub in enumerate(subtitles) if sub.format in BITMAP_SUBTITLES]
    if not images:
        return {}
    maps = [a for out in images for a in ("-map", f"0:s:{subtitles[out].index}")]
    lines: list[str] = []
    proc.run(["-v", "error", "-copyts", *shift, *seek,
              "-t", seek_arg(SUBTITLE_LOOKBACK_US + 1_000_000), "-i", str(source), *maps,
              "-c", "copy", "-f", "framecrc", "pipe:1"],
             what=f"reading the image subtitles of {source}", on_line=lines.append)
    read = read_framecrc(lines, sizes_of=range(len(images)))
    out: dict[int, int] = {}
    for k, track in enumerate(images):
        p = read.get(k)
        out[track] = on_screen_from(p.sizes or [], p.ends or []) if p else 0
    return out


def restore(output: Path, stream: str, target: Path, shift_us: int = 0) -> None:
    """Take a removed intermediate back from the output, by stream copy: the joined video
    (``v:0``, to start at 0 again) or an audio track (``a:N``, to the source's timestamps,
    *shift_us* later than in the output)."""
    with atomic_path(target) as tmp:
        proc.run(["-v", "error", "-copyts", "-itsoffset", seek_arg(shift_us), "-i",
                  str(output), "-map", f"0:{stream}", "-c", "copy",
                  "-map_chapters", "-1", "-fflags", "+bitexact", "-flags", "+bitexact",
                  str(tmp)], what=f"taking {stream} back from {output} into {target}")


def run_mux(source: Path, kept: Probe, joined: Path, audio: list[Path],
            scenes: Scenes, target: Path, source_id: str = "",
            parts: dict[str, Any] | None = None) -> None:
    """The output MKV from the joined video (video.mkv), the audio tracks and the source.
    *kept*: probe.json as the output holds it (drapto/media/tracks.py, ``kept_view``)."""
    # One timeline, the source's start (or the clip's) as zero (-copyts, then explicit
    # offsets): the Opus tracks and the source (subtitles, chapters) carry the source's own
    # timestamps; the joined video starts at zero and moves to its first frame's time.
    zero, clip = scenes.zero_us, scenes.clip
    parts = parts or {}
    if not joined.exists() or not all(p.exists() for p in audio):  # removed after a run
        # Taken back from the output, or from the last one made for this input.
        found = {p: outputs.held(p) for p in outputs.stores(target, joined.parent, source_id)}
        gone = DraptoError(f"{target}: the encoded video or audio was tidied away after an "
                           "earlier run, and no output holds it any more (removed or "
                           "replaced since): run the same command again, which encodes it "
                           "again")
        if not joined.exists():
            store = next((p for p, h in found.items() if h["video"] == parts.get("video")),
                         None)
            if store is None:
                raise gone
            restore(store, "v:0", joined, -(scenes.first_pts_us - zero))
        for path, key in zip(audio, parts.get("audio", []), strict=False):
            if not path.exists():
                store = next((p for p, h in found.items() if key in h["audio"]), None)
                if store is None:
                    raise gone
                restore(store, f"a:{found[store]['audio'].index(key)}", path, zero)
    shift = ["-itsoffset", seek_arg(-zero)]
    args = ["-v", "error", "-copyts", "-itsoffset", seek_arg(scenes.first_pts_us - zero),
            "-i", str(joined)]
    for path in audio:
        args += [*shift, "-i", str(path)]
    src = len(audio) + 1
    # A clip reads the source from a little before its start, so that a cue that began
    # earlier and is still showing is there to be cut (clip_subtitles).
    seek = seek_input(clip.start_us - SUBTITLE_LOOKBACK_US) if clip else []
    args += [*shift, *seek, "-i", str(source), "-map", "0:v:0"]
    for k in range(len(audio)):
        args += ["-map", f"{k + 1}:a:0"]
    # The kept subtitle tracks (*probe* lists only those, with their source numbers).
    for sub in kept.subtitles:
        args += ["-map", f"{src}:s:{sub.index}?"]
    args += ["-map", f"{src}:t?", "-c", "copy"]
    for out, sub in enumerate(kept.subtitles):
        if sub.format in SUBTITLE_CONVERT:
            args += [f"-c:s:{out}", SUBTITLE_CONVERT[sub.format]]
    # Global tags and chapters from the source; stream tags (languages, titles, attachment
    # names) follow each stream from its input, as FFmpeg does unless stream tags are mapped.
    args += ["-map_metadata", str(src), "-map_chapters", str(src)]
    if kept.title_unread:  # a title FFmpeg does not read (a 3GPP titl box): carried over
        args += ["-metadata", f"title={kept.title}"]
    if source_id:  # how drapto knows its own outputs: never replaced without overwrite=yes
        args += ["-metadata", f"DRAPTO_SOURCE={source_id}"]
    if parts:  # what it holds, so that the intermediates can be removed and taken back
        args += ["-metadata", f"DRAPTO_VIDEO={parts['video']}",
                 "-metadata", f"DRAPTO_AUDIO={','.join(parts['audio'])}"]
    v = kept.video
    if v.language_639_2:
        args += ["-metadata:s:v:0", f"language={v.language_639_2}"]
    if v.title:
        args += ["-metadata:s:v:0", f"title={v.title}"]
    if clip:  # subtitles and chapters end with the clip
        length = sum(segment_durations(scenes))
        images = image_cues(source, kept.subtitles, shift, seek)
        args += ["-t", seek_arg(length)]
        for out in range(len(kept.subtitles)):
            args += [f"-bsf:s:{out}", clip_subtitles(length, images.get(out))]
    args += ["-default_mode", "passthrough", "-fflags", "+bitexact"]
    with atomic_path(target) as tmp:
        proc.run([*args, str(tmp)], what=f"writing {target}")


def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    job = up.job
    kept, _ = tracks.kept_view(up.probe, up.scenes, job.settings, bool(job.clip))
    audio = [up.get(AUDIO.named(t.index)) for t in kept.audio]
    concat = up.get(CONCAT.name)
    yield up.add(make_task(
        job, KIND, None, run_mux,
        {"source": job.source, "kept": kept, "joined": job.work.video,
         "audio": [job.work.audio(t.index) for t in kept.audio], "scenes": up.scenes,
         "target": job.output, "source_id": job.work.fingerprint,
         "parts": {"video": key_of(concat), "audio": [key_of(a) for a in audio]}},
        [concat, *audio], f"the output MKV {job.output}", SCHEMA, keep_on_clean=True))


KIND = Kind(outputs.MUX_STAMP, 3,
            "The output MKV: video, audio, subtitles, chapters, attachments, tags.", make=tasks)
