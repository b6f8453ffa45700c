"""Progress of a long run on a terminal: "analysing N/M transcripts..." on one rewritten line.

Shown on stderr only, and only when stderr is a terminal and the output is not `--json`: a pipe,
a log file or a detached run sees nothing. The line is cleared when the work is done, so the
summary that follows starts on a clean line. No dependency: a carriage return and an erase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

ERASE_LINE = "\r\x1b[K"  # back to the line's start, erase to its end (any VT100-like terminal)

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class TerminalProgress:
    """Called with (done, total) as the run goes; draws, then clears once done == total."""

    stream: TextIO
    noun: str = "transcripts"

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if done >= total:
            self.stream.write(ERASE_LINE)
        else:
            self.stream.write(f"{ERASE_LINE}analysing {done + 1}/{total} {self.noun}...")
        self.stream.flush()


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream is not a terminal
        return False


def for_terminal(stream: TextIO, quiet: bool = False) -> ProgressFn | None:
    """A progress callback drawing on `stream`, or None when nobody would see it."""
    if quiet or not is_terminal(stream):
        return None
    return TerminalProgress(stream)
