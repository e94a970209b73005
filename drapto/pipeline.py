"""Task creators: the pipeline as doit tasks, one target each, up-to-date by stamps.

Every task carries a *key*: a hash of the settings its action reads and the keys of the
tasks it depends on. A task is up to date when its stamp holds that key and its target is
the file stamped (see :mod:`drapto.workdir`); doit's own database is never consulted, so
resume works after kill -9 and a no-op rerun hashes nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from . import memory, tracks
from .cluster import run_encode_remote
from .errors import DraptoError
from .job import Failure, Job, Plan
from .quality import model_for, scoring_format
from .search import SCHEMA as search_schema
from .search import calibration_indices, run_calibration
from .stages.audio import run_audio
from .stages.crop import SCHEMA as crop_schema
from .stages.crop import run_crop
from .stages.encode import dolby_vision_blocker, run_concat, run_encode, run_segment
from .stages.mux import run_mux
from .stages.probe import MAX_ENCODER_FPS, run_probe
from .stages.probe import SCHEMA as probe_schema
from .stages.report import SCHEMA as report_schema
from .stages.report import JobRow, plan_stats, run_report
from .stages.report import stats as report_stats
from .stages.scenes import SCHEMA as scenes_schema
from .stages.scenes import run_scenes
from .stages.validate import run_validate
from .timeline import segment_durations
from .workdir import is_done, make_key, mark_done, read_json, read_stamp, stow

Task = dict[str, Any]


def _action(name: str, stamp: Path, key: str, target: Path, fn: Callable[..., None],
            kwargs: dict[str, Any] | Callable[[], dict[str, Any]]) -> TaskFailed | None:
    try:
        fn(**(kwargs() if callable(kwargs) else kwargs))
        mark_done(stamp, key, target)
    except DraptoError as exc:
        return TaskFailed(str(exc))
    except OSError as exc:  # a full disk, a folder that cannot be written or read
        where = f" ({exc.filename})" if exc.filename else ""
        return TaskFailed(f"{name}: {exc.strerror or exc}{where}")
    return None


def _clean(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def tagged(job: Job, name: str) -> str:
    """A task's full name: in a batch, the file's tag follows the basename (encode:film:0003,
    probe:film); alone, the plain name (encode:0003, probe)."""
    if not job.tag:
        return name
    base, _, sub = name.partition(":")
    return f"{base}:{job.tag}:{sub}" if sub else f"{base}:{job.tag}"


def make_task(job: Job, basename: str, name: str | None, target: Path, key: str,
              fn: Callable[..., None], kwargs: dict[str, Any] | Callable[[], dict[str, Any]],
              task_dep: list[str], doc: str, keep_on_clean: bool = False,
              stowed: Callable[[], bool] | None = None) -> Task:
    full = tagged(job, f"{basename}:{name}" if name else basename)
    name = full.partition(":")[2] or None
    task_dep = [tagged(job, d) for d in task_dep]
    stamp = job.work.stamp(full)
    task: Task = {
        "basename": basename,
        "actions": [(_action, [full, stamp, key, target, fn, kwargs])],
        # doit runs a task whose declared target is missing: a target that may be removed
        # after a finished run (stowed) is not declared; its stamp decides alone.
        "targets": [] if stowed else [str(target)],
        "uptodate": [functools.partial(is_done, stamp, key, target, stowed)],
        "task_dep": task_dep,
        "clean": [(_clean, [stamp] if keep_on_clean else [target, stamp])],
        "doc": doc,
    }
    if name:
        task["name"] = name
    return task


def output_probe(job: Job) -> dict[str, Any] | None:
    """probe.json's view of the job's output (None: there is none, or it is no video), read
    once per state of the file: the ownership check, the batch skip and the stowed tasks'
    checks of one run all ask."""
    try:
        st = job.output.stat()
    except OSError:
        return None
    return _probed(str(job.output), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _probed(output: str, size: int, mtime: int) -> dict[str, Any] | None:
    from .stages.probe import probe

    try:
        return probe(Path(output))
    except DraptoError:
        return None


def output_holds(job: Job) -> dict[str, Any]:
    """What the job's output says it holds: its DRAPTO_VIDEO and DRAPTO_AUDIO tags, the keys
    of the joined video and of each audio track."""
    info = output_probe(job) or {}
    return {"video": info.get("drapto_video"),
            "audio": (info.get("drapto_audio") or "").split(",")}


def output_owner(job: Job) -> str:
    """Whose the file at the job's output is: ``none`` (there is none), ``ours`` (drapto
    wrote it for this input: its ``DRAPTO_SOURCE`` tag is this input's fingerprint, or a mux
    stamp of this input, or of an earlier content of the same path, describes it) or
    ``foreign`` (anything else, never replaced unless ``overwrite=yes``)."""
    if not job.output.exists():
        return "none"
    info = output_probe(job) if job.output.is_file() else None
    if info is None:
        return "foreign"
    tag = info.get("drapto_source")
    if tag and tag == source_fingerprint(job):
        return "ours"
    st = job.output.stat()
    made = [st.st_size, st.st_mtime_ns]
    if read_stamp(job.work.stamp(tagged(job, "mux"))).get("target") == made:
        return "ours"
    # Written for this same path before its content changed: that input's work folder.
    for stamp in job.work.path.parent.glob("*/stamps/mux*.json"):
        if read_stamp(stamp).get("target") == made:
            with contextlib.suppress(OSError, ValueError):
                if read_json(stamp.parent.parent / "probe.json").get("source") == str(job.source):
                    return "ours"
    return "foreign"


def output_is_done(job: Job) -> bool:
    """In a batch: the file's output exists, drapto wrote it for this input, and drapto's
    last run of it did not fail (a failed validation leaves the output there)."""
    return not job.work.failure.exists() and output_owner(job) == "ours"


def source_fingerprint(job: Job) -> str:
    """The input's content fingerprint (drapto/workdir.py), as the output's tag holds it."""
    return job.work.fingerprint


def default_workers(job: Job | None) -> int:
    """Parallel tasks when ``-n`` is not given: as many encodes as fit the memory budget
    (estimated for the output height when the input was probed already), one per core."""
    if job is None:
        return 1
    try:
        height = int(read_json(job.work.probe)["video"]["height"])
    except (OSError, ValueError, KeyError, TypeError):  # not probed yet (or damaged)
        height = 1080
    s = job.settings
    return memory.worker_count(memory.estimate_mib(height, s.preset, s.memory_estimates),
                               memory.budget_mib(s.memory_budget))


def probe_key(job: Job) -> str:
    """The root of every key: the source's content fingerprint, not its path (a touched,
    moved or copied source with the same content redoes nothing)."""
    return make_key("probe", probe_schema, source_fingerprint(job))


def scene_settings(job: Job) -> dict[str, Any]:
    s = job.settings
    return {"threshold": s.scene_threshold, "threshold_hdr": s.scene_threshold_hdr,
            "min_segment": s.min_segment, "max_segment": s.max_segment,
            "clip": list(job.clip) if job.clip else None}


def crop_settings(job: Job) -> dict[str, Any]:
    s = job.settings
    return {"mode": s.crop, "samples": s.crop_samples, "limit_sdr": s.crop_limit,
            "limit_hdr": s.crop_limit_hdr, "dolby_vision": s.dolby_vision}


def crop_key(job: Job) -> str:
    return make_key("crop", crop_schema, probe_key(job), crop_settings(job))


def _crop_kwargs(job: Job) -> dict[str, Any]:
    probe = read_json(job.work.probe)
    settings = crop_settings(job)
    dv = settings.pop("dolby_vision") == "auto" and probe["video"]["hdr"]["dolby_vision"]
    return {"source": job.source, "probe": probe, "target": job.work.crop, **settings,
            "dolby_vision": bool(dv) and dolby_vision_blocker(dv) is None}


def task_crop(job: Job) -> Task:
    return make_task(job, "crop", None, job.work.crop, crop_key(job), run_crop,
                     lambda: _crop_kwargs(job),
                     ["probe"], "crop.json: the crop rectangle, or none, with the evidence")


def task_probe(job: Job) -> Task:
    return make_task(job, "probe", None, job.work.probe, probe_key(job), run_probe,
                     {"source": job.source, "target": job.work.probe}, [],
                     "probe.json: streams, tracks, colour, chapters of the input")


def scenes_key(job: Job) -> str:
    return make_key("scenes", scenes_schema, probe_key(job), scene_settings(job))


def task_scenes(job: Job) -> Task:
    params = scene_settings(job)
    return make_task(job, "scenes", None, job.work.scenes, scenes_key(job), run_scenes,
                     lambda: {"source": job.source, "probe": read_json(job.work.probe),
                              "target": job.work.scenes, **params},
                     ["probe"], "scenes.json: scene cuts and segment boundaries")


def _loaded(job: Job | None) -> tuple[dict[str, Any], dict[str, Any], str, str] | None:
    """probe.json, scenes.json and their keys, once the scenes task has made them for this
    run's input and settings (a scenes.json of other settings, say the whole film's when this
    run's clip was refused, makes no task)."""
    if job is None:
        return None
    pkey, skey = probe_key(job), scenes_key(job)
    if not (is_done(job.work.stamp(tagged(job, "probe")), pkey, job.work.probe)
            and is_done(job.work.stamp(tagged(job, "scenes")), skey, job.work.scenes)):
        return None
    return read_json(job.work.probe), read_json(job.work.scenes), pkey, skey


