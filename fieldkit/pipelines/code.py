"""The code job: code every answer of a text column from the analyst's codes, a codebook or a saved coder.

Why a pipeline: the CLI (`fieldkit code`), the TUI's "suggest tags" and notebooks get the same
columns and provenance; the file is read and hashed once, the vectors come from the shared
embedding cache. The saved coder's format is in `fieldkit/analysis/coder_file.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import polars as pl

from fieldkit.errors import UsageError
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.core import Data, Result, dataset, make_step, require_some_text, text_column, timed
from fieldkit.pipelines.embed import vectors
from fieldkit.pipelines.engine import current, mark_step
from fieldkit.progress import Reporter

COLUMNS = ("code", "code_score", "code_source", "needs_review")


@dataclass
class Coded:
    """What the code job did: per-row result, the coder, per-code summary, suggestions, notes."""

    result: Any  # analysis.coding.CodingResult
    coder: Any  # analysis.coding.Coder
    column: str
    rows: int
    model: str
    summary: list
    suggestions: list
    texts: list
    notes: list = field(default_factory=list)


def _row_codes(ds: Dataset, labels, text_col: str, n: int) -> list[list[str]]:
    """The analyst's codes per row ([] = uncoded), from a `;`-separated or list column."""
    from fieldkit.analysis.codebook import split_codes

    if labels is None:
        return [[] for _ in range(n)]
    if not isinstance(labels, str):
        if len(labels) != n:
            raise UsageError(f"{len(labels):,} rows of codes for {n:,} answers",
                             "give one entry of codes per row (None where uncoded)")
        return [split_codes(sorted(v) if isinstance(v, (set, frozenset)) else v) for v in labels]
    col = ds.require_column(labels)
    if col == text_col:
        raise UsageError(f"--labels {col!r} is the text column itself",
                         "give the column that holds the codes the analyst gave")
    values = ds.read([col]).get_column(col)
    if values.dtype.base_type() is pl.List:
        values = values.cast(pl.List(pl.String))
    elif values.dtype != pl.String:
        values = values.cast(pl.String)
    return [split_codes(v) for v in values.to_list()]


def _codebook_vectors(book, embedder) -> dict[str, np.ndarray]:
    """The embedded name, description and examples of every code (zero-shot teachers)."""
    texts, owner = [], []
    for c in book.codes:
        for t in book.seed_texts(c):
            texts.append(t)
            owner.append(c)
    out: dict[str, list] = {}
    for c, v in zip(owner, embedder.embed_all(texts)):
        if np.any(v):
            out.setdefault(c, []).append(v)
    return {c: np.vstack(v) for c, v in out.items()}


def _truncated(ds: Dataset, col: str, embedder) -> int:
    """Answers cut to the model's token limit when embedded (recorded beside the cached vectors)."""
    from fieldkit.analysis.embeddings import cached_stats

    stats = getattr(embedder, "last_stats", None) if current() is not None else None
    stats = stats or cached_stats(ds, col, embedder)
    return int(getattr(stats, "truncated", 0) or 0)


def _taught_by(guide, embedder, book, seeds: dict, vecs, row_codes, empty):
    """The teacher's codes (all of them, in the codebook) and its code for each uncoded answer."""
    from fieldkit.analysis import coder_file
    from fieldkit.analysis.codebook import Codebook
    from fieldkit.analysis.merge_models import teacher_seeds

    coder_file.check_model(guide, embedder)
    have = list(book.codes) if book else []
    codes = have + [c for c in guide.labels if c not in have]
    book = replace(book, codes=codes) if book else Codebook(codes=codes)
    for c, v in teacher_seeds(guide, vecs, row_codes, empty).items():
        seeds[c] = np.vstack([seeds[c], v]) if c in seeds else v
    return book, seeds


