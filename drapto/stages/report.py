"""report.json: what the encode produced, per segment and overall; and the statistics of
every encode found in a work root (``doit report work=…`` without ``input=``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from drapto.files import atomic_path, read_json
from drapto.media import proc, tracks
from drapto.media.records import (
    Balance,
    FilmQuality,
    Outside,
    Probe,
    Report,
    ReportSegment,
    Scenes,
    SegmentRecord,
    SegmentSearched,
    SizeDecision,
    crf_text,
)
from drapto.media.timeline import audio_window, read_framecrc, seek_arg, seek_input
from drapto.quality.segment_run import SEGMENT_WARNING
from drapto.stages.balance import KIND as BALANCE
from drapto.stages.chart import clock, render
from drapto.stages.encode import final_targets
from drapto.stages.size import KIND as SIZE
from drapto.stages.size import lowered_line
from drapto.stages.validate import KIND as VALIDATE
from drapto.work.graph import Building, Kind, Task, make_task
from drapto.work.job import Failure, Job, Plan

SCHEMA = 5
DOC = ("report.json: figures per segment and overall; without input=, the statistics of "
       "every encode under work=; with jobs=FILE, of that job file's encodes.")


def clip_input_bytes(source: Path, scenes: Scenes) -> int:
    """A clip's own input size: the bytes of the source's video, audio and subtitle packets
    whose timestamps fall within its range (read by stream copy, from a second before)."""
    window = audio_window(scenes)
    assert window is not None
    seek, start, end = window
    assert seek is not None and start is not None
    length = [] if end is None else ["-t", seek_arg(end - seek + 1_000_000)]
    lines: list[str] = []
    proc.run(["-v", "error", "-copyts", *seek_input(seek), *length, "-i", str(source),
              "-map", "0:V", "-map", "0:a?", "-map", "0:s?", "-c", "copy", "-copyinkf",
              "-f", "framecrc", "pipe:1"],
             what=f"reading the clip's packets of {source}", on_line=lines.append)
    packets = read_framecrc(lines, sizes_of="all")
    return sum(n for p in packets.values() for t, n in p.sizes or []
               if t >= start and (end is None or t < end))


def build(probe: Probe, scenes: Scenes, records: list[SegmentRecord],
          validation: dict[str, Any], output: Path, audio_bytes: int = 0,
          size: SizeDecision | None = None, balance: Balance | None = None,
          size_in: int | None = None) -> Report:
    """*size_in*: a clip's own input size (:func:`clip_input_bytes`); else the file's."""
    fps = scenes.fps
    again = set(balance.segments) if balance else set()
    segments = tuple(ReportSegment(
        i, r.start, r.frames, r.crf, r.bytes, r.vmaf,
        None if r.scored is None else r.scored.reached,
        round(r.bytes * 8 / 1000 / (r.frames / fps), 1), r.seconds,
        None if r.scored is None else r.scored.source_bytes, r.peak_memory_mib,
        None if r.scored is None else SegmentSearched(
            r.scored.target_vmaf, list(r.scored.band), r.scored.outside,
            f"{r.start:08d}" in again, len(r.scored.search.probes),
            len(r.scored.search.finals)))
        for i, r in enumerate(records))
    size_in, size_out = size_in or probe.size, output.stat().st_size
    duration = scenes.frames / fps
    video_bytes = sum(r.bytes for r in records)
    crfs = sorted(r.crf for r in records)

    def rate(n: int) -> float | None:
        return round(n * 8 / 1000 / duration, 1) if duration else None
    return Report(
        probe.source, str(output), scenes.frames, round(duration, 3), size_in, size_out,
        round(100 * (1 - size_out / size_in), 1),
        round(size_out * 8 / 1000 / duration, 1) if duration else None,
        round(sum(r.seconds for r in records), 1), segments, tuple(validation["warnings"]),
        validation["ok"], video_bytes, rate(video_bytes), audio_bytes, rate(audio_bytes),
        crfs[0] if crfs else None, crfs[-1] if crfs else None,
        crfs[len(crfs) // 2] if crfs else None, "clip" if scenes.clip else "file", size,
        vmaf_summary(records, size, balance))


def vmaf_summary(records: list[SegmentRecord], size: SizeDecision | None = None,
                 balance: Balance | None = None) -> FilmQuality | None:
    """The film's quality against what was asked: the frame-weighted mean of the segments'
    VMAF (as balance.json weighs them), its tolerance, the segments outside their band and
    why, over every scored frame the minimum and 5th percentile."""
    scored = [(r, r.scored) for r in records if r.scored is not None]
    scores = sorted(v for _, s in scored for v in s.vmaf_frames or [])
    if not scored or not scores:
        return None
    first = scored[0][1]
    target = float(first.target_vmaf)
    mean = sum(s.vmaf * r.frames for r, s in scored) / sum(r.frames for r, _ in scored)
    tolerance = balance.tolerance if balance else None
    return FilmQuality(
        target, size.asked if size else target, first.vmaf_pool, round(mean, 3), tolerance,
        None if tolerance is None else abs(mean - target) <= tolerance + 1e-9,
        list(first.band), scores[0], scores[int(0.05 * (len(scores) - 1))],
        min(s.vmaf for _, s in scored), max(s.vmaf for _, s in scored), len(scores),
        tuple(Outside(i, r.start, r.scored.vmaf, r.scored.outside)
              for i, r in enumerate(records) if r.scored is not None and r.scored.outside),
        len(balance.segments) if balance else 0,
        sum(len(s.search.probes) for _, s in scored),
        sum(len(s.search.finals) for _, s in scored))


def run_report(source: Path, probe: Path, scenes: Path, records: list[Path], validation: Path,
               output: Path, target: Path, audio: list[Path] | None = None,
               size: Path | None = None, balance: Path | None = None) -> None:
    """report.json, and report.html beside it (drapto/stages/chart.py). The input's size is
    the file's, or a clip's own (the packets in its range)."""
    done = [SegmentRecord.read(r) for r in records]
    cut = Scenes.read(scenes)
    paths = audio or []
    # The audio tracks' own sizes; once they were removed (tidy), what the output holds
    # besides the video.
    audio_bytes = (sum(p.stat().st_size for p in paths) if all(p.exists() for p in paths)
                   else max(0, output.stat().st_size - sum(r.bytes for r in done)))
    # The input as this run names it (the work folder is found by content: probe.json may
    # name the path the film had when it was first probed).
    report = build(replace(Probe.read(probe), source=str(source)), cut, done,
                   read_json(validation), output,
                   audio_bytes, SizeDecision.read(size) if size else None,
                   Balance.read(balance) if balance else None,
                   clip_input_bytes(source, cut) if cut.clip else None)
    with atomic_path(target.with_suffix(".html")) as tmp:
        tmp.write_text(render(report), encoding="utf-8")
    report.write(target)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def summary_lines(report: Report, stage_seconds: dict[str, float]) -> list[str]:
    """The human summary at the end of a run."""
    pct = report.reduction_pct
    change = f"{pct:.1f} % smaller" if pct >= 0 else f"{-pct:.1f} % larger"
    crfs = sorted(s.crf for s in report.segments)
    low, high, mid = (_or(report.crf_min, crfs[0]), _or(report.crf_max, crfs[-1]),
                      _or(report.crf_median, crfs[len(crfs) // 2]))
    crf = crf_text(low) if low == high else (f"{crf_text(low)}-{crf_text(high)} "
                                             f"(median {crf_text(mid)})")
    lines = [f"{report.source} -> {report.output}",
             f"  {mib(report.size_in)} -> {mib(report.size_out)} "
             f"({change}), {report.frames} frames, {report.kbit_s} kbit/s, "
             f"{len(report.segments)} segments, CRF {crf}"]
    if report.video_bytes is not None and report.audio_bytes is not None:
        lines.append(f"  video {mib(report.video_bytes)} ({report.video_kbit_s} kbit/s), "
                     f"audio {mib(report.audio_bytes)} ({report.audio_kbit_s} kbit/s)")
    if report.vmaf:
        lines.append(f"  {quality_line(report.vmaf, len(report.segments))}")
    lowered = lowered_line(report.size) if report.size else None
    if lowered:
        lines.append(f"  {lowered}")
    if pct <= 0:
        lines.append(f"  the output is not smaller than the input ({change}): the source is "
                     "already lean for this quality")
    shown = {k: v for k, v in stage_seconds.items() if v >= 0.05 and k != "total"}
    if shown:
        total = (f"{stage_seconds['total']:.1f} s in all: " if "total" in stage_seconds
                 else "")
        lines.append(f"  time: {total}" + ", ".join(f"{k} {v:.1f} s" for k, v in shown.items()))
    return lines


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


# Segments named in a grouped warning line; the others are counted (all are in report.json).
NAMED = 3


def warning_lines(report: Report) -> list[str]:
    """The run's warnings for the screen: each film-wide one as it is, the segments outside
    their band one line per reason, with a count and the first few (all of them are in
    report.json and report.html)."""
    lines = [w for w in report.warnings if not w.startswith(SEGMENT_WARNING)]
    v = report.vmaf
    outside = v.segments_outside_band if v else ()
    fps = report.frames / report.duration_s if report.duration_s else 0.0
    by_why: dict[str, list[Outside]] = {}
    for s in outside:
        by_why.setdefault(s.why, []).append(s)
    band_text = f" {v.band[0]:g}-{v.band[1]:g}" if v and v.band else ""
    for why, segs in by_why.items():
        named = ", ".join(f"{s.index:04d} at {clock(s.start / fps) if fps else '?'}"
                          f" (VMAF {s.vmaf:.2f})" for s in segs[:NAMED])
        more = f" and {len(segs) - NAMED} more" if len(segs) > NAMED else ""
        count = f"{len(segs)} segments" if len(segs) > 1 else "segment"
        lines.append(f"{count} outside the band{band_text}: {why}: {named}{more} "
                     f"(report.html shows each)")
    return lines


def quality_line(v: FilmQuality, segments: int) -> str:
    """The film's quality in one line: the mean against the target, the segments' range and
    those outside their band, the work it took."""
    tol = v.film_tolerance
    verdict = "" if tol is None else (
        f" (target {v.target:g} ± {tol:g}: {'met' if v.mean_within else 'missed'})")
    outside = v.segments_outside_band
    out = "none outside the band" if not outside else (
        f"{len(outside)} outside the band ({outside[0].why}"
        f"{'; ...' if len(outside) > 1 else ''})")
    band_text = f" {v.band[0]:g}-{v.band[1]:g}" if v.band else ""
    again = f", {v.balanced} encoded again for the mean" if v.balanced else ""
    probes = f"{v.probes} probes and " if v.probes else ""
    return (f"VMAF {v.mean:.2f} film mean{verdict}; segments {v.segment_min:.2f}-"
            f"{v.segment_max:.2f}, {out}{band_text}; frames min {v.min:.2f}, "
            f"5th percentile {v.p5:.2f}; {probes}{v.final_encodes} final encodes for "
            f"{segments} segments{again}")


def stats(work_root: Path) -> list[str]:
    """Every film under *work_root* by the state of its last run: each finished encode on a
    line (its figures, then its output's full path) with the totals; then each film whose
    last run failed (why) or stopped before its output was written."""
    rows, paths, failed, left = [], [], [], []
    for work in sorted(p for p in work_root.glob("*/") if (p / "probe.json").exists()):
        with contextlib.suppress(OSError, ValueError, KeyError):
            failed.append(str(read_json(work / "failed.json")["message"]))
            continue
        try:
            row = Report.read(work / "report.json")
            if not Path(row.output).is_file():
                raise OSError
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError, ValueError, KeyError):
                source = read_json(work / "probe.json")["source"]
                size = (SizeDecision.read(work / "size.json")
                        if (work / "size.json").exists() else None)
                left.append(f"{source}: skipped, over the size cap (~"
                            f"{size.predicted_percent} % of the source's video predicted)"
                            if size and size.skips else
                            f"{source}: its last run stopped before the output was written "
                            "(run it again)")
            continue
        rows.append((row, wall_seconds(work)))
        paths.append(work / "report.json")
    if not (rows or failed or left):
        return [f"no encodes under {work_root}"]
    out = [f"{'in':>12} {'out':>12} {'smaller':>8} {'wall':>9} {'encoding':>10}  output"]
    for r, wall in rows:
        out.append(f"{mib(r.size_in):>12} {mib(r.size_out):>12} "
                   f"{r.reduction_pct:>7.1f}% {seconds(wall):>9} "
                   f"{r.encode_seconds:>8.1f} s  {r.output}")
    if rows:
        size_in = sum(r.size_in for r, _ in rows)
        size_out = sum(r.size_out for r, _ in rows)
        walls = [wall for _, wall in rows if wall is not None]
        out.append(f"{mib(size_in):>12} {mib(size_out):>12} "
                   f"{100 * (1 - size_out / size_in):>7.1f}% "
                   f"{seconds(None if len(walls) < len(rows) else sum(walls)):>9} "
                   f"{sum(r.encode_seconds for r, _ in rows):>8.1f} s  "
                   f"total of {len(rows)} encodes")
    out.append(f"{len(rows)} done, {len(failed)} failed, {len(left)} not encoded; wall: the "
               "runs that "
               "made each output, start to finish; encoding: the segments' encodes added up "
               "(they run side by side)")
    for (r, _), path in zip(rows, paths, strict=True):  # where the last run's time went
        with contextlib.suppress(OSError, ValueError, KeyError, IndexError, TypeError):
            stages = read_json(path.parent / "runs.json")[-1]["stages"]
            spent = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items() if v >= 0.05)
            out.append(f"  {Path(r.output).name}, its last run: {spent}")
    out += [f"failed: {message}" for message in failed]
    out += [f"not encoded: {line}" for line in left]
    return out


def wall_seconds(work: Path) -> float | None:
    """The wall time of the runs that made a file's output (runs.json), if recorded."""
    try:
        return round(sum(float(r["wall_seconds"]) for r in read_json(work / "runs.json")), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


@dataclass(frozen=True)
class JobRow:
    """One job or clip of a job file, as ``drapto report`` lists it."""
    label: str
    status: str                       # done, failed or left
    report: Report | None             # report.json, when done
    reason: str | None                # why, when failed
    wall: float | None = None         # the wall time of the runs that made it, when done


def plan_stats(document: str, rows: list[JobRow]) -> list[str]:
    """The jobs of a job file: each done (sizes, reduction, time), failed (why) or left;
    then the totals."""
    out = [f"{document}: {len(rows)} jobs and clips",
           f"{'output':<44} {'status':<7} {'in':>12} {'out':>12} {'smaller':>8} {'wall':>9}"]
    for row in rows:
        r = row.report
        figures = (f"{mib(r.size_in):>12} {mib(r.size_out):>12} "
                   f"{r.reduction_pct:>7.1f}% {seconds(row.wall):>9}" if r else "")
        out.append(f"{row.label[:44]:<44} {row.status:<7} {figures}".rstrip())
        if row.reason:
            out.append(f"    {row.reason}")
    done = [row.report for row in rows if row.report]
    counts = {s: sum(1 for row in rows if row.status == s)
              for s in ("done", "skipped", "failed", "left")}
    total = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "skipped")
    if done:
        size_in, size_out = sum(r.size_in for r in done), sum(r.size_out for r in done)
        total += (f"; done: {mib(size_in)} -> {mib(size_out)} "
                  f"({100 * (1 - size_out / size_in):.1f} % smaller), "
                  f"{sum(r.encode_seconds for r in done):.1f} s of encodes added up")
    out.append(f"total: {total}")
    return out


def tasks(b: Building) -> Iterator[Task]:
    up = b.up
    job = up.job
    vmaf = job.settings.quality == "vmaf"
    yield up.add(make_task(
        job, KIND, None, run_report,
        {"source": job.source, "probe": job.work.probe, "scenes": job.work.scenes,
         "records": [t.with_suffix(".json") for t in final_targets(up)],
         "validation": job.work.validation, "output": job.output,
         "audio": [job.work.audio(t.index)
                   for t in tracks.audio(up.probe, job.settings)],
         "target": job.work.report,
         **({"size": job.work.size, "balance": job.work.balance} if vmaf else {})},
        [up.get(VALIDATE.name), *([up.get(SIZE.name), up.get(BALANCE.name)] if vmaf else [])],
        "report.json: per segment and overall figures", SCHEMA))


def task_stats(work_root: Path) -> Task:
    """Without input=: the statistics of every encode found under the work root."""
    def show() -> None:
        print("\n".join(stats(work_root)))
    return {"basename": "report", "actions": [show], "verbosity": 2, "uptodate": [False],
            "doc": DOC}


def plan_rows(plan: Plan, skipped: Callable[[Job], bool]) -> list[JobRow]:
    """Each job and clip of a job file: done (its report), skipped (over the size cap, by
    *skipped*: the job's graph says so), failed (why) or left."""
    rows = [JobRow(f.label, "failed", None, f.message) for f in plan.failures]
    for job in plan.jobs:
        report: Report | None = None
        failed = None
        if skipped(job):
            rows.append(JobRow(job.output.name, "skipped", None,
                               str(SizeDecision.read(job.work.size).predicted_percent)
                               + " % of the source's video predicted"))
            continue
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            report = Report.read(job.work.report)
            if not Path(report.output).is_file():
                report = None
        with contextlib.suppress(OSError, ValueError, KeyError):
            failed = str(read_json(job.work.failure)["message"])
        status = "failed" if failed else "done" if report else "left"
        rows.append(JobRow(job.output.name, status, report if status == "done" else None,
                           failed, wall_seconds(job.work.path) if status == "done" else None))
    return rows


def task_plan_stats(plan: Plan, skipped: Callable[[Job], bool]) -> Task:
    """With jobs=FILE: the statistics of that job file's encodes (nothing is encoded)."""
    def show() -> None:
        print("\n".join(plan_stats(plan.document, plan_rows(plan, skipped))))
    return {"basename": "report", "actions": [show], "verbosity": 2, "uptodate": [False],
            "doc": DOC}


def task_failure(failure: Failure) -> Task:
    """job:N: a job of a job file that cannot run fails with its reason (the others run)."""
    return {"basename": "job", "name": str(failure.number),
            "actions": [lambda: TaskFailed(failure.message)], "doc": failure.message}


KIND = Kind("report", 3, DOC, make=tasks, reports=True, alone=lambda a: (
    task_plan_stats(a.plan, a.skipped) if a.plan is not None else task_stats(a.work_root)))
