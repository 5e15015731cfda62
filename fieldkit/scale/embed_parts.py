"""`embed --parts ROWS` on Ray: each worker embeds a part's rows and writes the part itself.

Why: with one output file the driver writes every row and vector (the serial part of a
cluster run); here a part is one Ray block of ROWS input rows (every input column), embedded
by an actor exactly as a local run embeds it (the same windows) and written by that actor
beside the others in the hidden parts folder, with the provenance; only (part, rows, counts)
come back. The driver publishes the folder with its manifest (fieldkit.pipelines.parts).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fieldkit.scale.workers import ROW, TEXT, EmbedWorker

PART_TEXT = "_fk_text"  # the text to embed, beside the input's own columns (one may be called "text")


class EmbedPartWorker:
    """An embedding actor that writes each block it embeds as output part number row // rows."""

    def __init__(self, model_id: str, env: dict[str, str], folder: str, rows: int, provenance: dict,
                 batch_size: int = 32):
        self.embed = EmbedWorker(model_id, env, batch_size)
        self.folder, self.rows, self.provenance = folder, rows, provenance

    def __call__(self, batch: pa.Table) -> pa.Table:
        from fieldkit.pipelines.parts import write_part

        got = self.embed(pa.table({ROW: batch.column(ROW), TEXT: batch.column(PART_TEXT)}))
        first = int(batch.column(ROW)[0].as_py()) if batch.num_rows else 0
        rows = batch.drop_columns([ROW, PART_TEXT]).append_column("embedding", got.column("embedding"))
        name, n = write_part(self.folder, first // self.rows, [pl.from_arrow(rows)], self.provenance)
        return pa.table({"part": [name], "rows": [n], "_empty": [pc.sum(got.column("_empty")).as_py() or 0],
                         "_truncated": [pc.sum(got.column("_truncated")).as_py() or 0]})


def embed_parts(engine, ds, column: str, out, rows: int, model_id: str | None = None, batch_size: int = 32,
                reporter=None):
    """`pipelines.embed` written as a folder of parts by the workers; the Result carries no vectors."""
    import ray

    from fieldkit.inference.embedder import EmbedStats
    from fieldkit.pipelines.core import Result, _source, _with_columns, make_step, resolve_model, text_column, timed
    from fieldkit.pipelines.embed import Embedded
    from fieldkit.pipelines.engine import mark_step
    from fieldkit.pipelines.parts import PartsFolder
    from fieldkit.scale.workers import _env, from_arrow
    from fieldkit.store import make_provenance

    col = text_column(ds, column)
    folder = PartsFolder(out)
    try:
        with timed() as clock:
            texts = ds.text_column(col).to_list()
            view = engine.model_view(resolve_model(texts, model_id))
            step = mark_step(make_step("embed", {"column": col, "batch_size": batch_size}, clock, view))
            source, previous = _source(ds)
            provenance = make_provenance(source, [step], previous)
            frame = _with_columns(ds, {})[0].drop("embedding", strict=False).collect()  # replaced, as locally
            blocks = [frame.slice(s, rows).to_arrow().append_column(ROW, pa.array(np.arange(s, s + min(rows, len(texts) - s)), pa.int64()))
                      .append_column(PART_TEXT, pa.array([None if t is None else str(t) for t in texts[s:s + rows]], pa.string()))
                      for s in range(0, len(texts), rows)]
            written = engine.collect(from_arrow(blocks).map_batches(
                EmbedPartWorker, batch_format="pyarrow", batch_size=None,
                fn_constructor_kwargs={"model_id": view.model_id, "env": _env(), "folder": str(folder.tmp),
                                       "rows": rows, "provenance": provenance, "batch_size": batch_size},
                compute=ray.data.ActorPoolStrategy(size=engine.workers), num_cpus=1), len(blocks), reporter)
            done = pl.concat([pl.from_arrow(b) for b in written])
        stats = EmbedStats(texts=len(texts), empty=int(done["_empty"].sum()), truncated=int(done["_truncated"].sum()))
        step = {**step, "seconds": clock.seconds}  # the parts' step with the whole run's time
        folder.publish(list(zip(done["part"].to_list(), done["rows"].to_list())), make_provenance(source, [step], previous))
    except BaseException:
        folder.discard()
        raise
    return Result(Embedded(col, len(texts), int(view.dim), view.model_id, stats), {}, step)