def code(data: Data, column: str, *, labels: str | Sequence[Any] | None = None,
         codebook: str | Path | None = None, load_model: str | Path | None = None,
         model_id: str | None = None, suggest: int = 0, sheet: str | None = None,
         teacher: str | Path | None = None, reporter: Reporter | None = None) -> Result[Coded]:
    """Adds `code` (several joined by `;`), `code_score` (calibrated), `code_source`, `needs_review`.

    `labels`: column of the analyst's codes (filled rows teach), or the codes themselves, one
    entry per row (a list or set of codes, a `;`-separated string or None; the TUI's tags).
    `codebook`: CSV of codes with descriptions/examples (zero-shot for codes no row has).
    `load_model`: a coder folder saved earlier (applied as is; refused when it was trained on
    another embedding model).
    `teacher`: a merged coder (`fieldkit merge --models`) whose codes for the uncoded answers
    teach alongside `labels` (the federated second round, analysis/merge_models.py).
    """
    from fieldkit.analysis import coder_file
    from fieldkit.analysis.codebook import SEP, read_codebook
    from fieldkit.analysis.coding import Coder, code_rows, fit_coder, suggest_rows

    if teacher is not None and (labels is None or load_model is not None):
        raise UsageError("--teacher relearns from your own codes and a merged coder",
                         "give --labels COL (and no --load-model)")
    if labels is None and codebook is None and load_model is None:
        raise UsageError("nothing to learn the codes from",
                         "give --labels COL (rows the analyst coded), --codebook CODES.csv, "
                         "or --load-model DIR (a saved coder)")
    if load_model is not None and codebook is not None:
        raise UsageError("--load-model applies a saved coder; it cannot also take --codebook",
                         "leave out --codebook, or learn a new coder without --load-model")
    reporter = reporter or Reporter("code")
    book = read_codebook(codebook) if codebook is not None else None
    saved = Coder.load(load_model) if load_model is not None else None
    if saved is not None and model_id is not None and model_id != saved.model_id:
        raise UsageError(f"the saved coder was trained on {saved.model_id}, not {model_id}",
                         "leave out --model when applying --load-model")
    guide = Coder.load(teacher) if teacher is not None else None
    if guide is not None and model_id is not None and model_id != guide.model_id:
        raise UsageError(f"the teacher was trained on {guide.model_id}, not {model_id}",
                         "leave out --model when giving --teacher")
    saved_model = saved.model_id if saved else guide.model_id if guide else None
    ds = dataset(data, sheet=sheet)
    col = text_column(ds, column)
    with timed() as clock:
        texts = ds.text_column(col).to_list()
        require_some_text(texts, col, ds)
        row_codes = _row_codes(ds, labels, col, len(texts))
        named = labels if isinstance(labels, str) or labels is None else "(given per row)"
        if labels is not None and saved is None and not any(row_codes):
            raise UsageError(f"no row of {named!r} holds a code",
                             "code some answers first, or give --codebook CODES.csv")
        on_workers = getattr(current(), "coded", None)  # Ray: the coder is applied beside the vectors
        apply = None
        if on_workers is not None:  # a saved coder's run brings no vector to the driver (fieldkit.scale.coder)
            embedder, vecs, apply = on_workers(texts, saved_model or model_id, reporter.child("embed"),
                                               need_vectors=saved is None)
        else:
            embedder, vecs = vectors(ds, col, texts, saved_model or model_id, reporter.child("embed"))
        vecs = np.asarray(vecs, dtype=np.float32) if vecs is not None else None
        empty = [t is None or not str(t).strip() for t in texts]
        notes: list[str] = []
        truncated = _truncated(ds, col, embedder)
        if truncated:
            from fieldkit.inference.manifest import get_entry

            limit = get_entry(embedder.model_id).max_tokens
            notes.append(f"{truncated:,} answer(s) were longer than the model reads"
                         f"{f' ({limit} tokens)' if limit else ''}: only their start was embedded and coded")
        if saved is not None:
            coder_file.check_model(saved, embedder)
            coder = saved
        else:
            if book is not None:
                unknown = sorted({c for codes in row_codes for c in codes} - set(book.codes))
                if unknown:
                    notes.append(f"{len(unknown)} code(s) in {named!r} are not in the codebook and "
                                 "were kept: " + ", ".join(unknown[:5]))
            seeds = _codebook_vectors(book, embedder) if book else {}
            if guide is not None:
                book, seeds = _taught_by(guide, embedder, book, seeds, vecs, row_codes, empty)
            coder = fit_coder(vecs, row_codes, embedder.model_id, codebook=book,
                              codebook_vectors=seeds or None, reporter=reporter,
                              spread=guide is None)
            if guide is not None:
                from fieldkit.analysis.merge_models import teacher_id

                coder.info["teacher"] = teacher_id(guide)
            coder.info["model_sha256"] = embedder.sha256
            if getattr(embedder, "graph_sha256", None):
                coder.info["graph_sha256"] = embedder.graph_sha256
        result = code_rows(vecs, row_codes, coder, empty=empty,
                           prediction=apply(coder, reporter.child("code")) if apply else None)
        picks = suggest_rows(result, suggest, texts) if suggest else []
    params = {"column": col, "labels": named, "separator": SEP,
              "codebook": str(codebook) if codebook is not None else None,
              "load_model": str(load_model) if load_model is not None else None,
              "teacher": str(teacher) if teacher is not None else None,
              "codes": coder.labels, "multi_code": coder.multi_code,
              "coded_answers": int(result.human.sum()), "truncated_answers": truncated,
              "calibration": coder.info.get("calibration"),
              "temperature": round(coder.temperature, 4)}
    step = mark_step(make_step("code", params, clock, embedder))  # names the engine when not local
    if saved is not None:
        step["parameters"].update({"model_choice": "saved coder",
                                   "model_reason": "the model the saved coder was trained on"})
    columns = {
        "code": pl.Series(result.code, dtype=pl.String),
        "code_score": pl.Series(np.round(result.score, 4), dtype=pl.Float64).fill_nan(None),
        "code_source": pl.Series(result.source, dtype=pl.String),
        "needs_review": pl.Series(result.needs_review.tolist(), dtype=pl.Boolean),
    }
    coded = Coded(result, coder, col, len(texts), embedder.model_id, result.summary(texts), picks,
                  texts, notes)
    return Result(coded, columns, step)
