"""A fake backend for UI tests: the interface's flows without the embedding model.

Themes group answers by their first word, search ranks rows by shared words; both are real
computations on the data, returned in the pipelines' own result shapes (`Result`, `Themes`,
`Hit`, provenance made by `make_step`), so the screen's handling of them can be checked exactly.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fieldkit.analysis.search import Hit
from fieldkit.analysis.themes import OTHER_ID, OTHER_LABEL, Theme, ThemesResult
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.pipelines.themes import Themes
from fieldkit.tui.backend import Backend

FAKE_MODEL = "fake-multilingual-model"


class _Model:
    model_id = FAKE_MODEL
    sha256 = "0" * 64


class FakeBackend(Backend):
    def __init__(self) -> None:
        self.models_chosen: list[str] = []

    def embedding_models(self) -> list[str]:
        return ["fake-english-model", FAKE_MODEL]

    def choose_model(self, texts):
        self.models_chosen.append(FAKE_MODEL)
        return FAKE_MODEL

    def themes(self, ds, column, reporter, k=None, model=None) -> Result[Themes]:
        with timed() as clock:
            texts = ds.text_column(column).to_list()
            first = [(t or "").strip().split(" ")[0].lower() if (t or "").strip() else None for t in texts]
            top = [w for w, _ in pl.Series(first).drop_nulls().value_counts(sort=True).rows()[:3]]
            ids = np.array([top.index(w) if w in top else OTHER_ID for w in first], dtype=np.int64)
            n = len(texts)
            themes = [Theme(i, f"starts with {w}", int((ids == i).sum()), float((ids == i).mean()), [w], [w])
                      for i, w in enumerate(top)]
            themes.append(Theme(OTHER_ID, OTHER_LABEL, int((ids == OTHER_ID).sum()),
                                float((ids == OTHER_ID).mean()), [], []))
            scores = np.where([w is not None for w in first], 1.0, np.nan).astype(np.float32)
            result = ThemesResult(themes, ids, scores, len(top), "forced")
        columns = {"theme_id": pl.Series(ids), "theme_label": pl.Series(result.row_labels(), dtype=pl.String),
                   "theme_score": pl.Series(scores.astype("float64")).fill_nan(None)}
        step = make_step("themes", {"column": column, "k": len(top)}, clock, _Model())
        return Result(Themes(result, column, n, FAKE_MODEL), columns, step)

    def search(self, ds, column, query, reporter, top=50, model=None) -> Result[list[Hit]]:
        with timed() as clock:
            words = set(query.lower().split())
            texts = ds.text_column(column).to_list()
            scored = sorted(((len(words & set((t or "").lower().split())) / max(1, len(words)), r)
                             for r, t in enumerate(texts)), reverse=True)[:top]
        hits = [Hit(r, s, texts[r] or "") for s, r in scored]
        return Result(hits, {}, make_step("search", {"column": column, "query": query, "top": top}, clock, _Model()))
