"""A job's output as a folder of Parquet parts (`--parts ROWS`), published all at once.

Why: a cluster run over tens of millions of rows is easier to hand on as parts (other tools
read the folder as one table), but a folder half-written by a failed run must never look
finished. The parts are written into a hidden folder beside the target and renamed into
place at the end; an earlier folder of parts is replaced only then.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from fieldkit.errors import OutputError
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.core import Column, _source, _vector_series, _with_columns
from fieldkit.progress import Reporter

PART = re.compile(r"part-\d{5,}\.parquet")


def check_parts_output(target: str | os.PathLike) -> Path:
    """Refuse a target that is a file, or a folder holding anything but fieldkit parts."""
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} is a file; --parts writes a folder",
                          "give a folder name (it is created), e.g. -o out_parts")
    if path.is_dir() and any(not PART.fullmatch(p.name) for p in path.iterdir()):
        raise OutputError(f"output folder {path} holds other files",
                          "give a new or empty folder name; fieldkit only replaces a folder of its own parts")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to folder {parent}", f"create it first: mkdir -p {parent}")
    return path


def _slices(frame: pl.LazyFrame, arrays: dict, rows: int) -> Iterator[list[pl.DataFrame]]:
    """The annotated rows, cut into lists of frames of `rows` rows in total (the last may be shorter)."""
    pos, part, size = 0, [], 0
    for df in frame.collect_batches(chunk_size=min(rows, 16_384)):
        while df.height:
            take = df.head(rows - size)
            df = df.slice(take.height)
            n = take.height
            part.append(take.with_columns([_vector_series(name, a[pos:pos + n]) for name, a in arrays.items()]))
            pos, size = pos + n, size + n
            if size == rows:
                yield part
                part, size = [], 0
    if part or pos == 0:
        yield part or [frame.head(0).collect()]


def save_parts(ds: Dataset, columns: dict[str, Column], steps: list[dict[str, Any]],
               out: str | os.PathLike, rows: int, reporter: Reporter | None = None) -> Path:
    """Write every input column plus `columns` as `out/part-00000.parquet`, ... (each with the provenance)."""
    from fieldkit.files import TMP_PREFIX, remove_stale_temps
    from fieldkit.store import make_provenance, write_batches

    target = check_parts_output(out)
    source, previous = _source(ds)
    provenance = make_provenance(source, steps, previous)
    frame, arrays = _with_columns(ds, columns)
    remove_stale_temps(target.parent)
    tmp = target.with_name(f"{TMP_PREFIX}{os.getpid()}-parts.{target.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        done = 0
        for i, part in enumerate(_slices(frame, arrays, rows)):
            write_batches(part, tmp / f"part-{i:05d}.parquet", {**provenance, "part": i})
            done += sum(p.height for p in part)
            if reporter is not None:
                reporter.update(done)
        old = None
        if target.exists():
            old = target.with_name(f"{TMP_PREFIX}{os.getpid()}-old.{target.name}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
