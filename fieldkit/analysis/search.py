"""Exact cosine search over a text column (vectors are L2-normalised, so cosine = dot product).

An exact scan of 100k x 384 float32 takes a few milliseconds, so no ANN index is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fieldkit.analysis.embeddings import embed_column
from fieldkit.errors import UsageError
from fieldkit.inference.embedder import get_embedder
from fieldkit.progress import Reporter


@dataclass(frozen=True)
class Hit:
    """One result: 0-based row number in the dataset, cosine score and the text."""

    row: int
    score: float
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


def top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and scores of the k best cosine matches, best first (zero rows excluded)."""
    scores = np.asarray(matrix @ query.astype(matrix.dtype, copy=False), dtype=np.float32)
    valid = np.flatnonzero(scores != 0.0)  # empty texts embed to zero vectors
    if valid.size == 0 or k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    k = min(k, valid.size)
    sub = scores[valid]
    part = np.argpartition(-sub, k - 1)[:k] if k < sub.size else np.arange(sub.size)
    best = part[np.argsort(-sub[part], kind="stable")]
    return valid[best], sub[best]


def search(ds, column: str, query: str, top: int = 10, model_id: str | None = None,
           reporter: Reporter | None = None) -> list[Hit]:
    """Rows of `column` closest in meaning to `query` (embeddings cached per file + column + model)."""
    if not query or not query.strip():
        raise UsageError("the query is empty", "give the words to search for with --query")
    if top < 1:
        raise UsageError("--top must be at least 1", "for example --top 10")
    col = ds.require_text_column(column)
    matrix = embed_column(ds, col, model_id, reporter=reporter, mmap=True)
    q = get_embedder(model_id).embed_all([query])[0]
    rows, scores = top_k(matrix, q, top)
    if rows.size == 0:
        return []
    import polars as pl

    texts = (ds.frame.select(pl.col(col).cast(pl.String)).with_row_index("__row")
             .filter(pl.col("__row").is_in(rows.tolist())).collect())
    by_row = dict(zip(texts["__row"].to_list(), texts[col].to_list()))
    return [Hit(int(r), float(s), by_row.get(int(r)) or "") for r, s in zip(rows, scores)]
