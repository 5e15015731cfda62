"""'Other (specify)' answers to recode, grouped by meaning so that one decision covers many spellings.

Each distinct answer (after Unicode/case/punctuation normalisation) is embedded once with
fieldkit's embedder, and answers are joined (connected components, as `fieldkit dupes`
does) when their embeddings are close in meaning OR their character 1-3-grams are close in
spelling: the English default model does not see that 'botled watter' is 'bottled water',
and it knows no Arabic at all, while character n-grams catch typos in any script. Without
a usable model only the spelling links are used, and the summary says so.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from fieldkit.analysis.checks_context import ROW, Context
from fieldkit.analysis.checks_rules import FINDING_SCHEMA, empty, fmt


OTHER_NAME_RE = re.compile(r"(?:^|[_/.\-])(other|others|autre|otro)(?:_specify|_spec|_text)?$", re.I)


def other_columns(ctx: Context) -> list[str]:
    """Text questions that follow an 'other' choice: from the form's relevant, else by name."""
    chosen = list(ctx.cfg["other"]["columns"])
    if chosen:
        return chosen
    cols: list[str] = []
    if ctx.form is not None and ctx.match is not None:
        for q in ctx.form.questions:
            col = ctx.match.columns.get(q.name)
            if col and q.type == "text" and (re.search(r"['\"]other['\"]", q.relevant or "")
                                            or OTHER_NAME_RE.search(q.name)):
                cols.append(col)
        return cols
    option_cols = set(ctx.option_columns)
    for c in ctx.columns:
        if c in option_cols or ctx.schema[c] != pl.String:
            continue
        if OTHER_NAME_RE.search(c):
            cols.append(c)
    return cols


def _embed(texts: list[str], ctx: Context) -> np.ndarray | None:
    model = ctx.cfg["other"]["model"] or None
    try:
        from fieldkit.inference.embedder import get_embedder

        emb = get_embedder(model)
        vecs = emb.embed_all(texts, reporter=ctx.reporter.child("embedding other answers",
                                                                 len(texts)) if ctx.reporter else None)
        ctx.models.append(emb.provenance())
        return vecs
    except Exception as e:  # noqa: BLE001 - a missing model must not stop the other checks
        from fieldkit.errors import Cancelled

        if isinstance(e, Cancelled):
            raise
        ctx.skipped.append(f"other answers grouped by spelling only (no embedding model: {e})")
        return None


def _spelling_pairs(texts: list[str], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j, whose character 1-3-gram TF-IDF vectors have cosine >= threshold."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit_transform(texts)
    n = x.shape[0]
    block = max(64, min(n, 16_000_000 // max(n, 1)))
    rows, cols = [], []
    for s in range(0, n, block):
        sims = (x[s:s + block] @ x[s:].T).toarray()
        r, c = np.nonzero(sims >= threshold)
        keep = c > r
        rows.append(r[keep] + s)
        cols.append(c[keep] + s)
    return np.concatenate(rows), np.concatenate(cols)


def _groups(uniq: list[str], ctx: Context) -> np.ndarray:
    """A group id per distinct normalised answer (connected components of meaning + spelling links)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from fieldkit.analysis.dupes import near_pairs

    n = len(uniq)
    present = [i for i, t in enumerate(uniq) if t]
    if len(present) < 2:
        return np.arange(n)
    texts = [uniq[i] for i in present]
    idx = np.array(present)
    i1, j1 = _spelling_pairs(texts, float(ctx.cfg["other"]["spelling_threshold"]))
    links = [(idx[i1], idx[j1])]
    vecs = _embed(texts, ctx)
    if vecs is not None:
        v = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        i2, j2 = near_pairs(v, float(ctx.cfg["other"]["threshold"]))
        links.append((idx[i2], idx[j2]))
    i = np.concatenate([a for a, _ in links])
    j = np.concatenate([b for _, b in links])
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def other_specify(ctx: Context) -> pl.DataFrame:
    from fieldkit.analysis.dupes import normalise

    cols = [c for c in other_columns(ctx) if c in ctx.schema]
    if not cols:
        return empty()
    frames = []
    for c in cols:
        frames.append(ctx.lf.filter(pl.col(c).cast(pl.String).str.strip_chars().fill_null("") != "")
                      .select(pl.col(ROW), pl.lit(c).alias("column"),
                              pl.col(c).cast(pl.String).alias("value")))
    answers = pl.concat(frames).collect()
    if not answers.height:
        return empty()
    # one embedding per distinct normalised answer, across every 'other' column
    vals = answers["value"].unique().to_list()
    answers = answers.join(pl.DataFrame({"value": vals, "norm": [normalise(v) for v in vals]},
                                        schema={"value": pl.String, "norm": pl.String}),
                           on="value", how="left")
    uniq = answers.select("norm").unique(maintain_order=True)["norm"].to_list()
    ids = _groups(uniq, ctx)
    groups = pl.DataFrame({"norm": uniq, "group": ids})
    a = answers.join(groups, on="norm", how="left")
    # group per column: the same words under two questions are two decisions
    stats = (a.group_by("column", "group")
             .agg(pl.len().alias("n"), pl.col("value").n_unique().alias("spellings"),
                  pl.col("value").mode().first().alias("typical")))
    a = a.join(stats, on=["column", "group"], how="left")
    gid = a.select(pl.struct("column", "group").rank("dense").alias("gid"))["gid"]
    a = a.with_columns(gid.alias("gid"))
    detail = fmt("recode group {}: {} answers, {} spellings, e.g. '{}'", pl.col("gid"),
                       pl.col("n"), pl.col("spellings"), pl.col("typical"))
    out = a.select(pl.col(ROW).cast(pl.UInt32).alias("row"), pl.lit(None, pl.String).alias("enumerator"),
                   pl.lit("other_specify").alias("check"), pl.col("column"), pl.col("value"),
                   detail.alias("detail"), pl.lit("info").alias("severity"))
    ctx.other_groups = int(a["gid"].n_unique())
    return out.cast(FINDING_SCHEMA)
