"""The themes job: cluster a text column's embeddings into themes with keywords, examples and labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from fieldkit.analysis.themes import OTHER_ID, ThemesResult, find_themes
from fieldkit.errors import ModelError, UsageError
from fieldkit.pipelines.core import Data, Result, dataset, make_step, require_some_text, text_column, timed
from fieldkit.pipelines.embed import vectors
from fieldkit.progress import Reporter

_LETTER = re.compile(r"[^\W\d_]")  # any letter of any script

LABELS = ("keywords", "generated", "auto")


@dataclass
class Themes:
    """The themes found (analysis result), on which column and rows, and the share per group."""

    result: ThemesResult
    column: str
    rows: int
    model: str
    by: str | None = None
    breakdown: pl.DataFrame | None = None  # share of each theme per value of `by`



def name_themes(result, labels: str, reporter: Reporter):
    """Name the themes with the generative model when `labels` asks for it; returns the namer or None.

    One place for the rule, so the local and the Ray runs label themes the same way.
    """
    namer = _generator(required=labels == "generated") if labels != "keywords" else None
    if namer is not None:
        from fieldkit.analysis.themes import label_with_generator

        label_with_generator(result, namer, reporter.child("name themes"))
    return namer

def themes(data: Data, column: str, *, k: int | None = None, by: str | None = None,
           model_id: str | None = None, labels: str = "keywords",
           reporter: Reporter | None = None) -> Result[Themes]:
    """Adds `theme_id` (-1 = other), `theme_label`, `theme_score` (cosine to the theme centre).

    `labels`: "keywords" (top keywords), "generated" (the prepared generative model names each
    theme; an error if it is not prepared) or "auto" (generated when prepared).
    """
    reporter, ds, col, by_col = themes_input(data, column, k, by, labels, reporter)
    with timed() as clock:
        texts = read_texts(ds, col)
        embedder, vecs = vectors(ds, col, texts, model_id, reporter.child("embed"))
        result = find_themes(texts, vecs, k=k, reporter=reporter.child("themes"))
        namer = name_themes(result, labels, reporter)
    breakdown = group_shares(result, ds, by_col)
    step = make_step("themes", theme_params(result, col, namer), clock, embedder)
    return Result(Themes(result, col, len(texts), embedder.model_id, by_col, breakdown), theme_columns(result), step)


def themes_input(data: Data, column: str, k: int | None, by: str | None, labels: str,
                 reporter: Reporter | None):
    """What the local and the Ray runs check and open first: options, dataset, text and group column."""
    check_options(k, labels)
    ds = dataset(data)
    return reporter or Reporter("themes"), ds, text_column(ds, column), ds.require_column(by) if by else None


def read_texts(ds, col: str) -> list:
    """The column's answers as a list; a column with no text at all, or no letter in any cell (dates, numbers,
    codes stored as text: they made themes of look-alike numbers, every one "(no keywords)"), is refused."""
    texts = ds.text_column(col).to_list()
    require_some_text(texts, col, ds)
    if not any(_LETTER.search(t) for t in texts if t):
        example = next(t for t in texts if t is not None and str(t).strip())
        raise UsageError(f"column {col!r} of {ds.path.name} holds no words (values like {example[:40]!r}): "
                         "themes group free-text answers",
                         f"pick a column of answers; `fieldkit inspect {ds.path}` lists the columns")
    return texts


def group_shares(result: ThemesResult, ds, by_col: str | None) -> pl.DataFrame | None:
    """The share of each theme per value of the `--by` column (None without one)."""
    return result.breakdown(ds.read([by_col]).get_column(by_col).to_list()) if by_col else None


def check_options(k: int | None, labels: str) -> None:
    """Refuse a bad --k or --labels before any work (both engines)."""
    if k is not None and k < 1:
        raise UsageError("--k must be at least 1", "for example --k 6, or leave it out")
    if labels not in LABELS:
        raise UsageError(f"unknown labels {labels!r}", "use one of: " + ", ".join(LABELS))


def theme_columns(result: ThemesResult) -> dict[str, pl.Series]:
    """The three columns every themes run adds (the Ray engine builds them the same way)."""
    score = np.asarray(result.theme_score, dtype="float64")
    return {
        "theme_id": pl.Series(result.theme_id.astype("int64")),
        "theme_label": pl.Series(result.row_labels(), dtype=pl.String),
        "theme_score": pl.Series(np.round(score, 4)).fill_nan(None),
    }


def theme_params(result: ThemesResult, col: str, namer=None) -> dict:
    """The provenance parameters of a themes run."""
    params = {"column": col, "k": result.k, "chosen_by": result.chosen_by, "other_id": OTHER_ID,
              "labels": "generated" if namer is not None else "keywords"}
    if namer is not None:
        params["label_model"] = getattr(namer, "model_id", None)
    return params


def _generator(required: bool):
    """The prepared generative model for theme names, or None when it is not prepared (and not required)."""
    from fieldkit.analysis.summarize import _load_generator

    try:
        return _load_generator()
    except ModelError:
        if required:
            raise
        return None
