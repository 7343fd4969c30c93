"""Progress of a long build on a terminal: one line on stderr, rewritten in place, shown only once the run
has taken a second and only when stderr is a terminal (never in a pipe, a file or CI logs), and erased at
the end, so that what stays on the screen is exactly what a build without it prints."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

DELAY = 1.0  # seconds before the first line: short runs never show one


class Progress:
    def __init__(self, verb: str, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 delay: float = DELAY) -> None:
        self.verb, self.stream, self.clock, self.delay = verb, stream or sys.stderr, clock, delay
        self.start = clock()
        self.shown = False
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0 or self.clock() - self.start < self.delay:
            return
        percent = 100 * done // total
        self.stream.write(f"\r{self.verb}: {done}/{total} files ({percent}%)\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
