"""A one-line progress bar on stderr: frames, frames per second, elapsed time and ETA.

No dependency: the line is redrawn in place with a carriage return, at most
``1 / min_interval_seconds`` times a second (4 by default) so that printing never costs
anything measurable, and only when the stream is a terminal unless ``force=True`` (a log
file or a pipe should not fill with carriage returns). With a known frame count the line
shows a bar, a percentage and the ETA; without one, the count and the rate only::

    frame=  120/240  fps= 48.3  time=0:00:02  eta=0:00:02  [##########----------]  50%
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``H:MM:SS`` (rounded down), as FFmpeg prints times."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Redraw one status line as frames complete.

    Args:
        total_frames: frames expected (``None`` when unknown: no bar, no ETA).
        file: where to draw (default ``sys.stderr``).
        force: draw even when ``file`` is not a terminal.
        enabled: ``False`` turns every call into a no-op.
        min_interval_seconds: least time between two redraws (0.25 = 4 per second).
        label: a word printed before the line (e.g. the output file name).
        width: characters of the bar.

    Use: ``update(frames_done)`` from the thread that counts, then ``close()`` once, which
    draws the final line and ends it with a newline.
    """

    def __init__(
        self,
        total_frames: int | None = None,
        *,
        file: TextIO | None = None,
        force: bool = False,
        enabled: bool = True,
        min_interval_seconds: float = 0.25,
        label: str = "",
        width: int = 20,
    ) -> None:
        self.total_frames = total_frames if total_frames and total_frames > 0 else None
        self.file = file if file is not None else sys.stderr
        self.min_interval_seconds = float(min_interval_seconds)
        self.label = label
        self.width = int(width)
        self.frames = 0
        self.redraws = 0
        self._started = time.monotonic()
        self._last_draw = float("-inf")
        self._last_length = 0
        self._closed = False
        self.enabled = bool(enabled) and (force or _is_terminal(self.file))

    @property
    def elapsed_seconds(self) -> float:
        return time.monotonic() - self._started

    def start(self) -> None:
        """Restart the clock (call when the first frame is about to be read)."""
        self._started = time.monotonic()

    def update(self, frames: int, *, final: bool = False) -> None:
        """Record ``frames`` done in total; redraw if enough time passed (or ``final``)."""
        self.frames = int(frames)
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        if not final and now - self._last_draw < self.min_interval_seconds:
            return
        self._last_draw = now
        self._draw(self.line())

    def line(self) -> str:
        """The status text for the current count (no carriage return)."""
        elapsed = self.elapsed_seconds
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        parts = [self.label] if self.label else []
        if self.total_frames:
            parts.append(f"frame={self.frames:5d}/{self.total_frames}")
        else:
            parts.append(f"frame={self.frames:5d}")
        parts.append(f"fps={fps:5.1f}")
        parts.append(f"time={format_seconds(elapsed)}")
        if self.total_frames:
            done = min(self.frames / self.total_frames, 1.0)
            if fps > 0 and self.frames < self.total_frames:
                parts.append(f"eta={format_seconds((self.total_frames - self.frames) / fps)}")
            filled = int(round(done * self.width))
            parts.append(f"[{'#' * filled}{'-' * (self.width - filled)}] {done * 100:3.0f}%")
        return "  ".join(parts)

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._last_length - len(text))
        try:
            self.file.write(f"\r{text}{pad}")
            self.file.flush()
        except (OSError, ValueError):  # closed or broken stderr: progress is not worth failing for
            self.enabled = False
            return
        self._last_length = len(text)
        self.redraws += 1

    def close(self, *, interrupted: bool = False) -> None:
        """Draw the last line and end it (a no-op when disabled or already closed)."""
        if self._closed:
            return
        if self.enabled:
            if not interrupted:
                self.update(self.frames, final=True)
            try:
                self.file.write("\n")
                self.file.flush()
            except (OSError, ValueError):
                pass
        self._closed = True


def _is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
