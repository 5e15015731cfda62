"""Background jobs: a job restarted under the same name delivers the newer run's result."""

from __future__ import annotations

import threading

from textual.app import App

from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.widgets.jobbar import JobBar
from tests.tui.conftest import wait_for_workers


class _Screen(JobScreen):
    def compose(self):
        yield JobBar(id="jobbar")


class _App(App):
    def on_mount(self) -> None:
        self.push_screen(_Screen())


async def test_restarted_job_keeps_the_new_runs_result():
    # Review finding: the replaced run's "cancelled" message popped the new run's callback
    # and stopped its progress bar, so the new result was silently dropped.
    results: list[str] = []
    first_started, release_first = threading.Event(), threading.Event()

    def first(reporter):
        first_started.set()
        release_first.wait(30)
        reporter.check()  # raises Cancelled: the second start_job cancelled this run
        return "first"

    app = _App()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        screen.start_job("themes", "first", first, lambda r, e: results.append(r))
        for _ in range(200):  # let the worker thread start (the loop must run for that)
            if first_started.is_set():
                break
            await pilot.pause(0.05)
        assert first_started.is_set()
        screen.start_job("themes", "second", lambda rep: "second", lambda r, e: results.append(r))
        release_first.set()
        await wait_for_workers(pilot)
        assert results == ["second"]
        assert not screen.query_one(JobBar).running
