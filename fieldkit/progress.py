"""Progress reporting and cancellation for long work, independent of any UI.

The core calls a plain callback (throttled to a few calls a second) and checks a
threading.Event; the CLI turns reports into a status line, the TUI into messages.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from fieldkit.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: what stage, how far, out of how much (None if unknown)."""

    stage: str
    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


class Reporter:
    """Throttles progress callbacks and raises Cancelled when the cancel event is set.

    Core loops call `reporter.update(done)` as often as they like; at most
    `max_per_second` reports reach the callback, and the final one always does.
    """

    def __init__(
        self,
        stage: str,
        total: int | None = None,
        callback: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        max_per_second: float = 4.0,
    ):
        self.stage = stage
        self.total = total
        self.callback = callback
        self.cancel = cancel
        self._min_interval = 1.0 / max_per_second
        self._last = 0.0
        self.done = 0

    def check(self) -> None:
        """Raise Cancelled if the user asked to stop."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def update(self, done: int, message: str = "", force: bool = False) -> None:
        self.done = done
        self.check()
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self._min_interval:
            self._last = now
            self.callback(Progress(self.stage, done, self.total, message))

    def advance(self, n: int = 1, message: str = "") -> None:
        self.update(self.done + n, message)

    def finish(self, message: str = "") -> None:
        self.update(self.total if self.total is not None else self.done, message, force=True)

    def child(self, stage: str, total: int | None = None) -> "Reporter":
        """A reporter for a sub-stage sharing the same callback and cancel event."""
        return Reporter(stage, total, self.callback, self.cancel)


def null_reporter(stage: str = "") -> Reporter:
    return Reporter(stage)


# An output that has been moved into place is finished work: an interrupt that arrives after
# that (while the command prints its last lines) must not turn a success into "cancelled".
_committed = threading.Event()


def mark_output_committed() -> None:
    """Called by the atomic writers right after the rename that publishes an output."""
    _committed.set()


def output_committed() -> bool:
    """True once some output of this process has been published."""
    return _committed.is_set()
