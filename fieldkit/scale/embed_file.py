"""`embed` to one file on Ray: the driver writes each block as soon as the rows before it are in.

Why: gathering every vector on the driver and writing the file only after the last block
left the driver's write (Parquet encoding of every vector) after the workers' work instead
of beside it, and the blocks' vectors went through a memory-mapped scratch array first. Here
the blocks come back in any order, wait in a small buffer until the rows before them are
written, and go straight into the one Parquet writer (the same columns, types and row order
as `save_annotated`, which a local run uses); the provenance is set when the last row is in.
"""

from __future__ import annotations

import base64
import json
from typing import Iterable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fieldkit.scale.workers import ROW, vectors_of


def in_row_order(batches: Iterable[pa.Table], start: int = 0) -> Iterator[pa.Table]:
    """The batches (each a run of consecutive row numbers, in any order) re-ordered by row number.

    A batch waits until every row before it has been yielded; a batch whose rows are not one
    consecutive run is sorted and cut into runs first. Rows missing at the end are an error.
    """
    waiting: dict[int, pa.Table] = {}
    for batch in batches:
        for run in _runs(batch):
            waiting[int(run.column(ROW)[0].as_py())] = run
        while start in waiting:
            run = waiting.pop(start)
            start += run.num_rows
            yield run
    if waiting:
        raise RuntimeError(f"rows from {start:,} never came back from the workers")


def _runs(batch: pa.Table) -> list[pa.Table]:
    """A batch as runs of consecutive row numbers (one run, unchanged, in the usual case)."""
    if batch.num_rows == 0:
        return []
    rows = batch.column(ROW).to_numpy()
    if rows[-1] - rows[0] + 1 == len(rows) and np.all(np.diff(rows) == 1):
        return [batch]
    order = np.argsort(rows, kind="stable")
    batch, rows = batch.take(pa.array(order)), rows[order]
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1
    return [batch.slice(s, e - s) for s, e in zip([0, *cuts], [*cuts, len(rows)])]


class Rows:
    """The input frame's rows handed out in order, `take(n)` at a time, read batch by batch (bounded memory)."""

    def __init__(self, frame: pl.LazyFrame, chunk: int):
        self._it = iter(frame.collect_batches(chunk_size=chunk))
        self._buf: list[pl.DataFrame] = []
        self._have = 0

    def take(self, n: int) -> pl.DataFrame:
        while self._have < n:
            df = next(self._it)
            self._buf.append(df)
            self._have += df.height
        whole = pl.concat(self._buf, rechunk=False) if len(self._buf) > 1 else self._buf[0]
        out, rest = whole.slice(0, n), whole.slice(n)
        self._buf, self._have = ([rest] if rest.height else []), rest.height
        return out


class ProvenanceWriter:
    """A ParquetWriter whose provenance is set when it closes, as if the writer had been opened with it.

    Why: a streamed file's rows are written before its step's time is known, and Arrow keeps
    the schema's metadata (read back by `read_provenance` and every Arrow reader) in the
    `ARROW:schema` entry it writes at close: this replaces both that entry (the schema with
    the final provenance, serialized as pyarrow serializes it) and the plain key.
    """

    def __init__(self, path, schema: pa.Schema, key: str):
        self.schema, self.key = schema, key
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table, row_group_size: int) -> None:
        self.writer.write_table(table if table.schema == self.schema else table.cast(self.schema),
                                row_group_size=row_group_size)

    def close(self, provenance: dict | None = None) -> None:
        if provenance is not None:
            value = json.dumps(provenance, ensure_ascii=False)
            final = self.schema.with_metadata({**(self.schema.metadata or {}), self.key.encode(): value.encode()})
            self.writer.add_key_value_metadata(
                {self.key: value, "ARROW:schema": base64.b64encode(final.serialize().to_pybytes()).decode()})
        self.writer.close()


def embed_file(engine, ds, column: str, out, model_id: str | None = None, batch_size: int = 32,
               reporter=None, write_reporter=None):
    """`pipelines.embed` + `save_annotated(out)` with the write beside the workers' embedding; no vectors kept."""
    from fieldkit.inference.embedder import SORT_WINDOW, EmbedStats
    from fieldkit.pipelines.core import (STREAM_ROWS, Result, _source, _vector_series, _with_columns, make_step,
                                         resolve_model, text_column, timed)
    from fieldkit.pipelines.embed import Embedded
    from fieldkit.pipelines.engine import mark_step
    from fieldkit.store import PROVENANCE_KEY, atomic_path, make_provenance
    from fieldkit.store.parquet import ROW_GROUP_SIZE

    col = text_column(ds, column)
    source, previous = _source(ds)
    with atomic_path(out) as tmp:
        writer: ProvenanceWriter | None = None
        try:
            with timed() as clock:
                texts = ds.text_column(col).to_list()
                view = engine.model_view(resolve_model(texts, model_id))
                step = mark_step(make_step("embed", {"column": col, "batch_size": batch_size}, clock, view))
                embedded = engine.embedded(texts, view.model_id, batch_size)
                rows = Rows(_with_columns(ds, {})[0].drop("embedding", strict=False), STREAM_ROWS)
                stats, written = EmbedStats(texts=len(texts)), 0

                def arrived() -> Iterator[pa.Table]:  # in any order; the embedding is done when the last is in
                    for batch in engine.collect(embedded, len(texts), reporter):
                        stats.empty += int(pc.sum(batch.column("_empty")).as_py() or 0)
                        stats.truncated += int(pc.sum(batch.column("_truncated")).as_py() or 0)
                        yield batch
                    if reporter is not None:
                        reporter.finish(stats.message())

                for batch in in_row_order(arrived()):
                    vecs = vectors_of(batch)
                    table = rows.take(batch.num_rows).with_columns(_vector_series("embedding", vecs)).to_arrow()
                    if writer is None:
                        writer = ProvenanceWriter(tmp, table.schema, PROVENANCE_KEY)
                        view.dim = int(vecs.shape[1])
                    writer.write(table, ROW_GROUP_SIZE)
                    written += table.num_rows
                    if write_reporter is not None:
                        write_reporter.update(written)
            if writer is None:
                from fieldkit.errors import InputError

                raise InputError("there are no rows to write", "check the input and any filter")
            view.last_stats = stats
            step = {**step, "seconds": clock.seconds}  # embedding and writing, side by side
            writer.close(make_provenance(source, [step], previous))
            writer = None
        finally:
            if writer is not None:
                writer.close()
    return Result(Embedded(col, len(texts), int(view.dim), view.model_id, stats), {}, step)
