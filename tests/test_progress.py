"""The live progress line: its contents, and how it shows on a terminal and elsewhere."""

from __future__ import annotations

import io
import os
import pty
import re
from pathlib import Path

import pytest
from conftest import FAST, FIXED_CRF, drapto_argv

from drapto.media.demo import make_sample
from drapto.progress import Display, Tracker


def test_line_shows_segments_speed_eta_and_size() -> None:
    t = Tracker(started=100.0)
    t.plan(total_frames=1000, total_segments=10)
    t.stage = "encode"
    t.update("0000.mkv", 50)
    t.encode_started = 100.0
    t.finish("0000.mkv", 100, 2_000_000, encoded_now=True)
    t.update("0100.mkv", 100)  # another segment half way
    line = t.line(now=110.0)
    # 200 frames in 10 s = 20 fps; 800 left = 40 s; no size until 3 segments are done
    assert line == ("encode | 20.0 % (200/1000 frames) | 1/10 segments | 20.0 fps | "
                    "0:00:10 elapsed | ETA 0:00:40")
    assert "\x1b[36mencode\x1b[0m" in t.line(now=110.0, color=True)
    for start in (200, 300):
        t.update(f"{start:04d}.mkv", 100)
        t.finish(f"{start:04d}.mkv", 100, 2_000_000, encoded_now=True)
    assert t.line(now=120.0).endswith("| ~19.1 MiB video")  # 2 MB a segment of 100 frames


def test_the_live_line_fits_the_terminal() -> None:
    """Narrower terminals lose the frame counts, then fields from the right; never wrap."""
    t = Tracker(started=100.0)
    t.plan(total_frames=1000, total_segments=10)
    t.stage, t.encode_started = "encode", 100.0
    t.update("0000.mkv", 200)
    whole = t.line(now=110.0)
    assert t.line(now=110.0, width=len(whole)) == whole
    assert t.line(now=110.0, width=80) == ("encode | 20.0 % | 0/10 segments | 20.0 fps | "
                                           "0:00:10 elapsed | ETA 0:00:40")
    assert t.line(now=110.0, width=40) == "encode | 20.0 % | 0/10 segments"
    for width in (100, 60, 20, 8, 3):
        assert len(t.line(now=110.0, width=width)) <= width


def test_the_bar_never_goes_back() -> None:
    """Recorded events of a run: a segment encoded twice (its second try starts from frame
    0), a segment done, the film's balance encoding one again, a skipped (up-to-date) one.
    The frames shown and the segments done never decrease; the ETA never says 0 before
    the end."""
    t = Tracker(started=0.0)
    t.plan(total_frames=300, total_segments=3)
    shown: list[tuple[int, int]] = []
    etas: list[str] = []

    def look(now: float) -> None:
        line = t.line(now=now)
        m = re.search(r"\((\d+)/300 frames\) \| (\d)/3 segments", line)
        assert m, line
        shown.append((int(m.group(1)), int(m.group(2))))
        etas.extend(re.findall(r"ETA (\S+)", line))

    t.encode_started = 0.0
    events = [("update", "a", 60), ("update", "b", 30), ("update", "a", 100),
              ("update", "a", 10),  # a's second try
              ("update", "b", 90), ("finish", "b", 100), ("update", "a", 70),
              ("update", "a", 100), ("finish", "a", 100), ("finish", "c", 100)]
    for now, (what, key, frames) in enumerate(events, 1):
        if what == "update":
            t.update(key, frames)
        else:
            t.finish(key, frames, 1000, encoded_now=key != "c")
        look(float(now))
    assert shown == sorted(shown) and shown[-1] == (300, 3), shown
    assert "0:00:00" not in etas[:-1], etas
    t.again("segment 0001: encoding again at CRF 41 for the film's mean")
    assert t.line(now=20.0).endswith("for the film's mean") and t.shown_frames() == 300


def test_not_a_terminal_plain_lines() -> None:
    out = io.StringIO()
    display = Display(out)
    assert not display.tty and not display.color and display.every == 10.0
    display.show()
    assert out.getvalue().startswith("drapto: ") and "\r" not in out.getvalue()
    display.segment_done()  # a line was written just now: not another
    assert out.getvalue().count("drapto: ") == 1
    display.last_line -= 10.0
    display.segment_done()  # a segment that took 10 s or more is a line of its own
    assert out.getvalue().count("drapto: ") == 2


def _run_in_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    pid, fd = pty.fork()
    if pid == 0:  # the child: drapto on a pseudo-terminal
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    out = bytearray()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out.extend(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    return bytes(out)


@pytest.mark.e2e
def test_live_line_on_a_terminal_and_no_color(tmp_path: Path) -> None:
    clip = make_sample(tmp_path / "c.mkv", scenes=[1.0] * 4, size="320x180", subtitles=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAPTO_", "NO_COLOR"))}
    env.update(FIXED_CRF)
    env["COLUMNS"] = "200"  # wide enough for every field (tests/test_progress.py above)
    argv = drapto_argv(f"input={clip}", "work=w", *FAST[1:], "preset=8", "min_segment=0.5",
                       "max_segment=1")
    shown = _run_in_terminal(argv, tmp_path, env)
    assert b"\r\x1b[K\x1b[36mencode\x1b[0m | " in shown and b"/4 segments" in shown
    # The share of the film's frames (4 s at 24 fps) and the segments done, never going back.
    counts = [(int(a), int(b), int(k)) for a, b, k in re.findall(
        rb"\((\d+)/(\d+) frames\) \| (\d)/4 segments", shown)]
    assert counts and all(b == 96 and 0 <= a <= 96 for a, b, _ in counts), counts
    assert counts == sorted(counts), counts
    # The live line is taken away, then the summary ("c.mkv -> c.av1.mkv") is printed.
    assert shown.rindex(b"\r\x1b[K") < shown.index(b"c.mkv -> ")
    plain = _run_in_terminal([*argv[:-1], "output=again.mkv", "work=w2", argv[-1]], tmp_path,
                             {**env, "NO_COLOR": "1"})
    assert b"\r\x1b[Kencode | " in plain and b"\x1b[36m" not in plain
