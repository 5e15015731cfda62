"""Where a job's heavy parts run: in this process (default) or on an engine such as Ray Data.

Why a seam and not a second copy of each job: the pipeline functions stay the one place that
reads the data, builds the columns and the provenance; an engine only takes over the parts
that scale with the rows (embedding, near-duplicate pair search). `fieldkit.scale` sets it.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Protocol

import numpy as np


class Engine(Protocol):
    """What an engine offers the jobs; each method mirrors the local function it replaces."""

    name: str

    def vectors(self, ds: Any, col: str, texts: list, model_id: str | None, reporter: Any,
                batch_size: int) -> tuple[Any, np.ndarray]: ...

    def near_pairs(self, vectors: np.ndarray, threshold: float, reporter: Any = None
                   ) -> tuple[np.ndarray, np.ndarray]: ...

    def describe(self) -> dict[str, Any]: ...


_current: ContextVar[Engine | None] = ContextVar("fieldkit_engine", default=None)


def current() -> Engine | None:
    """The engine jobs in this context run on, or None for this process."""
    return _current.get()


@contextmanager
def use_engine(engine: Engine) -> Iterator[Engine]:
    """Run the jobs called inside this block on `engine`."""
    token = _current.set(engine)
    try:
        yield engine
    finally:
        _current.reset(token)


def mark_step(step: dict[str, Any]) -> dict[str, Any]:
    """Note in a provenance step which engine ran it (nothing when it ran here)."""
    engine = current()
    if engine is not None:
        step["engine"] = engine.describe()
    return step
