"""Progress of a long command, on a terminal and off one (CI, logs, ``make run`` piped to a file).

On a terminal: click's progress bar (already a dependency: it draws the bar, the position and an
estimate of the time left). Off a terminal a bar is useless (click prints only its label; tqdm
fills a log with carriage returns; rich draws nothing until the end), so this prints one plain
line every ``LINE_EVERY_S`` seconds: done/total, elapsed, and an estimate of the time left. That
mode is a dozen lines, which is why neither rich nor tqdm is added for it.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Any

import click

LINE_EVERY_S = 5.0


class Progress:
    """``with Progress(total, "cases", already_done, expected_s) as bar: bar.advance()``."""

    def __init__(self, total: int, unit: str, already_done: int = 0, expected_s: float | None = None,
                 stream: IO[str] | None = None, line_every_s: float = LINE_EVERY_S) -> None:
        self.total, self.unit, self.done = total, unit, already_done
        self._first = already_done  # done before this command started: not part of its rate
        self._expected_s = expected_s
        self._stream = stream or sys.stderr
        self._every_s = line_every_s
        self._bar: Any = None
        self._last_written = already_done  # the count the last line showed
        self._started = self._last_line = time.monotonic()

    def __enter__(self) -> Progress:
        self._started = self._last_line = time.monotonic()
        if self._stream.isatty():
            self._bar = click.progressbar(length=self.total, label=self.unit, file=self._stream,
                                          show_pos=True).__enter__()
            self._bar.update(self.done)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        now = time.monotonic()
        if now - self._last_line >= self._every_s or self.done >= self.total:
            self._last_line = now
            self._write(now)

    def _write(self, now: float) -> None:
        self._stream.write(self.line(now - self._started) + "\n")
        self._stream.flush()
        self._last_written = self.done

    def line(self, elapsed_s: float) -> str:
        """``cases 120/600 (20%), 3 s elapsed, about 12 s left``; at the end ``cases 600/600 (100%) in 15 s``."""
        percent = 100 * self.done / self.total if self.total else 100.0
        if self.done >= self.total:
            return f"{self.unit} {self.done}/{self.total} ({percent:.0f}%) in {elapsed_s:.0f} s"
        left = self.remaining_s(elapsed_s)
        return (f"{self.unit} {self.done}/{self.total} ({percent:.0f}%), {elapsed_s:.0f} s elapsed"
                + ("" if left is None else f", {about(left)} left"))

    def remaining_s(self, elapsed_s: float) -> float | None:
        """From this command's own rate once something finished; before that, from the estimate."""
        finished = self.done - self._first
        if finished > 0:
            return elapsed_s / finished * (self.total - self.done)
        if self._expected_s is not None:
            return max(0.0, self._expected_s - elapsed_s)
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)
        elif kind is None and self.done > self._last_written:
            self._write(time.monotonic())


def about(seconds: float) -> str:
    """A duration as a person reads an estimate: "about 40 s", "about 3 min", "about 2.5 h"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
