"""Atomic Parquet writing (through `fieldkit.files.atomic_path`) with provenance.

A failed, cancelled or killed run never leaves a half-written file at the output path and
never damages an existing output: data goes to a hidden temporary file beside the target,
which replaces the target only once it is complete and on disk.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fieldkit import __version__, files
from fieldkit.errors import InputError, OutputError
from fieldkit.progress import Reporter, mark_output_committed

PROVENANCE_KEY = "fieldkit"
ROW_GROUP_SIZE = 64_000  # rows; small enough to stream, large enough to compress well


def make_provenance(
    source: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Provenance record: version, time, source (path, sha256, format, encoding), steps.

    When the input was itself a fieldkit output, its steps come first (`previous`).
    """
    prior_steps = list(previous.get("steps", [])) if previous else []
    return {
        "fieldkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": (previous or {}).get("source") if previous and not source else source,
        "steps": prior_steps + list(steps or []),
    }


def _check_target(path: Path) -> Path:
    path = Path(path)
    if path.exists() and path.is_dir():
        raise OutputError(f"output path {path} is a folder", "give a file name ending in .parquet")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(
            f"output folder {parent} does not exist", f"create it first: mkdir -p {parent}"
        )
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to folder {parent}", "choose a folder you can write to")
    with contextlib.suppress(FileNotFoundError):
        # a read-only output was protected on purpose (root's os.access ignores the mode bits)
        if not os.stat(path).st_mode & 0o222 or not os.access(path, os.W_OK):
            raise OutputError(f"output {path} is read-only",
                              f"choose another name, or make it writable (chmod u+w {path})")
    return path


def check_parquet_output(target: str | os.PathLike) -> Path:
    """Refuse a bad output path before any long work: wrong suffix, missing or read-only folder."""
    path = Path(target)
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise OutputError(f"output {str(target)!r} does not end in .parquet",
                          "give a file name ending in .parquet, e.g. -o out.parquet")
    return _check_target(path)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """`fieldkit.files.atomic_path` after checking the output folder (clear errors before work).

    A full disk becomes one OutputError naming the output's folder (not a blame on the input),
    and once the output is in place an interrupt no longer turns the run into a failure.
    """
    target = _check_target(Path(target))
    try:
        with files.atomic_path(target) as tmp:
            yield tmp
    except BaseException as e:
        if _is_disk_full(e):
            raise OutputError(f"no space left on the output disk: {target} was not written "
                              f"(folder {target.parent.resolve()})",
                              "free some space there or write to another disk; "
                              "any earlier file at that path is untouched") from e
        raise
    mark_output_committed()


def _is_disk_full(e: BaseException | None) -> bool:
    """ENOSPC/EDQUOT as an OSError, or inside the text of a Polars/Arrow error."""
    import errno

    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _metadata(provenance: dict[str, Any] | None) -> dict[str, str]:
    return {PROVENANCE_KEY: json.dumps(provenance or make_provenance(), ensure_ascii=False)}


def write_frame(
    frame: pl.LazyFrame | pl.DataFrame,
    target: str | os.PathLike,
    provenance: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    compression_level: int | None = None,
    row_group_size: int = ROW_GROUP_SIZE,
) -> Path:
    """Write a (lazy) frame to Parquet atomically, streaming in row groups.

    With a reporter, batches are pulled one at a time so progress is reported and the
    user can cancel between batches; without one, Polars' streaming sink does the work.
    `compression_level` (zstd, Polars' sink only): 1 writes multi-GB text outputs (logs) in
    about half the time of the default, at about the same size. A smaller `row_group_size` holds
    less in memory while writing wide text rows (the logs job's peak).
    """
    lf = frame.lazy()
    target = Path(target)
    with atomic_path(target) as tmp:
        if reporter is None:
            try:
                lf.sink_parquet(
                    tmp,
                    compression="zstd",
                    compression_level=compression_level,
                    row_group_size=row_group_size,
                    metadata=_metadata(provenance),
                )
            except pl.exceptions.ComputeError as e:  # bad data found while streaming
                if _is_disk_full(e):
                    raise
                raise InputError(f"could not read the input: {_first_line(e)}",
                                 "run `fieldkit inspect` on it to see what is wrong") from e
        else:
            batches = (b.to_arrow() for b in lf.collect_batches(chunk_size=ROW_GROUP_SIZE))
            _write_arrow_batches(batches, tmp, provenance, reporter)
    return target


def write_batches(
    batches: Iterable[pl.DataFrame | pa.Table | pa.RecordBatch],
    target: str | os.PathLike,
    provenance: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> Path:
    """Write an iterable of batches (same schema) atomically, one row group per batch."""
    target = Path(target)
    with atomic_path(target) as tmp:
        _write_arrow_batches(
            (b.to_arrow() if isinstance(b, pl.DataFrame) else b for b in batches),
            tmp, provenance, reporter,
        )
    return target


def _write_arrow_batches(batches, tmp: Path, provenance, reporter: Reporter | None) -> None:
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for batch in batches:
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            if writer is None:
                schema = table.schema.with_metadata(
                    {**(table.schema.metadata or {}),
                     **{k.encode(): v.encode() for k, v in _metadata(provenance).items()}}
                )
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_table(table.cast(writer.schema) if table.schema != writer.schema
                               else table, row_group_size=ROW_GROUP_SIZE)
            rows += table.num_rows
            if reporter is not None:
                reporter.update(rows)
        if writer is None:
            raise InputError("there are no rows to write", "check the input and any filter")
    finally:
        if writer is not None:
            writer.close()


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance a fieldkit output carries, or None for other Parquet files."""
    try:
        meta = pq.read_schema(path).metadata or {}
        if PROVENANCE_KEY.encode() not in meta:  # Polars' sink_parquet writes file-level metadata
            meta = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path} is not a readable Parquet file: {_first_line(e)}",
                         "check that the file is complete (not truncated)") from e
    raw = meta.get(PROVENANCE_KEY.encode())
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
