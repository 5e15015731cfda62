"""The job bar: what is running, a progress bar, elapsed time, and how to cancel."""

from __future__ import annotations

import time

from fieldkit.tui.text import escape
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from fieldkit.progress import Progress


class JobBar(Horizontal):
    """Hidden when idle; shows stage, progress and elapsed seconds while a job runs."""

    DEFAULT_CSS = """
    JobBar { height: 1; display: none; background: $panel; }
    JobBar.running { display: block; }
    JobBar > #job-label { width: 1fr; padding: 0 1; }
    JobBar > ProgressBar { width: 36; }
    JobBar > #job-elapsed { width: 26; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.started = 0.0
        self.job = ""
        self.label = ""
        self.model: str | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="job-label")
        yield ProgressBar(total=None, show_eta=False, id="job-progress")
        yield Label("", id="job-elapsed")

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    def start(self, job: str, label: str) -> None:
        self.job = job
        self.label = label
        self.model = None
        self.started = time.monotonic()
        self.query_one("#job-label", Label).update(escape(label))
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        self.add_class("running")
        self._tick()

    def set_model(self, model: str | None) -> None:
        """Name the model the running job uses (shown until the job ends)."""
        self.model = model
        self.query_one("#job-label", Label).update(escape(self.label + self._model_text()))

    def _model_text(self) -> str:
        return f"  · model {self.model}" if self.model else ""

    def report(self, p: Progress) -> None:
        text = p.stage + (f": {p.message}" if p.message else "")
        if p.total:
            text += f"  {p.done:,}/{p.total:,}"
        text += self._model_text()
        self.query_one("#job-label", Label).update(escape(text))
        self.query_one(ProgressBar).update(total=p.total or None, progress=p.done)

    def stop(self) -> None:
        self.remove_class("running")
        self.job = ""

    @property
    def running(self) -> bool:
        return self.has_class("running")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _tick(self) -> None:
        if self.running:
            self.query_one("#job-elapsed", Label).update(f"{self.elapsed():5.1f} s · Esc cancels")
