"""Calls into the core analyses, run inside worker threads; results come back as plain data.

Heavy modules (onnxruntime, models, scikit-learn) are imported here, inside the functions,
so the interface starts fast and pays for a model only when the user first asks for one.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import polars as pl

from fieldkit.errors import UsageError
from fieldkit.progress import Reporter
from fieldkit.tui.model import ROW


def _require_text(ds, column: str) -> str:
    col = ds.require_column(column)
    dtype = ds.frame.collect_schema()[col]
    if dtype not in (pl.String, pl.Categorical) and not isinstance(dtype, pl.Enum):
        raise UsageError(f"column {col!r} is {dtype}, not text",
                         "select a text column (dtype str) with the arrow keys first")
    return col


@dataclass
class EmbedResult:
    column: str
    rows: int
    dim: int
    model: str


def embed(ds, column: str, reporter: Reporter) -> EmbedResult:
    from fieldkit.analysis.embeddings import embed_column

    col = _require_text(ds, column)
    vecs = embed_column(ds, col, reporter=reporter)
    return EmbedResult(col, int(vecs.shape[0]), int(vecs.shape[1]), _model_id())


def _model_id() -> str:
    try:
        from fieldkit.inference.embedder import get_embedder

        return get_embedder().model_id
    except Exception:
        return "default"


def semantic_search(ds, column: str, query: str, reporter: Reporter, top: int = 50) -> pl.DataFrame:
    """Rows ranked by cosine similarity to the query: ROW, score (best first)."""
    col = _require_text(ds, column)
    try:
        from fieldkit.analysis.search import search as core_search  # type: ignore[attr-defined]
    except ImportError:
        core_search = None
    if core_search is not None:
        try:
            hits = core_search(ds, col, query, top=top, reporter=reporter)
            return _hits_frame(hits)
        except TypeError:
            pass
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.inference.embedder import get_embedder

    vecs = embed_column(ds, col, reporter=reporter)
    q = get_embedder().embed_all([query])[0]
    scores = vecs @ q
    k = min(top, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=np.int64)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return pl.DataFrame({ROW: idx.astype(np.int64), "score": scores[idx].astype(np.float32)})


def _hits_frame(hits: Any) -> pl.DataFrame:
    if isinstance(hits, pl.DataFrame):
        row = next((c for c in ("row", "row_index", "index", ROW) if c in hits.columns), None)
        score = next((c for c in ("score", "similarity", "cosine") if c in hits.columns), None)
        if row and score:
            return hits.select(pl.col(row).cast(pl.Int64).alias(ROW), pl.col(score).cast(pl.Float32).alias("score"))
    rows, scores = [], []
    for h in hits:
        if isinstance(h, dict):
            rows.append(int(h.get("row", h.get("index"))))
            scores.append(float(h.get("score")))
        elif isinstance(h, tuple):
            rows.append(int(h[0]))
            scores.append(float(h[1]))
        else:
            rows.append(int(getattr(h, "row", getattr(h, "index", 0))))
            scores.append(float(getattr(h, "score")))
    return pl.DataFrame({ROW: pl.Series(rows, dtype=pl.Int64), "score": pl.Series(scores, dtype=pl.Float32)})


@dataclass
class ThemeInfo:
    id: int
    label: str
    size: int
    keywords: list[str]
    samples: list[str]


@dataclass
class ThemesResult:
    column: str
    themes: list[ThemeInfo]
    row_ids: dict[int, int]          # row -> theme id (rows with no text have none)
    scores: dict[int, float] = field(default_factory=dict)


def themes(ds, column: str, reporter: Reporter, k: int | None = None) -> ThemesResult:
    from fieldkit.analysis import themes as core

    col = _require_text(ds, column)
    result = core.find_themes(ds, col, k=k, reporter=reporter)
    return _themes_result(col, result)


def _themes_result(col: str, result: Any) -> ThemesResult:
    assignments = getattr(result, "assignments", None)
    frame = getattr(result, "frame", None)
    row_ids: dict[int, int] = {}
    scores: dict[int, float] = {}
    if isinstance(assignments, pl.DataFrame):
        frame = assignments
    if isinstance(frame, pl.DataFrame):
        ids = frame.get_column("theme_id").to_list()
        sc = frame.get_column("theme_score").to_list() if "theme_score" in frame.columns else [None] * len(ids)
        for r, (t, s) in enumerate(zip(ids, sc)):
            if t is not None and t >= 0:
                row_ids[r] = int(t)
                if s is not None:
                    scores[r] = float(s)
    else:
        labels = getattr(result, "labels", None)
        sc = getattr(result, "scores", None)
        for r, t in enumerate(list(labels if labels is not None else [])):
            if t is not None and int(t) >= 0:
                row_ids[r] = int(t)
                if sc is not None:
                    scores[r] = float(sc[r])
    infos = []
    for th in getattr(result, "themes", []):
        get = (lambda k, d=None: th.get(k, d)) if isinstance(th, dict) else (lambda k, d=None: getattr(th, k, d))
        tid = int(get("id", get("theme_id", 0)))
        infos.append(ThemeInfo(
            id=tid,
            label=str(get("label", get("theme_label", f"theme {tid}"))),
            size=int(get("size", sum(1 for v in row_ids.values() if v == tid))),
            keywords=list(get("keywords", []) or []),
            samples=[str(s) for s in (get("samples", get("examples", [])) or [])],
        ))
    infos.sort(key=lambda t: -t.size)
    return ThemesResult(col, infos, row_ids, scores)


def dupes(ds, column: str, reporter: Reporter) -> pl.DataFrame:
    """Rows that belong to a duplicate group: ROW, dup_group (groups of 2+ only), in group order."""
    from fieldkit.analysis import dupes as core

    col = _require_text(ds, column)
    result = core.find_duplicates(ds, col, reporter=reporter)
    groups = result if isinstance(result, pl.DataFrame) else getattr(result, "frame", None)
    if isinstance(groups, pl.DataFrame) and "dup_group" in groups.columns:
        g = groups.select(pl.col("dup_group")).with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    else:
        values = list(getattr(result, "dup_group", result))
        g = pl.DataFrame({ROW: pl.Series(range(len(values)), dtype=pl.Int64), "dup_group": values})
    g = g.filter(pl.col("dup_group").is_not_null())
    sizes = g.group_by("dup_group").len()
    g = g.join(sizes.filter(pl.col("len") > 1).select("dup_group"), on="dup_group", how="semi")
    return g.sort(["dup_group", ROW])


@dataclass
class SummaryResult:
    text: str
    mode: str
    model: str | None
    groups: list[tuple[str, str]] = field(default_factory=list)


def summarize(texts: list[str], reporter: Reporter, on_token: Callable[[str], None] | None = None,
              mode: str = "auto") -> SummaryResult:
    from fieldkit.analysis.summarize import summarize_texts

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UsageError("nothing to summarize: the column is empty in this view",
                         "choose a text column, or clear the filter with x")
    s = summarize_texts(texts, mode=mode, reporter=reporter, on_token=on_token)
    return SummaryResult(s.text, s.mode, getattr(s, "model", None))


def summarize_groups(frame: pl.DataFrame, column: str, by: str, reporter: Reporter,
                     on_token: Callable[[str], None] | None = None, mode: str = "auto",
                     max_groups: int = 12) -> SummaryResult:
    """One summary per value of `by` (largest groups first); headers stream in between."""
    from fieldkit.analysis.summarize import summarize_texts

    sizes = (frame.filter(pl.col(column).is_not_null()).group_by(by).len()
             .sort("len", descending=True).head(max_groups))
    out = []
    for value, n in sizes.iter_rows():
        reporter.check()
        texts = frame.filter(pl.col(by).eq_missing(value)).get_column(column).cast(pl.String).drop_nulls().to_list()
        texts = [t for t in texts if t.strip()]
        if not texts:
            continue
        if on_token:
            on_token(f"\n\n## {by} = {value} ({n:,} rows)\n")
        s = summarize_texts(texts, mode=mode, reporter=reporter.child(f"{by}={value}"), on_token=on_token)
        if on_token and s.mode == "extractive":
            on_token(s.text)
        out.append((str(value), s.text))
    return SummaryResult("\n\n".join(f"## {g}\n{t}" for g, t in out), mode, None, out)