def encoder_rate(probe: dict[str, Any], scenes: dict[str, Any]) -> list[int] | None:
    """The frame rate to give SVT-AV1 as [num, den] when the one FFmpeg guessed from the
    timestamps is beyond what SVT-AV1 accepts: the rate the scene pass measured; else None
    (FFmpeg's own)."""
    if float(probe["video"].get("ffmpeg_fps") or 0) <= MAX_ENCODER_FPS:
        return None
    rate = Fraction(scenes["fps"]).limit_denominator(1001)
    return [rate.numerator, rate.denominator]


def video_settings(job: Job, probe: dict[str, Any], scenes: dict[str, Any]) -> dict[str, Any]:
    s, v = job.settings, probe["video"]
    deint = s.deinterlace == "on" or (s.deinterlace == "auto" and v["interlaced"])
    dv = v["hdr"]["dolby_vision"] if s.dolby_vision == "auto" else None
    target = s.target_vmaf_hdr if v["hdr"]["is_hdr"] else s.target_vmaf
    search = None if s.quality != "vmaf" else {
        "target": target, "tolerance": s.vmaf_tolerance,
        "overshoot": s.vmaf_overshoot, "crf_min": s.crf_min,
        "crf_max": s.crf_max, "attempts": s.search_attempts, "pool": s.vmaf_pool,
        "start": s.search_start_crf, "preset": s.preset, "search_preset": s.search_preset,
        "search": s.search, "sample": s.search_sample,
        "max_encoded_percent": s.max_encoded_percent,
        "subsample": s.vmaf_subsample, "model": model_for(v["width"], v["height"]),
        "scoring": scoring_format(v["bit_depth"], s.pixel_format)}
    return {"preset": s.preset, "pixel_format": s.pixel_format, "svt_params": s.svt_params,
            "crf": s.crf_for_dolby_vision(v["width"]) if dv else s.crf_for(v["height"]),
            "filters": ["bwdif=mode=send_frame:parity=auto:deint=interlaced"] if deint else [],
            "dolby_vision": dv, "quality": search, "encoder_fps": encoder_rate(probe, scenes)}


