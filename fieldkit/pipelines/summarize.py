"""The summarize job: a text file, a column of answers, or a column per group, in a few sentences."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from fieldkit.analysis.summarize import AUTO_MODE, MODES, Summary, summarize_texts
from fieldkit.errors import InputError, UsageError
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.core import Data, Result, dataset, make_step, text_column, timed
from fieldkit.pipelines.embed import vectors
from fieldkit.progress import Reporter

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
MISSING_GROUP = "(missing)"


@dataclass
class GroupSummary:
    group: str | None  # None when the whole column (or a document) was summarized
    n_rows: int
    summary: Summary


@dataclass
class Summaries:
    """One summary per group (or one for everything), in order: largest group first."""

    column: str | None
    by: str | None
    mode: str
    groups: list[GroupSummary] = field(default_factory=list)

    def table(self) -> pl.DataFrame:
        """group, n_rows, summary, mode, model: the rows of `summarize -o OUT.parquet`."""
        return pl.DataFrame(
            {"group": [g.group for g in self.groups], "n_rows": [g.n_rows for g in self.groups],
             "summary": [g.summary.text for g in self.groups], "mode": [g.summary.mode for g in self.groups],
             "model": [g.summary.model for g in self.groups]},
            schema={"group": pl.String, "n_rows": pl.Int64, "summary": pl.String, "mode": pl.String,
                    "model": pl.String})

    def markdown(self) -> str:
        parts = []
        for g in self.groups:
            head = f"## {self.by} = {g.group} ({g.n_rows:,} rows)\n\n" if self.by else ""
            parts.append(head + g.summary.text)
        return "\n\n".join(parts) + "\n"


def read_text_file(path: Path) -> str:
    """A text or Markdown file as text (UTF-8, else the detected encoding); refuses binaries."""
    from fieldkit.io.sniff import check_input_path

    if check_input_path(path) is None:
        raise InputError(f"{path} is a folder", "give a text or Markdown file, or a dataset with --column")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path.name} looks like a binary file, not text",
                         "give a .txt or .md file, or a dataset with --column")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is None:
            raise InputError(f"cannot tell the text encoding of {path.name}",
                             "save it as UTF-8 and try again") from None
        return str(best)


def _refuse_dataset_without_column(p: Path, sheet: str | None) -> None:
    """A dataset file given without a column: say which columns there are."""
    from fieldkit.io import load_dataset

    try:
        ds = load_dataset(p, sheet=sheet)
    except InputError:
        return  # not a dataset we know: treat it as text
    if ds.format in ("text", "log"):
        return
    cols = ", ".join(repr(c if len(c) <= 40 else c[:39] + "…") for c in ds.columns[:5])
    if len(ds.columns) > 5:
        cols += f" ... ({len(ds.columns)} columns; `fieldkit inspect {p}` lists them)"
    raise UsageError(f"{p.name} is a {ds.format} dataset; say which column to summarize",
                     f"add --column with one of: {cols}")


def summarize(data: Data, column: str | None = None, *, by: str | None = None, mode: str = "auto",
              sentences: int = 3, sheet: str | None = None, max_groups: int | None = None,
              reporter: Reporter | None = None,
              on_token: Callable[[str], None] | None = None) -> Result[Summaries]:
    """Summarize a document (`column` None: `data` is a text file), a column, or a column per `by` group.

    Groups come largest first (ties by name), all of them unless `max_groups`; extractive
    summaries of a column reuse the column's cached embeddings.
    """
    if mode not in MODES:
        raise UsageError(f"unknown summary mode {mode!r}", "use one of: " + ", ".join(MODES))
    reporter = reporter or Reporter("summarize")
    if column is None:
        if by:
            raise UsageError("--by needs --column", "for example --column answer --by region")
        return _document(data, mode, sentences, sheet, reporter, on_token)
    ds = dataset(data, sheet=sheet)
    col = text_column(ds, column)
    by_col = ds.require_column(by) if by else None
    out = Summaries(col, by_col, mode)
    embedder = None
    with timed() as clock:
        texts = ds.text_column(col).to_list()
        vecs = None
        if (AUTO_MODE if mode == "auto" else mode) == "extractive" and len(texts) > 1:
            embedder, vecs = vectors(ds, col, texts, None, reporter.child("embed"))
        if by_col is None:
            s = summarize_texts(texts, mode=mode, max_sentences=sentences, reporter=reporter,
                                on_token=on_token, embeddings=vecs)
            out.groups.append(GroupSummary(None, len(texts), s))
        else:
            _per_group(ds, by_col, texts, vecs, out, mode, sentences, max_groups, reporter, on_token)
    params = {"column": col, "by": by_col, "mode": mode, "sentences": sentences}
    return Result(out, {}, make_step("summarize", params, clock, _model(out, embedder)))


def _per_group(ds: Dataset, by_col: str, texts, vecs, out: Summaries, mode, sentences, max_groups,
               reporter: Reporter, on_token) -> None:
    groups = ds.read([by_col]).get_column(by_col).cast(pl.String).to_list()
    order: dict = {}
    for i, g in enumerate(groups):
        order.setdefault(g, []).append(i)
    ranked = sorted(order.items(), key=lambda kv: (-len(kv[1]), str(kv[0])))
    if mode in ("auto", "extractive") and len(ranked) > 1:
        _contrastive(groups, texts, vecs, ranked[:max_groups] if max_groups else ranked, by_col, out,
                     sentences, reporter, on_token)
        return
    for g, idx in ranked[:max_groups] if max_groups else ranked:
        reporter.check()
        name = MISSING_GROUP if g is None else g
        if on_token is not None:
            on_token(f"\n\n## {by_col} = {name} ({len(idx):,} rows)\n")
        s = summarize_texts([texts[i] for i in idx], mode=mode, max_sentences=sentences,
                            reporter=reporter, on_token=on_token,
                            embeddings=None if vecs is None else np.asarray(vecs)[idx])
        if on_token is not None and s.mode == "extractive":
            on_token(s.text)  # extractive summaries do not stream: show them whole
        out.groups.append(GroupSummary(name, len(idx), s))


def _contrastive(groups, texts, vecs, ranked, by_col: str, out: Summaries, sentences, reporter: Reporter,
                 on_token) -> None:
    """Per group, what its answers say more than the other groups' (themes with counts, words)."""
    from fieldkit.analysis.summary_groups import summarize_groups

    found = {gs.group: gs for gs in summarize_groups(
        texts, groups, k=sentences or 3, embeddings=None if vecs is None else np.asarray(vecs),
        reporter=reporter)}
    for g, idx in ranked:
        reporter.check()
        gs = found.get(g)
        text = gs.text if gs is not None else "- no answers in this group"
        s = Summary(text=text, mode="extractive", model=None,
                    units=tuple(d.answer for d in gs.distinct) if gs is not None else (),
                    notes=())
        if on_token is not None:
            on_token(f"\n\n## {by_col} = {MISSING_GROUP if g is None else g} ({len(idx):,} rows)\n{text}")
        out.groups.append(GroupSummary(MISSING_GROUP if g is None else g, len(idx), s))


