"""What every job shares: the Result shape, the one provenance step shape, datasets, model choice, the write.

Why here: the CLI, the TUI and notebooks must get the same columns and the same provenance
for the same job, so the parts that used to be copied per command live once.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Iterator, Sequence, TypeVar

import numpy as np
import polars as pl

from fieldkit.errors import UsageError
from fieldkit.io.dataset import Dataset, load_dataset
from fieldkit.progress import Reporter

T = TypeVar("T")
Data = Dataset | pl.DataFrame | pl.LazyFrame | str | os.PathLike
Column = pl.Series | pl.Expr | np.ndarray  # one value per row; a 2-D array is a fixed-size vector column
STREAM_ROWS = 16_384  # rows per written slice when vectors are added: ~25 MB of 384-d float32


@dataclass
class Result(Generic[T]):
    """A job's outcome object, the columns it adds (by name) and its one provenance step."""

    outcome: T
    columns: dict[str, Column] = field(default_factory=dict)
    step: dict[str, Any] = field(default_factory=dict)


def dataset(data: Data, *, sheet: str | None = None, reporter: Reporter | None = None) -> Dataset:
    """A Dataset from a path (loaded), a Polars frame (wrapped) or a Dataset (as is)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
        return Dataset.from_frame(data)
    if isinstance(data, (str, os.PathLike)):
        return load_dataset(data, sheet=sheet, reporter=reporter)
    raise UsageError(f"cannot use a {type(data).__name__} as a dataset",
                     "pass a path, a Polars DataFrame/LazyFrame or a fieldkit Dataset")


def text_column(ds: Dataset, column: str) -> str:
    """The real column name, refusing a column that cannot hold text (lists, binary, all null)."""
    return ds.require_text_column(column)


def require_some_text(texts: list, col: str, ds: Dataset) -> None:
    """An all-null or all-blank column has nothing to group: say so instead of failing later."""
    if not any(t is not None and str(t).strip() for t in texts):
        raise UsageError(f"column {col!r} of {ds.path.name} has no text "
                         f"(all {len(texts):,} cells are empty)",
                         f"give a column with answers; `fieldkit inspect {ds.path}` shows null counts")


def resolve_model(texts: Sequence[str | None], model_id: str | None) -> str:
    """The embedding model for these texts: `model_id` when given, else the automatic choice.

    The one seam for "auto" (themes, search, dupes, code, embed, the TUI): a multilingual model
    when more than ~10% of the answers are not English (fieldkit.analysis.language). The choice
    and its reason are kept for this thread's next `make_step`, so every job's provenance says
    which model ran and why.
    """
    return model_choice(texts, model_id).model_id


_last_choice = threading.local()


def model_choice(texts: Sequence[str | None], model_id: str | None):
    """The `ModelChoice` (model, reason, languages, install hint) for these texts."""
    from fieldkit.analysis.language import choose_model

    choice = choose_model(texts, model_id)
    _last_choice.value = choice
    return choice


def take_model_choice():
    """The choice this thread made last (then forgotten), or None."""
    choice = getattr(_last_choice, "value", None)
    _last_choice.value = None
    return choice


@dataclass
class Clock:
    """When a step started (UTC, ISO) and how long it took (so far, while it runs)."""

    started: str = ""
    t0: float = 0.0
    done: float | None = None

    @property
    def seconds(self) -> float:
        end = self.done if self.done is not None else time.perf_counter()
        return round(end - self.t0, 3)


@contextmanager
def timed() -> Iterator[Clock]:
    clock = Clock(_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), time.perf_counter())
    try:
        yield clock
    finally:
        clock.done = time.perf_counter()


def make_step(operation: str, parameters: dict[str, Any], clock: Clock,
              model: Any = None) -> dict[str, Any]:
    """The one provenance step shape: operation, parameters, model/model_sha256 (if any), started, seconds.

    `model` is an embedder or generator (anything with `model_id` and `sha256`), or None.
    """
    step: dict[str, Any] = {"operation": operation, "parameters": dict(parameters)}
    if model is not None:
        step["model"] = getattr(model, "model_id", None)
        step["model_sha256"] = getattr(model, "sha256", None)
        choice = take_model_choice()
        if choice is not None and choice.model_id == step["model"]:
            step["parameters"].update(choice.provenance())
    step["started"] = clock.started
    step["seconds"] = clock.seconds
    return step


def _source(ds: Dataset) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(source facts, provenance the input already carries when it is a fieldkit output)."""
    from fieldkit.errors import InputError
    from fieldkit.store import read_provenance

    if ds.format == "dataframe":
        return {"path": None, "sha256": ds.sha256, "format": "dataframe"}, None
    previous = None
    if ds.format == "parquet":
        try:
            previous = read_provenance(ds.path)
        except InputError:
            previous = None
    return ds.source_info(), previous


