"""The two faults that stopped work: Ctrl+P crashed on table screens, Ctrl+Q left jobs running."""

from __future__ import annotations

import threading

import polars as pl
from textual.command import CommandPalette
from textual.widgets import Input

from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.dataset import DatasetScreen
from fieldkit.tui.screens.modals import ErrorModal
from tests.tui.conftest import wait_for_workers

HOSTILE = ["[/]", "[b]bold", "Other [N]", "x[/b]y", "[red]not red[/red]", "\\[/]"]


def hostile_csv(tmp_path):
    """A file whose column names and values all look like Textual markup."""
    path = tmp_path / "odd name.csv"  # brackets in file names: polars reads them as a glob (io)
    pl.DataFrame({name: [f"{name} value {i}" for i in range(5)] for name in HOSTILE}).write_csv(path)
    return path


async def _start_blocking_job(pilot, screen):
    """A job that runs until its cancel Event is set (as every fieldkit job checks it)."""
    started, seen = threading.Event(), {}

    def job(reporter):
        seen["cancel"] = reporter.cancel
        started.set()
        reporter.cancel.wait(30)
        reporter.check()

    screen.start_job("themes", "a long job", job, lambda r, e: None)
    while not started.is_set():
        await pilot.pause()
    return seen["cancel"]


async def test_command_palette_opens_on_a_table_screen_and_runs_commands(kobo_csv):
    # Review finding: Ctrl+P raised MarkupError ('[/]' in the help text of Find) and the app exited.
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("ctrl+p")
        await wait_for_workers(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"tag 3")
        await wait_for_workers(pilot)
        await pilot.press("enter")
        await wait_for_workers(pilot)
        assert isinstance(app.screen, DatasetScreen)
        assert app.screen.annotations.tags == {0: {"tag3"}}


async def test_markup_in_names_and_values_is_shown_as_text(tmp_path):
    src = hostile_csv(tmp_path)
    app = FieldkitApp(str(src))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen) and screen.model.data_columns == HOSTILE
        for col in range(len(HOSTILE)):
            screen.query_one("#table").move_to(col=col)
            await wait_for_workers(pilot)
            await pilot.press("slash")  # a find that misses: its notice names the column
            screen_now = app.screen
            screen_now.query_one(Input).value = "[/] no such text"
            await pilot.press("enter")
            await wait_for_workers(pilot)
            await pilot.press("s", "enter")
            await wait_for_workers(pilot)
            assert not isinstance(app.screen, ErrorModal)
            await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_for_workers(pilot)
        await pilot.press(*"[/]")
        await wait_for_workers(pilot)
        await pilot.press("escape")
        await pilot.press("f1")
        await pilot.press("escape")
        assert app.is_running


async def test_quit_during_a_job_cancels_it(kobo_csv):
    # Review finding: Ctrl+Q blanked the screen and the job ran ~67 s more before the process ended.
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        cancel = await _start_blocking_job(pilot, app.screen)
        await pilot.press("ctrl+q")
        assert cancel.is_set()
    assert not app.is_running


async def test_ctrl_c_cancels_the_running_job_then_quits(kobo_csv):
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        cancel = await _start_blocking_job(pilot, screen)
        await pilot.press("ctrl+c")
        assert cancel.is_set()
        await wait_for_workers(pilot)
        assert app.is_running and not screen.query_one("#jobbar").running
        await pilot.press("ctrl+c")  # nothing running now: quit
        await pilot.pause()
        assert not app.is_running
