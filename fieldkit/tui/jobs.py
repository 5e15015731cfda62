"""Background jobs for screens: one exclusive thread worker, progress as messages, cancel by Event."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from textual import work
from textual.screen import Screen

from fieldkit.errors import Cancelled, FieldkitError
from fieldkit.progress import Reporter
from fieldkit.tui.messages import JobDone, JobFailed, JobProgress, JobToken
from fieldkit.tui.widgets.jobbar import JobBar

# Threads running a job right now: quitting waits for them briefly (they stop at their next
# cancel check) and then leaves without them, so a job can never hold the process open.
RUNNING_THREADS: set[threading.Thread] = set()


class JobScreen(Screen):
    """A screen that runs at most one analysis at a time in a thread and stays responsive."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cancel: threading.Event | None = None
        self._live: set[threading.Event] = set()  # every run not finished yet (replaced ones too)
        self._on_done: dict[str, Callable[[Any, float], None]] = {}
        self._on_token: dict[str, Callable[[str], None]] = {}

    def start_job(self, job: str, label: str, fn: Callable[[Reporter], Any],
                  on_done: Callable[[Any, float], None],
                  on_token: Callable[[str], None] | None = None) -> None:
        """Run fn(reporter) off the UI thread; on_done(result, elapsed) runs on the UI thread."""
        if self._cancel is not None and self.query_one(JobBar).running:
            self._cancel.set()  # the exclusive worker replaces any running job
        self._cancel = threading.Event()
        self._live.add(self._cancel)
        self._on_done[job] = on_done
        if on_token is not None:
            self._on_token[job] = on_token
        self.query_one(JobBar).start(job, label)
        self._run(job, label, fn, self._cancel)

    @work(thread=True, exclusive=True, group="job")
    def _run(self, job: str, label: str, fn: Callable[[Reporter], Any], cancel: threading.Event) -> None:
        start = time.monotonic()
        reporter = Reporter(label, None, lambda p: self.post_message(JobProgress(job, p)), cancel)
        me = threading.current_thread()
        RUNNING_THREADS.add(me)
        try:
            self._run_fn(job, fn, reporter, cancel, start)
        finally:
            RUNNING_THREADS.discard(me)
            self._live.discard(cancel)

    def _run_fn(self, job: str, fn: Callable[[Reporter], Any], reporter: Reporter,
                cancel: threading.Event, start: float) -> None:
        try:
            result = fn(reporter)
            if cancel.is_set():
                raise Cancelled()
        except Cancelled as exc:
            self.post_message(JobFailed(job, exc, cancelled=True, run=cancel))
        except BaseException as exc:  # shown in a modal; never kills the UI
            self.post_message(JobFailed(job, exc, run=cancel))
        else:
            self.post_message(JobDone(job, result, time.monotonic() - start, run=cancel))

    def token_callback(self, job: str, reporter: Reporter) -> Callable[[str], None]:
        """An on_token callback for generators (called in the worker): posts text, honours cancel."""
        cancel = reporter.cancel

        def on_token(text: str) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            self.post_message(JobToken(job, text))

        return on_token

    @property
    def cancel_event(self) -> threading.Event | None:
        return self._cancel

    def on_resize(self, event) -> None:
        """Size classes for the stylesheet: -narrow below 100 columns, -wide from 140."""
        self.set_class(event.size.width < 100, "-narrow")
        self.set_class(event.size.width >= 140, "-wide")

    def cancel_all_jobs(self) -> bool:
        """Set the cancel Event of every unfinished run; True when one was running."""
        live = list(self._live)
        for event in live:
            event.set()
        return bool(live)

    @property
    def job_running(self) -> bool:
        return any(not e.is_set() for e in self._live)

    def action_cancel_job(self) -> None:
        bar = self.query_one(JobBar)
        if bar.running and self._cancel is not None:
            self._cancel.set()
            self.notify("cancelling…", timeout=2)

    def on_job_progress(self, message: JobProgress) -> None:
        bar = self.query_one(JobBar)
        if bar.job == message.job:
            bar.report(message.progress)

    def on_job_token(self, message: JobToken) -> None:
        cb = self._on_token.get(message.job)
        if cb is not None:
            cb(message.text)

    def _stale(self, message: JobDone | JobFailed) -> bool:
        """A run that a newer start_job replaced: its outcome must not touch the newer run."""
        return message.run is not None and message.run is not self._cancel

    def on_job_done(self, message: JobDone) -> None:
        if self._stale(message):
            return
        bar = self.query_one(JobBar)
        if bar.job == message.job:
            bar.stop()
        cb = self._on_done.pop(message.job, None)
        self._on_token.pop(message.job, None)
        if cb is not None:
            try:
                cb(message.result, message.elapsed)
            except FieldkitError as exc:
                self.app.show_error(exc)

    def on_job_failed(self, message: JobFailed) -> None:
        if self._stale(message):
            return
        bar = self.query_one(JobBar)
        if bar.job == message.job:
            bar.stop()
        self._on_done.pop(message.job, None)
        self._on_token.pop(message.job, None)
        if message.cancelled:
            self.notify(f"{message.job} cancelled", timeout=3)
        else:
            self.app.show_error(message.error, title=f"{message.job} failed")
