"""A fake backend for UI tests: the interface's flows without the embedding model.

Themes group answers by their first word, search ranks rows by shared words; both are real
computations on the data, so the screen's handling of them can be checked exactly.
"""

from __future__ import annotations

import polars as pl

from fieldkit.tui.backend import Backend, ThemeInfo, ThemesResult, SearchResult
from fieldkit.tui.model import ROW

FAKE_MODEL = "fake-multilingual-model"


class FakeBackend(Backend):
    def __init__(self) -> None:
        self.models_chosen: list[str] = []

    def embedding_models(self) -> list[str]:
        return ["fake-english-model", FAKE_MODEL]

    def choose_model(self, texts, installed):
        self.models_chosen.append(FAKE_MODEL)
        return FAKE_MODEL

    def themes(self, ds, column, reporter, k=None, model=None) -> ThemesResult:
        texts = ds.text_column(column).to_list()
        first = [(t or "").strip().split(" ")[0].lower() if (t or "").strip() else None for t in texts]
        top = [w for w, _ in pl.Series(first).drop_nulls().value_counts(sort=True).rows()[:3]]
        row_ids = {r: (top.index(w) if w in top else -1) for r, w in enumerate(first) if w is not None}
        themes = [ThemeInfo(i, f"starts with {w}", sum(1 for t in row_ids.values() if t == i), [w], [w])
                  for i, w in enumerate(top)]
        themes.append(ThemeInfo(-1, "other", sum(1 for t in row_ids.values() if t == -1), [], []))
        return ThemesResult(column, themes, row_ids, {r: 1.0 for r in row_ids}, model, "0" * 64, len(top))

    def search(self, ds, column, query, reporter, top=50, model=None) -> SearchResult:
        words = set(query.lower().split())
        texts = ds.text_column(column).to_list()
        scored = sorted(((len(words & set((t or "").lower().split())) / max(1, len(words)), r)
                         for r, t in enumerate(texts)), reverse=True)[:top]
        hits = pl.DataFrame({ROW: pl.Series([r for _, r in scored], dtype=pl.Int64),
                             "score": pl.Series([s for s, _ in scored], dtype=pl.Float32)})
        return SearchResult(hits, model)