def _document(data: Data, mode, sentences, sheet, reporter, on_token) -> Result[Summaries]:
    if not isinstance(data, (str, os.PathLike)):
        raise UsageError("summarizing without a column needs a text file", "give a column to summarize")
    p = Path(data)
    from fieldkit.io.sniff import check_input_path

    if p.suffix.lower() not in TEXT_SUFFIXES and check_input_path(p) is not None:
        _refuse_dataset_without_column(p, sheet)
    from fieldkit.analysis.markup import MARKUP_SUFFIXES, plain_paragraphs

    kind = MARKUP_SUFFIXES.get(p.suffix.lower())
    with timed() as clock:
        text = read_text_file(p)
        if kind:  # Markdown / reStructuredText: paragraphs, not lines; no code, tables or directives
            text = plain_paragraphs(text, kind)
        s = summarize_texts([text], mode=mode, max_sentences=sentences, reporter=reporter, on_token=on_token,
                            document=kind is not None)
    out = Summaries(None, None, mode, [GroupSummary(None, 1, s)])
    params = {"column": None, "by": None, "mode": mode, "sentences": sentences}
    return Result(out, {}, make_step("summarize", params, clock, _model(out, None)))


@dataclass
class _Ran:
    model_id: str | None
    sha256: str | None


def _model(out: Summaries, embedder) -> object | None:
    """The model that wrote the summaries (the generator) or picked them (the embedder), if any."""
    used = next((g.summary for g in out.groups if g.summary.model), None)
    if used is None:
        return embedder
    if used.mode == "extractive":
        from fieldkit.analysis.summary_vectors import MODEL_ID as TFIDF

        if used.model == TFIDF:  # a document's sentences compared by their words: no model ran
            return embedder
        from fieldkit.inference.embedder import get_embedder

        return embedder if embedder is not None else get_embedder(used.model)
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import read_prepared_meta

    meta = read_prepared_meta(get_entry(used.model).install_dir) or {}
    return _Ran(used.model, meta.get("source_sha256"))
