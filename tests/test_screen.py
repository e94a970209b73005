"""What a full-length film leaves on the screen and in report.html: warnings grouped by
reason, a page that stays small and lists every segment outside its band."""

from __future__ import annotations

from drapto.media.records import (
    FilmQuality,
    Outside,
    Report,
    ReportSegment,
    SegmentSearched,
)
from drapto.stages.chart import render
from drapto.stages.report import NAMED, warning_lines

FPS = 24.0
ABOVE = "above it even at crf_max (63)"
MISSED = "3 encodes (search_attempts) did not reach it; the nearest is kept"


def a_report(n: int = 760, above: int = 71, missed: int = 47) -> Report:
    """A report.json of *n* segments of 9.5 s, the first *above* and then *missed* of them
    outside their band."""
    segs, warnings = [], ["HDR10+ dynamic metadata is not kept (libsvtav1 cannot write it)"]
    for i in range(n):
        why = ABOVE if i < above else MISSED if i < above + missed else None
        start = i * 228
        vmaf = 97.43 if why == ABOVE else 90.1 if why else 93.0 + i % 3 / 2
        segs.append(ReportSegment(i, start, 228, 40.0 + i % 7, 30_000, vmaf, not why,
                                  300.0 + i % 11, 10.0, searched=SegmentSearched(
                                      93.0, [91.0, 95.0], why, i % 50 == 7, 1, 1)))
        if why:
            warnings.append(f"the segment at frames {start}-{start + 227}: VMAF "
                            f"{vmaf:.2f} is outside the band 93 ± 2: {why}")
    frames = n * 228
    outside = tuple(Outside(s.index, s.start, s.vmaf or 0.0, s.outside)
                    for s in segs if s.outside)
    quality = FilmQuality(93.0, 93.0, "mean", 93.2, 0.5, True, [91.0, 95.0], 80.0, 90.0,
                          90.1, 97.43, frames, outside, 0, n, n)
    return Report("/films/film.mkv", "/films/film.av1.mkv", frames, frames / FPS, 10 * 2**30,
                  2**30, 90.0, 900.0, 7600.0, tuple(segs), tuple(warnings), True,
                  vmaf=quality)


def test_warnings_of_760_segments_are_one_line_per_reason() -> None:
    """118 segments outside the band make two lines (one per reason, with the count and the
    first few), beside each film-wide warning as it is."""
    lines = warning_lines(a_report())
    assert len(lines) == 3, lines
    assert lines[0].startswith("HDR10+")
    above, missed = lines[1], lines[2]
    assert above.startswith("71 segments outside the band 91-95: " + ABOVE)
    assert "0000 at 0:00 (VMAF 97.43), 0001 at 0:09" in above
    assert f"and {71 - NAMED} more" in above
    assert missed.startswith("47 segments outside the band 91-95: " + MISSED)
    assert "0071 at 11:14 (VMAF 90.10)" in missed


def test_one_segment_outside_is_named_alone() -> None:
    lines = warning_lines(a_report(n=20, above=1, missed=0))
    assert lines[1] == (f"segment outside the band 91-95: {ABOVE}: 0000 at 0:00 (VMAF 97.43) "
                        "(report.html shows each)")


def test_the_page_of_760_segments_is_small_and_lists_every_segment_outside() -> None:
    """One hover column per segment (not one per panel), the panels as paths, and a table
    row for each segment outside its band or encoded again."""
    report = a_report()
    page = render(report)
    assert len(page.encode()) < 200_000, len(page.encode())  # 397 KB when each panel held each
    for s in report.segments:
        assert page.count(f"<title>segment {s.index:04d} at ") == 1
        if s.outside or s.balanced:
            assert f"<tr><td>{s.index:04d}</td>" in page
    assert page.count("<tr><td>") == sum(1 for s in report.segments
                                         if s.outside or s.balanced)
    # Two pixels a segment: the page scrolls sideways.
    assert '<svg xmlns="http://www.w3.org/2000/svg" width="1600"' in page
