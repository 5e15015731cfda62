"""The embed job: one vector per row of a text column (cached by file + column + model)."""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.analysis import embeddings
from fieldkit.inference.embedder import EmbedStats, get_embedder
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.engine import current, mark_step
from fieldkit.pipelines.core import Data, Result, dataset, make_step, resolve_model, save_annotated, text_column, timed
from fieldkit.progress import Reporter


@dataclass
class Embedded:
    """What the embed job made: the model, the vector size and what it met (empty, cut texts)."""

    column: str
    rows: int
    dim: int
    model: str
    stats: EmbedStats


def vectors(ds: Dataset, col: str, texts: list[str | None], model_id: str | None,
            reporter: Reporter | None = None, mmap: bool = True, batch_size: int = 32,
            passages: bool = False):
    """(embedder, vectors) for texts already read from `col`; the file is not read again.

    On an engine (`--engine ray`) the engine embeds them on its workers instead (no cache).
    `passages`: embedded as texts a query searches (e5: "passage: "; not on an engine).
    """
    from fieldkit.pipelines.engine import current

    engine = current()
    if engine is not None:
        return engine.vectors(ds, col, texts, model_id, reporter, batch_size)
    embedder = get_embedder(resolve_model(texts, model_id))
    return embedder, embeddings.embed_column(ds, col, embedder.model_id, reporter=reporter, mmap=mmap,
                                             batch_size=batch_size, texts=texts, passages=passages)


def embed(data: Data, column: str, *, model_id: str | None = None, batch_size: int = 32,
          reporter: Reporter | None = None) -> Result[Embedded]:
    """Add `embedding` (fixed-size list of float32) to every row; empty texts get zero vectors.

    The vectors stream into the memory-mapped embedding cache, so a later search, themes or
    dupes run on the same column and model does not embed again.
    """
    ds = dataset(data)
    col = text_column(ds, column)
    with timed() as clock:
        texts = ds.text_column(col).to_list()
        embedder, vecs = vectors(ds, col, texts, model_id, reporter, mmap=True, batch_size=batch_size)
        stats = (getattr(embedder, "last_stats", None) if current() is not None else None) \
            or embeddings.cached_stats(ds, col, embedder) or EmbedStats(texts=len(texts))
    step = mark_step(make_step("embed", {"column": col, "batch_size": batch_size}, clock, embedder))
    out = Embedded(col, int(vecs.shape[0]), int(embedder.dim), embedder.model_id, stats)
    return Result(out, {"embedding": vecs}, step)


def embed_file(data: Data, column: str, out, *, model_id: str | None = None, batch_size: int = 32,
               reporter: Reporter | None = None, write_reporter: Reporter | None = None) -> Result[Embedded]:
    """`embed` + `save_annotated(out)`: on an engine that can, each block written while the rest embed."""
    engine = current()
    if hasattr(engine, "embed_file"):  # Ray: the driver streams blocks in row order (fieldkit.scale.embed_file)
        return engine.embed_file(dataset(data), column, out, model_id=model_id, batch_size=batch_size,
                                 reporter=reporter, write_reporter=write_reporter)
    ds = dataset(data)
    r = embed(ds, column, model_id=model_id, batch_size=batch_size, reporter=reporter)
    save_annotated(ds, r.columns, [r.step], out, reporter=write_reporter)
    return r


def embed_parts(data: Data, column: str, out, rows: int, *, model_id: str | None = None, batch_size: int = 32,
                reporter: Reporter | None = None, write_reporter: Reporter | None = None) -> Result[Embedded]:
    """`embed` written as a folder of parts of `rows` rows: by the workers on an engine that can, else here."""
    from fieldkit.pipelines.parts import save_parts

    engine = current()
    if hasattr(engine, "embed_parts"):  # Ray: no vector reaches this process (fieldkit.scale.embed_parts)
        return engine.embed_parts(dataset(data), column, out, rows, model_id=model_id, batch_size=batch_size,
                                  reporter=reporter)
    ds = dataset(data)
    r = embed(ds, column, model_id=model_id, batch_size=batch_size, reporter=reporter)
    save_parts(ds, r.columns, [r.step], out, rows, reporter=write_reporter)
    return r
