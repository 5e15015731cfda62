"""Pilot helpers: wait for our workers (never sleep), isolated settings, copies of real data."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DATA, shared


async def wait_for_workers(pilot, rounds: int = 20) -> None:
    """Await every running worker except DirectoryTree's long-lived loader, until none are left.

    Finished workers post messages that may start new workers (load -> profile), so loop; a
    pending profile debounce timer counts as work to come.
    """
    from textual.widgets import DirectoryTree

    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        while any(getattr(s, "_profile_timer", None) is not None for s in app.screen_stack):
            await pilot.pause(0.02)  # the profile's debounce timer starts a worker when it fires
        pending = [w for w in app.workers if not w.is_finished and not isinstance(w.node, DirectoryTree)]
        if not pending:
            await pilot.pause()
            if not [w for w in app.workers if not w.is_finished and not isinstance(w.node, DirectoryTree)]:
                return
            continue
        await asyncio.gather(*(w.wait() for w in pending), return_exceptions=True)
    raise AssertionError("workers still running")


@pytest.fixture(autouse=True)
def tui_settings(tmp_path, monkeypatch):
    """Recent files and tag names go to a temporary file, not the user's."""
    path = tmp_path / "tui.json"
    monkeypatch.setattr("fieldkit.tui.settings.settings_path", lambda: path)
    return path


def copy_to(tmp_path: Path, src: Path) -> Path:
    """A copy in tmp_path, so journals (written beside the data) never land in shared data."""
    dst = tmp_path / "data" / src.name
    dst.parent.mkdir(exist_ok=True)
    shutil.copy(src, dst)
    return dst


@pytest.fixture
def survey_tsv(tmp_path) -> Path:
    return copy_to(tmp_path, shared("survey", "rstudio_r_community_survey_2019_en.tsv"))


@pytest.fixture
def kobo_csv(tmp_path) -> Path:
    return copy_to(tmp_path, SAMPLE_DATA / "kobo_water_survey.csv")


@pytest.fixture
def embedder_ready():
    """Skip when the default embedding model is not installed in this FIELDKIT_HOME."""
    from fieldkit.errors import ModelError

    try:
        from fieldkit.inference.embedder import get_embedder

        get_embedder()
    except ModelError as exc:
        pytest.skip(f"embedding model not prepared: {exc.message}")
