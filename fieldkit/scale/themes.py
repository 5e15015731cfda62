"""Themes on Ray: fit on a bounded sample with the local job itself, then assign every row on the workers.

Every row is embedded once on an actor pool (the same batches as a local run, so the same
vectors) and kept on the cluster; the fit sample is drawn by the local fit's own rule (every
answer when there are at most FIT_SAMPLE, else the same seeded draw) and fitted on the driver
by `find_themes` itself, so the same seed gives the same centres as a local run;
`assign_themes` then applies the fit's rule (nearest centre, outlier fence) to every row in
`map_batches`. Keywords and examples come from the sample; sizes and shares count every row.
"""

from __future__ import annotations

import numpy as np

from fieldkit.analysis.themes import FIT_SAMPLE, MIN_CHARS, OTHER_ID, Theme, ThemesResult, _normalised_len
from fieldkit.errors import UsageError
from fieldkit.pipelines.core import Data, Result, _last_choice, make_step, model_choice, timed
from fieldkit.pipelines.engine import current, mark_step
from fieldkit.pipelines.themes import Themes, theme_columns, theme_params
from fieldkit.progress import Reporter
from fieldkit.scale.workers import ROW, assign_batch, rows_in, vectors_of


def fit_sample(texts: list, sample: int = FIT_SAMPLE, seed: int = 0) -> np.ndarray:
    """Rows the fit uses: answers with enough letters, all of them or a seeded draw of `sample`."""
    idx = np.flatnonzero(np.array([_normalised_len(t) for t in texts]) >= MIN_CHARS)
    if len(idx) <= sample:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, sample, replace=False))


def themes(data: Data, column: str, *, k: int | None = None, by: str | None = None,
           model_id: str | None = None, labels: str = "keywords", sample: int = FIT_SAMPLE,
           reporter: Reporter | None = None) -> Result[Themes]:
    """`pipelines.themes` on the Ray engine: the same columns and step, fitted on <= `sample` rows."""
    from fieldkit.analysis.themes import find_themes
    from fieldkit.pipelines.themes import group_shares, name_themes, read_texts, themes_input

    engine = current()
    if engine is None:
        raise UsageError("scale.themes runs inside a Ray session", "use `fieldkit themes --engine ray`")
    if sample < 2:
        raise UsageError(f"a fit sample of {sample} rows is too small", f"use the default {FIT_SAMPLE:,}")
    reporter, ds, col, by_col = themes_input(data, column, k, by, labels, reporter)
    with timed() as clock:
        texts = read_texts(ds, col)
        chosen = model_choice(texts, model_id)  # on every answer, as the local run chooses
        view = engine.model_view(chosen.model_id)
        embedded = engine.embedded(texts, chosen.model_id, keep=True)  # stays on the cluster
        rows = fit_sample(texts, sample)
        fit_texts, fit_vecs = _sample(engine, embedded, rows, reporter.child("embed"))
        result = find_themes(fit_texts, fit_vecs, k=k, reporter=reporter.child("themes"))
        namer = name_themes(result, labels, reporter)
        if result.model is not None:
            theme_id, score = _assign(engine, embedded, len(texts), result.model, reporter.child("assign themes"))
            result = _on_all_rows(result, texts, theme_id, score)
        else:  # nothing to cluster: every row is "other"
            result = find_themes(texts, np.zeros((len(texts), 1), np.float32))
    breakdown = group_shares(result, ds, by_col)
    params = {**theme_params(result, col, namer), "fit_rows": int(len(rows)), "seed": 0}
    _last_choice.value = chosen  # make_step records the automatic choice and its reason
    step = mark_step(make_step("themes", params, clock, view))
    out = Themes(result, col, len(texts), chosen.model_id, by_col, breakdown)
    return Result(out, theme_columns(result), step)


def _sample(engine, embedded, rows: np.ndarray, reporter: Reporter) -> tuple[list, np.ndarray]:
    """Texts and vectors of the fit sample, pulled from the embedded dataset in row order."""
    batches = list(engine.collect(embedded.map_batches(rows_in, fn_kwargs={"wanted": rows},
                                                       batch_format="pyarrow"), len(rows), reporter))
    got = np.concatenate([b.column(ROW).to_numpy() for b in batches]) if batches else np.empty(0, np.int64)
    order = np.argsort(got)
    texts = [t for b in batches for t in b.column("text").to_pylist()]
    vecs = np.concatenate([vectors_of(b) for b in batches]) if batches else np.zeros((0, 1), np.float32)
    return [texts[i] for i in order], vecs[order]


def _assign(engine, embedded, n: int, model, reporter: Reporter) -> tuple[np.ndarray, np.ndarray]:
    theme_id = np.full(n, OTHER_ID, np.int64)
    score = np.full(n, np.nan, np.float32)
    assigned = embedded.map_batches(assign_batch, fn_kwargs={"model": model}, batch_format="pyarrow")
    for batch in engine.collect(assigned, n, reporter):
        rows = batch.column(ROW).to_numpy()
        theme_id[rows] = batch.column("theme_id").to_numpy()
        score[rows] = batch.column("theme_score").to_numpy(zero_copy_only=False)
    return theme_id, score


def _on_all_rows(fit: ThemesResult, texts: list, theme_id: np.ndarray, score: np.ndarray) -> ThemesResult:
    """The fit's themes (ids, labels, keywords, examples) with sizes and shares over every row."""
    n = len(texts)
    sizes = {int(i): int(c) for i, c in zip(*np.unique(theme_id, return_counts=True))}
    themes = [Theme(t.id, t.label, sizes.get(t.id, 0), sizes.get(t.id, 0) / max(n, 1), t.keywords, t.examples,
                    t.generated_label) for t in fit.themes]
    return ThemesResult(themes, theme_id, score, fit.k, fit.chosen_by, fit.silhouette, fit.model)
