"""report.html: the film's segments over time, one self-contained page (inline SVG, no
script, nothing fetched): measured VMAF against the target, CRF and bitrate per segment,
and which segments are outside their band or were encoded again for the film's mean."""

from __future__ import annotations

import html
from collections.abc import Sequence

from drapto.media.records import Report, ReportSegment
from drapto.quality.segment_run import SEGMENT_WARNING

WIDTH, PANEL, GAP, LEFT, RIGHT, TOP = 960, 150, 46, 64, 16, 56
MISS, CAP, LINE, BAR, GRID = "#d62728", "#ff7f0e", "#1f77b4", "#7aa6c9", "#dddddd"


def _ticks(low: float, high: float, n: int = 4) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * i / n for i in range(n + 1)]


def clock(seconds: float, short: bool = False) -> str:
    if short:  # a clip of under a minute: tenths of a second
        return f"{seconds:.1f} s"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


def render(report: Report) -> str:
    """The page for a report.json: the panels (one path each, so a film of 760 segments is a
    page of about 100 KB), the segments outside their band or encoded again drawn over them,
    one hover column per segment with its figures, and a table of those segments."""
    segs = report.segments
    fps = report.frames / report.duration_s if report.duration_s else 24.0
    starts, t = [], 0.0
    for s in segs:
        starts.append(t)
        t += s.frames / fps
    total = max(t, 1e-6)
    # At least two pixels a segment on average: a long film's page scrolls sideways.
    plot_w = max(WIDTH - LEFT - RIGHT, 2 * len(segs))
    width = LEFT + plot_w + RIGHT

    def x(sec: float) -> float:
        return LEFT + plot_w * sec / total

    vmaf = report.vmaf
    target = vmaf.target if vmaf else None
    panels: list[tuple[str, str, list[float | None], float, float]] = []
    vmafs = [s.vmaf for s in segs]
    if any(v is not None for v in vmafs):
        known = [v for v in vmafs if v is not None] + ([target] if target else [])
        panels.append(("VMAF", "step", vmafs, min(known) - 1, min(100.0, max(known) + 1)))
    crfs = [float(s.crf) for s in segs]
    panels.append(("CRF", "step", list(crfs), max(0.0, min(crfs) - 3),
                   min(63.0, max(crfs) + 3)))
    rates = [float(s.kbit_s) for s in segs]
    panels.append(("kbit/s", "bar", list(rates), 0.0, max(rates) * 1.1 or 1.0))
    height = TOP + len(panels) * (PANEL + GAP) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">']
    spans = [(x(start), x(start + s.frames / fps)) for s, start in zip(segs, starts,
                                                                          strict=True)]
    for p, (name, kind, values, low, high) in enumerate(panels):
        top = TOP + p * (PANEL + GAP)

        def y(v: float, top: int = top, low: float = low, high: float = high) -> float:
            return top + PANEL - PANEL * (v - low) / (high - low or 1)
        out.append(f'<text x="8" y="{top - 8}" font-weight="bold">{name}</text>')
        for tick in _ticks(low, high):
            out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(tick):.1f}" '
                       f'y2="{y(tick):.1f}" stroke="{GRID}"/>'
                       f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                       f'{tick:.{0 if high - low >= 20 else 1}f}</text>')
        if name == "VMAF" and target:
            out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(target):.1f}" '
                       f'y2="{y(target):.1f}" stroke="#2ca02c" stroke-dasharray="6 4"/>'
                       f'<text x="{width - RIGHT}" y="{y(target) - 4:.1f}" text-anchor="end" '
                       f'fill="#2ca02c">target {target:g}</text>')
        # One path a panel: the step line, or the bars as one outline, segment by segment.
        steps: list[str] = []
        marked: list[str] = []
        for s, (x0, x1), v in zip(segs, spans, values, strict=True):
            if v is None:
                continue
            steps.append(f"{x0:.1f} {y(v):.0f}H{x1:.1f}")
            if name == "VMAF" and (s.balanced or s.outside):
                color = CAP if s.balanced else MISS
                marked.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y(v):.1f}" '
                              f'y2="{y(v):.1f}" stroke="{color}" stroke-width="5"/>')
        if kind == "bar":
            out.append(f'<path d="M{LEFT} {y(low):.0f}L{"L".join(steps)}V{y(low):.0f}Z" '
                       f'fill="{BAR}"/>')
        else:
            out.append(f'<path d="M{"L".join(steps)}" fill="none" stroke="{LINE}" '
                       f'stroke-width="3"/>')
        out.extend(marked)
    bottom = TOP + len(panels) * (PANEL + GAP) - GAP
    out.append('<g fill-opacity="0">')  # the hover columns: invisible, over every panel
    for s, start, (x0, x1) in zip(segs, starts, spans, strict=True):
        tip = html.escape(f"segment {s.index:04d} at {clock(start)}: CRF {s.crf:g}, "
                          f"VMAF {s.vmaf or '-'}, {s.kbit_s} kbit/s"
                          + (", encoded again for the film's mean" if s.balanced
                             else "")
                          + (", outside its band" if s.outside else ""))
        out.append(f'<rect x="{x0:.1f}" y="{TOP}" width="{max(0.5, x1 - x0):.1f}" '
                   f'height="{bottom - TOP}"><title>{tip}</title></rect>')
    out.append("</g>")
    axis = bottom + 18
    for tick in _ticks(0, total, 8):
        out.append(f'<text x="{x(tick):.1f}" y="{axis}" text-anchor="middle">'
                   f'{clock(tick, total < 60)}</text>')
    out.append("</svg>")
    n_again = sum(1 for s in segs if s.balanced)
    n_missed = sum(1 for s in segs if s.outside)
    summary = (f"{report.frames} frames in {len(segs)} segments; "
               f"{report.size_in / 2**20:,.1f} MiB → {report.size_out / 2**20:,.1f} MiB "
               f"({report.reduction_pct:.1f} % smaller)")
    if vmaf:
        summary += (f"; VMAF film mean {vmaf.mean:.2f}, 5th percentile {vmaf.p5:.2f} "
                    f"(target {target:g}); {n_missed} segments outside their band, "
                    f"{n_again} encoded again for the film's mean")
    title = html.escape(f"drapto: {report.source}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"</head><body style=\"font-family:sans-serif\"><h2>{title}</h2>"
            f"<p>{html.escape(summary)}</p><p>Each line is one segment over its time in the "
            f"film; <span style=\"color:{MISS}\">red</span>: outside its band, "
            f"<span style=\"color:{CAP}\">orange</span>: encoded again for the film's "
            f"mean. Hover a segment for its figures.</p>"
            + "".join(out) + _table(segs, starts) + _warnings(report) + "</body></html>\n")


def _table(segs: Sequence[ReportSegment], starts: list[float]) -> str:
    """The segments outside their band or encoded again, one row each."""
    rows = [(s, start) for s, start in zip(segs, starts, strict=True)
            if s.outside or s.balanced]
    if not rows:
        return ""
    cells = "".join(
        f"<tr><td>{s.index:04d}</td><td>{clock(start)}</td><td>{s.crf:g}</td>"
        f"<td>{s.vmaf or '-'}</td><td>{html.escape(s.outside or '')}</td>"
        f"<td>{'yes' if s.balanced else ''}</td></tr>" for s, start in rows)
    return ("<h3>Segments outside their band or encoded again</h3><table cellpadding=\"3\">"
            "<tr><th>segment</th><th>at</th><th>CRF</th><th>VMAF</th><th>outside its band"
            "</th><th>encoded again</th></tr>" + cells + "</table>")


def _warnings(report: Report) -> str:
    """The film's warnings (a segment's are in the table)."""
    shown = [w for w in report.warnings if not w.startswith(SEGMENT_WARNING)]
    if not shown:
        return ""
    return "<h3>Warnings</h3><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in shown) + \
        "</ul>"
