"""Small messages that background workers post to the UI (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from fieldkit.progress import Progress


@dataclass
class JobProgress(Message):
    job: str
    progress: Progress


@dataclass
class JobDone(Message):
    job: str
    result: Any
    elapsed: float
    run: Any = None  # the run's cancel Event: tells a replaced run's message from the current one


@dataclass
class JobFailed(Message):
    job: str
    error: BaseException
    cancelled: bool = False
    run: Any = None


@dataclass
class JobToken(Message):
    """A piece of generated text (summaries stream in as they are written)."""

    job: str
    text: str


# ---- the dataset screen's own workers and widgets ------------------------------------------------


@dataclass
class Loaded(Message):
    """The loader finished: the first rows (complete=False) or the whole file."""

    frame: Any
    complete: bool
    dataset: Any = None
    annotations: Any = None
    notes: list = None  # type: ignore[assignment]
    seconds: float = 0.0
    page: bool = False  # a big file: the rest is paged from disk (fieldkit.tui.paging)
    model: Any = None  # the paged model, once its cache is written


@dataclass
class LoadFailed(Message):
    error: BaseException


@dataclass
class Profiled(Message):
    """A column profile computed off the UI thread (or the text saying why there is none)."""

    column: str
    profile: Any
    token: int


@dataclass
class ViewReady(Message):
    """A sorted/filtered view computed off the UI thread (or the error that stopped it)."""

    spec: Any
    view: Any
    keep_row: bool
    then: Any
    error: BaseException | None = None
    on_error: Any = None


@dataclass
class Found(Message):
    col: str
    needle: str
    hit: int | None


@dataclass
class ThemeChosen(Message):
    """Enter in the themes list: show a theme's rows (None: all rows)."""

    theme: int | None


@dataclass
class ThemeRename(Message):
    theme: int | None


@dataclass
class ThemeReviewed(Message):
    theme: int | None