def _with_columns(ds: Dataset, columns: dict[str, Column]) -> tuple[pl.LazyFrame, dict[str, np.ndarray]]:
    """Every input column, same-named ones replaced by `columns`; vector arrays kept apart (streamed)."""
    frame = ds.table.lazy() if ds.table is not None else ds.frame
    stale = [c for c in columns if c in ds.columns]
    if stale:
        frame = frame.drop(stale)
    arrays = {n: v for n, v in columns.items() if isinstance(v, np.ndarray)}
    added = [v.alias(n) if isinstance(v, pl.Expr) else v.rename(n)
             for n, v in columns.items() if n not in arrays]
    return (frame.with_columns(added) if added else frame), arrays


def annotated(data: Data, columns: dict[str, Column]) -> pl.DataFrame:
    """The input with the job's columns added, in memory (for a notebook; files use save_annotated)."""
    ds = dataset(data)
    frame, arrays = _with_columns(ds, columns)
    df = frame.collect()
    return df.with_columns([_vector_series(n, a) for n, a in arrays.items()]) if arrays else df


def _vector_series(name: str, arr: np.ndarray) -> pl.Series:
    return pl.Series(name, np.asarray(arr, dtype=np.float32), dtype=pl.Array(pl.Float32, arr.shape[1]))


def save_annotated(ds: Dataset, columns: dict[str, Column], steps: list[dict[str, Any]],
                   out: str | os.PathLike, reporter: Reporter | None = None,
                   table: pl.DataFrame | pl.LazyFrame | None = None, compression_level: int | None = None,
                   row_group_size: int | None = None) -> Path:
    """Write every input column plus `columns` (replacing same-named ones) to Parquet, atomically.

    The provenance carries the source, the steps the input already had (a fieldkit output
    read back) and `steps`. Data the job already read is reused, so a small file is not read
    again and a large one is streamed from disk once; vector columns (2-D arrays, often
    memory-mapped) are added slice by slice, so they never sit in memory whole. `table`
    writes a new table instead (e.g. one summary per group) with the same provenance.
    """
    from fieldkit.store import make_provenance, write_batches, write_frame

    source, previous = _source(ds)
    provenance = make_provenance(source, steps, previous)
    if table is not None:
        sizes = {} if row_group_size is None else {"row_group_size": row_group_size}
        return write_frame(table, out, provenance, reporter=reporter, compression_level=compression_level, **sizes)
    frame, arrays = _with_columns(ds, columns)
    if not arrays:
        return write_frame(frame, out, provenance, reporter=reporter)

    def batches() -> Iterator[pl.DataFrame]:
        pos = 0
        for df in frame.collect_batches(chunk_size=STREAM_ROWS):
            n = df.height
            yield df.with_columns([_vector_series(name, a[pos:pos + n]) for name, a in arrays.items()])
            pos += n
            if reporter is not None:
                reporter.update(pos)

    return write_batches(batches(), out, provenance)
