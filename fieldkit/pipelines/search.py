"""The search job: rows of a text column closest in meaning to a query (cached vectors).

Exact cosine scan below analysis.ann.index_rows() rows (200k); from there an HNSW index
(usearch), built once and cached beside the embeddings, proposes candidates that are re-scored
exactly. The step's parameters say which ran ("index": "exact" or the index recipe).
"""

from __future__ import annotations

import polars as pl

from fieldkit.analysis import ann, embeddings
from fieldkit.analysis.search import Hit, top_k
from fieldkit.errors import UsageError
from fieldkit.pipelines.core import Data, Result, dataset, make_step, text_column, timed
from fieldkit.pipelines.embed import vectors
from fieldkit.pipelines.engine import current
from fieldkit.progress import Reporter


def search(data: Data, column: str, query: str, *, top: int = 10, model_id: str | None = None,
           reporter: Reporter | None = None) -> Result[list[Hit]]:
    """The `top` best rows (0-based row, cosine score, text), best first; adds no columns.

    Empty texts are never hits; the column's vectors come from the cache after the first run.
    """
    if not query or not query.strip():
        raise UsageError("the query is empty", "give the words to search for with --query")
    if top < 1:
        raise UsageError("--top must be at least 1", "for example --top 10")
    ds = dataset(data)
    col = text_column(ds, column)
    with timed() as clock:
        texts = ds.text_column(col)
        # a model whose manifest sets `passage_prefix` embeds the searched texts in that view; e5's
        # "passage: " was withdrawn: a French query then found only French answers (README, e5)
        embedder, matrix = vectors(ds, col, texts.to_list(), model_id, reporter, mmap=True, passages=True)
        q = embedder.embed_all([query])[0]
        corpus = embedder.for_passages() if current() is None else embedder
        how = "exact"
        if matrix.shape[0] >= ann.index_rows() and ann.available():
            base = embeddings.cache_dir() / embeddings.cache_key(ds.sha256, col, corpus)
            try:
                # rows `dupes` would join to an indexed row are grouped under it (ann.py: why)
                same = float(embedder.entry.raw.get("dupes_threshold", ann.DEFAULT_THRESHOLD))
                index = ann.load_or_build(matrix, base, reporter, group_cos=same)
            except OSError:
                index = None  # read-only cache: the exact scan is still right, only slower
            if index is not None:
                rows, scores = ann.top_k_indexed(index, matrix, q, top)
                how = ann.RECIPE
        if how == "exact":
            rows, scores = top_k(matrix, q, top)
    hits = [Hit(int(r), float(s), texts[int(r)] or "") for r, s in zip(rows, scores)]
    step = make_step("search", {"column": col, "query": query, "top": top, "index": how,
                                "corpus_prefix": getattr(corpus, "prefix", "")}, clock, embedder)
    return Result(hits, {}, step)


def hits_frame(hits: list[Hit]) -> pl.DataFrame:
    """Hits as a frame (row, score, text), e.g. to join back onto the data in a notebook."""
    return pl.DataFrame({"row": [h.row for h in hits], "score": [h.score for h in hits],
                         "text": [h.text for h in hits]},
                        schema={"row": pl.Int64, "score": pl.Float32, "text": pl.String})
