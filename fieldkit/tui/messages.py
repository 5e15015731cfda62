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
