"""Live progress: what the encodes report (``-progress`` frame counts and sizes), shown as
one line that rewrites itself on a terminal, or as a plain line now and then elsewhere."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from colorama import Fore, Style


def clock(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


@dataclass
class Tracker:
    """What is known about the encode phase; updated from worker threads."""

    total_frames: int = 0
    total_segments: int = 0
    done_segments: int = 0
    done_frames: int = 0
    done_bytes: int = 0
    run_frames: int = 0          # frames encoded by this run (for the speed)
    # Each running segment's frames so far (the most any of its tries reached: a second
    # try does not move the bar back) and its current try's, by its target's path.
    live: dict[str, tuple[int, int]] = field(default_factory=dict)
    note: str = ""               # what is happening beyond the count (a segment again)
    note_of: str | None = None   # the segment it is about
    frames_at_start: int = 0     # frames done before this run encoded any (a resume)
    stage: str = "starting"
    started: float = field(default_factory=time.monotonic)
    encode_started: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, total_frames: int, total_segments: int) -> None:
        with self.lock:
            self.total_frames, self.total_segments = total_frames, total_segments

    def update(self, encode: str, frames: int) -> None:
        with self.lock:
            if self.encode_started is None:
                self.encode_started = time.monotonic()
                self.frames_at_start = self.done_frames
            most, now = self.live.get(encode, (0, 0))
            if frames < now:  # a new try of the same segment
                self.run_frames += now
            self.live[encode] = (max(most, frames), frames)

    def again(self, text: str, encode: str | None = None) -> None:
        """Say what is encoded again, and why (it does not move the count); said until
        another is, or *encode*'s segment is done."""
        with self.lock:
            self.note, self.note_of = text, encode

    def finish(self, encode: str, frames: int, nbytes: int, encoded_now: bool) -> None:
        """A segment is done: counted once, with its kept encode."""
        with self.lock:
            _, now = self.live.pop(encode, (0, 0))
            if self.note_of == encode:
                self.note = ""
            self.done_segments += 1
            self.done_frames += frames
            self.done_bytes += nbytes
            if encoded_now:
                self.run_frames += max(now, frames)

    def shown_frames(self) -> int:
        """The frames the bar shows: done segments, and within each running one the most
        any of its tries reached (never more than a segment holds)."""
        with self.lock:
            return min(self.total_frames or 1 << 62,
                       self.done_frames + sum(m for m, _ in self.live.values()))

    def line(self, now: float | None = None, color: bool = False,
             width: int | None = None) -> str:
        """The progress line; with *width*, fitted to it: the frame counts go first, then
        fields from the right (a live line that wraps leaves a row behind at each update)."""
        now = time.monotonic() if now is None else now
        frames = self.shown_frames()
        with self.lock:
            parts = [f"{self.stage}"]
            if self.total_frames:
                parts.append(f"{100 * frames / self.total_frames:.1f} %"
                             f" ({frames}/{self.total_frames} frames)")
            if self.total_segments:
                parts.append(f"{self.done_segments}/{self.total_segments} segments")
            fps = 0.0
            encoded = self.run_frames + sum(n for _, n in self.live.values())
            if self.encode_started is not None and now > self.encode_started:
                fps = encoded / (now - self.encode_started)
                parts.append(f"{fps:.1f} fps")
            parts.append(f"{clock(now - self.started)} elapsed")
            # The ETA from the rate the bar itself moves (this run's share of it), not the
            # encoders' speed: a segment encoded again takes time and moves nothing.
            left = self.total_frames - frames
            moved = frames - self.frames_at_start
            if (self.encode_started is not None and now > self.encode_started and moved > 0
                    and left > 0):
                parts.append(f"ETA {clock(left * (now - self.encode_started) / moved)}")
            if self.done_frames and self.total_frames and self.done_segments >= min(
                    3, self.total_segments):  # the size once a few segments are done
                estimate = self.done_bytes / self.done_frames * self.total_frames
                parts.append(f"~{size(estimate)} video")
            if self.note:
                parts.append(self.note)
        if width is not None:
            if len(" | ".join(parts)) > width and self.total_frames:
                parts[1] = parts[1].split(" (")[0]
            while len(parts) > 1 and len(" | ".join(parts)) > width:
                parts.pop()
            parts[0] = parts[0][:max(1, width)]
        if color:
            parts[0] = f"{Fore.CYAN}{parts[0]}{Style.RESET_ALL}"
        return " | ".join(parts)


TRACKER = Tracker()


def on_progress(encode: str) -> Callable[[str], None]:
    """An ``on_line`` callback for ``-progress pipe:1`` output of the encode to *encode*."""
    def feed(line: str) -> None:
        key, _, value = line.partition("=")
        if key == "frame" and value.strip().isdigit():
            TRACKER.update(encode, int(value))
    return feed


class Display(threading.Thread):
    """Shows TRACKER: rewritten in place every half second on a terminal (coloured unless
    NO_COLOR is set), else as a plain line every *plain_every* seconds, and at a finished
    segment when the last line is that old."""

    def __init__(self, stream: IO[str], plain_every: float = 10.0):
        super().__init__(daemon=True, name="drapto-progress")
        self.stream = stream
        self.tty = stream.isatty()
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.every = 0.5 if self.tty else plain_every
        self.stop = threading.Event()
        self.shown = False
        self.write_lock = threading.Lock()
        self.last_line = float("-inf")  # when the last plain line was written

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.show()

    def show(self) -> None:
        # The terminal's width as it is now (a resized window too), one column spare.
        width = shutil.get_terminal_size().columns - 1 if self.tty else None
        text = TRACKER.line(color=self.color, width=width)
        with self.write_lock:
            if self.stop.is_set():
                return
            if self.tty:
                self.stream.write(f"\r\033[K{text}")
                self.shown = True
            else:
                self.stream.write(f"drapto: {text}\n")
                self.last_line = time.monotonic()
            self.stream.flush()

    def segment_done(self) -> None:
        """A segment finished: said at once where there is no live line, unless a line was
        written less than *every* seconds ago (a 2-hour film's 760 segments are not 760
        lines of a log; a segment that took minutes is a line of its own)."""
        if not self.tty and time.monotonic() - self.last_line >= self.every:
            self.show()

    def clear(self) -> None:
        """Before another line is printed: take the live line away."""
        with self.write_lock:
            self.clear_locked()

    def clear_locked(self) -> None:
        """:meth:`clear`, with ``write_lock`` held."""
        if self.tty and self.shown:
            self.stream.write("\r\033[K")
            self.shown = False