def execute_encode(executor: str, name: str, **kwargs: Any) -> None:
    """An encode's action: ``run_encode`` here, or on the Dask cluster of ``executor``.
    The executor is not part of the task's key: the bytes do not depend on it."""
    if executor == "local":
        run_encode(**kwargs)
    else:
        run_encode_remote(executor, name, kwargs)


def calibration_of(job: Job, scenes: dict[str, Any]) -> list[int]:
    """The segments whose searches calibrate the film (with quality targeting)."""
    return calibration_indices(len(scenes["segments"]), job.settings.calibration_segments)


def segment_keys(job: Job, probe: dict[str, Any], scenes: dict[str, Any],
                 skey: str) -> tuple[list[tuple[str, str]], str | None]:
    """(segment key, encode key) per segment, and the calibration's key (None when the
    encodes need no calibration). Every encode outside the calibration depends on it."""
    video = video_settings(job, probe, scenes)
    seg_keys = [make_key("segment", skey, seg) for seg in scenes["segments"]]
    plain = [make_key("encode", k, video, crop_key(job)) for k in seg_keys]
    sample = calibration_of(job, scenes) if video["quality"] else []
    if not sample:
        return list(zip(seg_keys, plain)), None
    cal_key = make_key("calibration", search_schema, [plain[i] for i in sample])
    return [(k, e if i in sample else make_key(e, cal_key))
            for i, (k, e) in enumerate(zip(seg_keys, plain))], cal_key


