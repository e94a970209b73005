"""Live progress: what the encodes report (``-progress`` frame counts and sizes), shown as
one line that rewrites itself on a terminal, or as a plain line now and then elsewhere."""

from __future__ import annotations

import os
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
    # Each running encode's frames and bytes so far, by its target's path.
    live: dict[str, tuple[int, int]] = field(default_factory=dict)
    stage: str = "starting"
    started: float = field(default_factory=time.monotonic)
    encode_started: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, total_frames: int, total_segments: int) -> None:
        with self.lock:
            self.total_frames, self.total_segments = total_frames, total_segments

    def update(self, encode: str, frames: int, nbytes: int) -> None:
        with self.lock:
            if self.encode_started is None:
                self.encode_started = time.monotonic()
            self.live[encode] = (frames, nbytes)

    def finish(self, encode: str, frames: int, nbytes: int, encoded_now: bool) -> None:
        with self.lock:
            self.live.pop(encode, None)
            self.done_segments += 1
            self.done_frames += frames
            self.done_bytes += nbytes
            if encoded_now:
                self.run_frames += frames

    def line(self, now: float | None = None, color: bool = False) -> str:
        now = time.monotonic() if now is None else now
        with self.lock:
            live_frames = sum(f for f, _ in self.live.values())
            live_bytes = sum(b for _, b in self.live.values())
            frames = self.done_frames + live_frames
            parts = [f"{self.stage}"]
            if self.total_frames:
                parts.append(f"{100 * min(frames, self.total_frames) / self.total_frames:.1f} %"
                             f" ({frames}/{self.total_frames} frames)")
            if self.total_segments:
                parts.append(f"{self.done_segments}/{self.total_segments} segments")
            fps = 0.0
            if self.encode_started is not None and now > self.encode_started:
                fps = (self.run_frames + live_frames) / (now - self.encode_started)
                parts.append(f"{fps:.1f} fps")
            parts.append(f"{clock(now - self.started)} elapsed")
            if fps > 0 and self.total_frames:
                parts.append(f"ETA {clock((self.total_frames - frames) / fps)}")
            if frames and self.total_frames:
                estimate = (self.done_bytes + live_bytes) / frames * self.total_frames
                parts.append(f"~{size(estimate)} video")
        if color:
            parts[0] = f"{Fore.CYAN}{parts[0]}{Style.RESET_ALL}"
        return " | ".join(parts)


TRACKER = Tracker()


def on_progress(encode: str) -> Callable[[str], None]:
    """An ``on_line`` callback for ``-progress pipe:1`` output of the encode to *encode*."""
    state = {"frame": 0, "total_size": 0}

    def feed(line: str) -> None:
        key, _, value = line.partition("=")
        if key in state and value.strip().isdigit():
            state[key] = int(value)
            if key == "frame":
                TRACKER.update(encode, state["frame"], state["total_size"])
    return feed


class Display(threading.Thread):
    """Shows TRACKER: rewritten in place every half second on a terminal (coloured unless
    NO_COLOR is set), else as a plain line every *plain_every* seconds and at each finished
    segment."""

    def __init__(self, stream: IO[str], plain_every: float = 10.0):
        super().__init__(daemon=True, name="drapto-progress")
        self.stream = stream
        self.tty = stream.isatty()
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.every = 0.5 if self.tty else plain_every
        self.stop = threading.Event()
        self.shown = False
        self.write_lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.show()

    def show(self) -> None:
        text = TRACKER.line(color=self.color)
        with self.write_lock:
            if self.stop.is_set():
                return
            if self.tty:
                self.stream.write(f"\r\033[K{text}")
                self.shown = True
            else:
                self.stream.write(f"drapto: {text}\n")
            self.stream.flush()

    def segment_done(self) -> None:
        """A segment finished: said at once where there is no live line."""
        if not self.tty:
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