def audio_keys(job: Job, probe: dict[str, Any], pkey: str) -> list[str]:
    """The keys of the kept audio tracks' tasks (drapto/tracks.py)."""
    return [make_key("audio", pkey, t, "copy" if copied else
                     job.settings.audio_bitrate(t["channels"]), job.clip)
            for t, copied in kept_audio(job, probe)]


def kept_audio(job: Job, probe: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """The audio tracks the output keeps, each with whether it is copied as it is."""
    return [(t, tracks.copied(t, job.settings, bool(job.clip)))
            for t in tracks.audio(probe, job.settings)]


def kept_view(job: Job, probe: dict[str, Any], scenes: dict[str, Any]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """probe.json and scenes.json as the output should be: only the kept tracks (an audio
    track copied says so: ``kept_as``, its own format), their spans only."""
    audio = [{**t, "kept_as": t["format"] if copied else "Opus"}
             for t, copied in kept_audio(job, probe)]
    subs = tracks.subtitles(probe, job.settings)
    streams = scenes.get("streams") or {}

    def spans(kind: str, kept: list[dict[str, Any]]) -> list[Any]:
        found = streams.get(kind) or []
        return [found[t["index"]] if t["index"] < len(found) else None for t in kept]
    view = {**scenes, "streams": {**streams, "audio": spans("audio", audio),
                                  "subtitles": spans("subtitles", subs)}}
    return {**probe, "audio": audio, "subtitles": subs}, view


def audio_window(scenes: dict[str, Any]) -> list[int | None] | None:
    """For a clip: where to seek (a second early) and the range as the file's timestamps."""
    clip = scenes.get("clip")
    if not clip:
        return None
    start = scenes["zero_us"]
    end = None if clip[1] is None else start + clip[1] - clip[0]
    return [max(0, clip[0] - 1_000_000), start, end]


def tasks_segment(job: Job | None) -> Iterator[Task]:
    """The frame range of each segment (segment:N)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    probe, scenes, _, skey = loaded
    keys, _ = segment_keys(job, probe, scenes, skey)
    for seg, (seg_key, _) in zip(scenes["segments"], keys):
        i = seg["index"]
        yield make_task(job, "segment", f"{i:04d}", job.work.segment(i), seg_key, run_segment,
                        {"scenes": scenes, "index": i, "target": job.work.segment(i)},
                        ["scenes"], f"frames {seg['start']}..{seg['start'] + seg['frames'] - 1}")


def tasks_encode(job: Job | None, threads: int) -> Iterator[Task]:
    """The AV1 encode of each segment (encode:N), and the film's calibration (calibrate)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    probe, scenes, _, skey = loaded
    video = video_settings(job, probe, scenes)
    keys, cal_key = segment_keys(job, probe, scenes, skey)
    sample = calibration_of(job, scenes) if cal_key else []
    concat_key = _finish_keys(job, loaded)[0]

    def in_output() -> bool:  # a removed segment is in the output that holds this video
        return bool(output_holds(job).get("video") == concat_key)
    for seg, (_, enc_key) in zip(scenes["segments"], keys):
        i, name = seg["index"], f"{seg['index']:04d}"
        calibrated = cal_key is not None and i not in sample
        yield make_task(job, "encode", name, job.work.encoded(i), enc_key, execute_encode,
                        {"executor": job.settings.executor,
                         "name": tagged(job, f"encode:{name}"),
                         "source": job.source, "segment": job.work.segment(i),
                         "crop": job.work.crop, "target": job.work.encoded(i),
                         "video": video, "threads": threads,
                         "memory_budget": job.settings.memory_budget,
                         "memory_estimates": job.settings.memory_estimates,
                         "calibration": job.work.calibration if calibrated else None},
                        [f"segment:{name}", "crop", *(["calibrate"] if calibrated else [])],
                        f"AV1 encode of segment {name}", stowed=in_output)
    if cal_key is not None:
        yield make_task(job, "calibrate", None, job.work.calibration, cal_key, run_calibration,
                        {"records": [job.work.record(i) for i in sample],
                         "target": job.work.calibration},
                        [f"encode:{i:04d}" for i in sample],
                        "calibration.json: what the calibration segments measured")


def _audio_in_output(job: Job, key: str) -> bool:
    return key in output_holds(job).get("audio", [])


def tasks_audio(job: Job | None) -> Iterator[Task]:
    """One Opus track per source audio track (audio:N)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    probe, scenes, pkey, _ = loaded
    for (track, copied), key in zip(kept_audio(job, probe), audio_keys(job, probe, pkey)):
        i = track["index"]
        yield make_task(job, "audio", str(i), job.work.audio(i), key, run_audio,
                        {"source": job.source, "track": track, "target": job.work.audio(i),
                         "bitrate_k": job.settings.audio_bitrate(track["channels"]),
                         "window": audio_window(scenes), "copy": copied},
                        ["probe"], f"{'copy' if copied else 'Opus track'} of audio track {i}",
                        stowed=functools.partial(_audio_in_output, job, key))


def _finish_keys(job: Job, loaded: tuple[dict[str, Any], dict[str, Any], str, str]
                 ) -> tuple[str, str]:
    probe, scenes, pkey, skey = loaded
    concat_key = make_key("concat", [k for _, k in segment_keys(job, probe, scenes, skey)[0]],
                          segment_durations(scenes))
    mux_key = make_key("mux", concat_key, audio_keys(job, probe, pkey), str(job.output),
                       scenes["first_pts_us"], scenes["zero_us"], scenes.get("clip"),
                       [t["index"] for t in tracks.subtitles(probe, job.settings)])
    return concat_key, mux_key


def tasks_concat(job: Job | None) -> Iterator[Task]:
    """video.mkv: the encoded segments joined (concat)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    scenes = loaded[1]
    n = len(scenes["segments"])
    concat_key = _finish_keys(job, loaded)[0]
    yield make_task(job, "concat", None, job.work.video, concat_key,
                    run_concat, {"encoded": [job.work.encoded(i) for i in range(n)],
                                 "durations": segment_durations(scenes),
                                 "listing": job.work.concat_list, "target": job.work.video},
                    [f"encode:{i:04d}" for i in range(n)], "video.mkv: the joined AV1 video",
                    stowed=lambda: output_holds(job).get("video") == concat_key)


def tasks_mux(job: Job | None) -> Iterator[Task]:
    """The output MKV: video, Opus tracks, subtitles, chapters, attachments, tags (mux)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    probe, scenes = loaded[0], loaded[1]
    kept, _ = kept_view(job, probe, scenes)
    concat_key, mux_key = _finish_keys(job, loaded)
    yield make_task(job, "mux", None, job.output, mux_key, run_mux,
                    {"source": job.source, "probe": kept, "video": job.work.video,
                     "audio": [job.work.audio(t["index"]) for t in kept["audio"]],
                     "scenes": scenes, "target": job.output,
                     "source_id": source_fingerprint(job),
                     "parts": {"video": concat_key,
                               "audio": audio_keys(job, probe, loaded[2])}},
                    ["concat", *(f"audio:{t['index']}" for t in kept["audio"])],
                    f"the output MKV {job.output}", keep_on_clean=True)


def _clip_ms(scenes: dict[str, Any]) -> tuple[int, int] | None:
    """A clip's range (ms from the file's start) as encoded."""
    clip = scenes.get("clip")
    if not clip:
        return None
    return clip[0] // 1000, (clip[0] + sum(segment_durations(scenes))) // 1000


def tasks_validate(job: Job | None) -> Iterator[Task]:
    """validation.json: the output checked against the source (validate)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    probe, scenes = kept_view(job, loaded[0], loaded[1])
    bit_depth = 10 if "10" in job.settings.pixel_format else 8
    yield make_task(job, "validate", None, job.work.validation,
                    make_key("validate", _finish_keys(job, loaded)[1], bit_depth), run_validate,
                    {"src_probe": probe, "scenes": scenes, "output": job.output,
                     "bit_depth": bit_depth, "crop": job.work.crop,
                     "clip_ms": _clip_ms(scenes),
                     "records": [job.work.record(i) for i in range(len(scenes["segments"]))],
                     "target": job.work.validation},
                    ["mux", "crop"], "validation.json: the output checked against the source")


def tasks_report(job: Job | None) -> Iterator[Task]:
    """report.json: per segment and overall figures of the encode (report)."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    n = len(loaded[1]["segments"])
    bit_depth = 10 if "10" in job.settings.pixel_format else 8
    key = make_key("report", report_schema,
                   make_key("validate", _finish_keys(job, loaded)[1], bit_depth))
    yield make_task(job, "report", None, job.work.report, key, run_report,
                    {"probe": job.work.probe, "scenes": job.work.scenes,
                     "records": [job.work.record(i) for i in range(n)],
                     "validation": job.work.validation, "output": job.output,
                     "audio": [job.work.audio(t["index"])
                               for t, _ in kept_audio(job, loaded[0])],
                     "target": job.work.report},
                    ["validate"], "report.json: per segment and overall figures")


def task_stats(work_root: Path, doc: str) -> Task:
    """Without input=: the statistics of every encode found under the work root."""
    def show() -> None:
        print("\n".join(report_stats(work_root)))
    return {"basename": "report", "actions": [show], "verbosity": 2, "uptodate": [False],
            "doc": doc}


def task_failure(failure: Failure) -> Task:
    """job:N: a job of a job file that cannot run fails with its reason (the others run)."""
    return {"basename": "job", "name": str(failure.number),
            "actions": [lambda: TaskFailed(failure.message)], "doc": failure.message}


def plan_rows(plan: Plan) -> list[JobRow]:
    """Each job and clip of a job file: done (its report), failed (why) or left."""
    rows = [JobRow(f.label, "failed", None, f.message) for f in plan.failures]
    for job in plan.jobs:
        report, failed = None, None
        with contextlib.suppress(OSError, ValueError, KeyError):
            report = read_json(job.work.report)
            if not Path(report["output"]).is_file():
                report = None
        with contextlib.suppress(OSError, ValueError, KeyError):
            failed = str(read_json(job.work.failure)["message"])
        status = "failed" if failed else "done" if report else "left"
        rows.append(JobRow(job.output.name, status, report if status == "done" else None,
                           failed))
    return rows


def task_plan_stats(plan: Plan, doc: str) -> Task:
    """With jobs=FILE: the statistics of that job file's encodes (nothing is encoded)."""
    def show() -> None:
        print("\n".join(plan_stats(plan.document, plan_rows(plan))))
    return {"basename": "report", "actions": [show], "verbosity": 2, "uptodate": [False],
            "doc": doc}


def tasks_tidy(job: Job | None) -> Iterator[Task]:
    """After a finished, validated encode: the bulky intermediates removed (tidy), their
    stamps kept as stowed; with keep_work=yes, nothing."""
    loaded = _loaded(job)
    if job is None or loaded is None:
        return
    n = len(loaded[1]["segments"])
    bulky = [(f"encode:{i:04d}", job.work.encoded(i)) for i in range(n)]
    bulky += [(f"audio:{t['index']}", job.work.audio(t["index"]))
              for t, _ in kept_audio(job, loaded[0])]
    bulky.append(("concat", job.work.video))
    keep = job.settings.keep_work == "yes"

    def tidy() -> None:
        for name, path in bulky:
            stow(job.work.stamp(tagged(job, name)), path)

    yield {"basename": "tidy", **({"name": job.tag} if job.tag else {}),
           "actions": [] if keep else [tidy],
           "uptodate": [lambda: keep or not any(p.exists() for _, p in bulky)],
           "task_dep": [tagged(job, "report")],
           "doc": "the work folder's bulky intermediates removed after a finished encode"}
