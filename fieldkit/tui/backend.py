"""Calls into the core analyses, run inside worker threads; results come back as plain data.

Heavy modules (onnxruntime, models, scikit-learn) are imported here, inside the functions,
so the interface starts fast and pays for a model only when the user first asks for one.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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


def embed(ds, column: str, reporter: Reporter, model: str | None = None) -> EmbedResult:
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.inference.embedder import get_embedder

    col = _require_text(ds, column)
    vecs = embed_column(ds, col, model, reporter=reporter)
    return EmbedResult(col, int(vecs.shape[0]), int(vecs.shape[1]), get_embedder(model).model_id)


@dataclass
class SearchResult:
    hits: pl.DataFrame  # ROW, score (best first)
    model: str


def semantic_search(ds, column: str, query: str, reporter: Reporter, top: int = 50,
                    model: str | None = None) -> SearchResult:
    """Rows ranked by cosine similarity to the query, with the model that ranked them."""
    from fieldkit import pipelines

    col = _require_text(ds, column)
    r = pipelines.search(ds, col, query, top=top, model_id=model, reporter=reporter)
    hits = r.outcome
    frame = pl.DataFrame({ROW: pl.Series([h.row for h in hits], dtype=pl.Int64),
                          "score": pl.Series([h.score for h in hits], dtype=pl.Float32)})
    return SearchResult(frame, r.step["model"])


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
    row_ids: dict[int, int]          # row -> theme id (-1 = other)
    scores: dict[int, float] = field(default_factory=dict)
    model: str | None = None
    model_sha256: str | None = None
    k: int | None = None  # the number of clusters (as the CLI records it; "other" not counted)


def themes(ds, column: str, reporter: Reporter, k: int | None = None, model: str | None = None) -> ThemesResult:
    """Embed the column (cached), cluster it, and return themes with sizes, keywords and samples."""
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.themes import find_themes

    col = _require_text(ds, column)
    texts = ds.text_column(col).to_list()
    vecs = embed_column(ds, col, model, reporter=reporter.child(f"embedding {col}"))
    result = find_themes(texts, vecs, k=k, reporter=reporter.child("themes"))
    row_ids: dict[int, int] = {}
    scores: dict[int, float] = {}
    for r, (t, sc) in enumerate(zip(result.theme_id.tolist(), result.theme_score.tolist())):
        row_ids[r] = int(t)
        if sc == sc:  # not NaN
            scores[r] = float(sc)
    infos = [ThemeInfo(t.id, t.label, t.size, list(t.keywords), list(t.examples)) for t in result.themes]
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder(model)
    return ThemesResult(col, infos, row_ids, scores, emb.model_id, emb.sha256, result.k)


def dupes(ds, column: str, reporter: Reporter, model: str | None = None) -> pl.DataFrame:
    """Rows that belong to a duplicate group: ROW, dup_group, dup_size (largest groups first)."""
    from fieldkit.analysis.dupes import find_duplicates
    from fieldkit.analysis.embeddings import embed_column

    col = _require_text(ds, column)
    texts = ds.text_column(col).to_list()
    vecs = embed_column(ds, col, model, reporter=reporter.child(f"embedding {col}"))
    r = find_duplicates(texts, vecs, reporter=reporter.child("duplicates"))
    g = pl.DataFrame({ROW: np.arange(len(texts), dtype=np.int64), "dup_group": r.dup_group,
                      "dup_size": r.dup_size})
    return (g.filter(pl.col("dup_group") >= 0)
            .sort(["dup_size", "dup_group", ROW], descending=[True, False, False]))


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


# ---- logs -------------------------------------------------------------------------------------

SPARK_BINS = 24


@dataclass
class LogResult:
    lines: pl.DataFrame       # line_no, timestamp, level, header columns found, template_id, message, params
    templates: pl.DataFrame   # template_id, template, count, level, spark
    span: str
    digest: Any               # fieldkit.analysis.logs.Digest
    digest_md: str            # the Markdown digest the CLI prints


LINE_COLUMNS = ("line_no", "timestamp", "level", "host", "process", "pid", "component")


def analyse_log(path, reporter: Reporter) -> LogResult:
    """Read a log, mine its templates, and count each template over time (for sparklines)."""
    from fieldkit.analysis.logs import annotate, build_digest, default_miner, digest_markdown
    from fieldkit.io.logs import scan_log
    from fieldkit.tui.model import sparkline

    reporter.update(0, "reading")
    frame = scan_log(path, reporter=reporter).collect()
    reporter.update(frame.height, "finding templates")
    miner = default_miner()  # the settings `fieldkit logs` uses
    ids = miner.add_messages(frame.get_column("message"))
    table = miner.table()
    header = [c for c in LINE_COLUMNS if c in frame.columns]
    # final ids (templates may have merged) and each line's params, as `fieldkit logs` writes them
    lines = annotate(frame.select(*header, "message").with_columns(ids.alias("template_id")), miner,
                     dict(zip(table["template_id"].to_list(), table["template"].to_list())))
    lines = lines.select(*header, "template_id", "message", "params")
    levels = (lines.group_by("template_id", "level").len().sort("len", descending=True)
              .group_by("template_id", maintain_order=True).first().select("template_id", "level"))
    ts = lines.get_column("timestamp")
    spark: dict[int, str] = {}
    span = ""
    if ts.null_count() < len(ts):
        lo, hi = ts.min(), ts.max()
        span = f"{lo:%Y-%m-%d %H:%M} → {hi:%Y-%m-%d %H:%M}"
        width = (hi - lo).total_seconds() or 1.0
        binned = (lines.filter(pl.col("timestamp").is_not_null())
                  .with_columns(((pl.col("timestamp") - lo).dt.total_seconds() / width * SPARK_BINS)
                                .floor().clip(0, SPARK_BINS - 1).cast(pl.Int32).alias("bin"))
                  .group_by("template_id", "bin").len())
        for tid, sub in binned.group_by("template_id"):
            counts = [0] * SPARK_BINS
            for b, c in sub.select("bin", "len").iter_rows():
                counts[b] = c
            spark[int(tid[0])] = sparkline(counts)
    templates = (table.join(levels, on="template_id", how="left")
                 .with_columns(pl.col("template_id").replace_strict(spark, default="", return_dtype=pl.String)
                               .alias("spark"))
                 .sort("count", descending=True))
    if "process" in lines.columns:  # the process most lines of a template come from, shown beside it
        procs = (lines.filter(pl.col("process").is_not_null()).group_by("template_id", "process").len()
                 .sort("len", descending=True).group_by("template_id", maintain_order=True)
                 .agg(pl.col("process").first(), pl.col("process").n_unique().alias("processes")))
        templates = templates.join(procs, on="template_id", how="left")
    reporter.check()
    d = build_digest(lines.lazy(), table, [Path(path).name])
    return LogResult(lines, templates, span, d, digest_markdown(d))


def summarize_log(result: LogResult, reporter: Reporter,
                  on_token: Callable[[str], None] | None = None) -> str:
    """The log summary from the digest; model tokens stream in as a draft, checked against it."""
    from fieldkit.analysis.logs import summarize_digest

    text, how = summarize_digest(result.digest, use_model=True, on_token=on_token, cancel=reporter.cancel)
    return f"{text}\n\n({how})"


# ---- saving and models ----------------------------------------------------------------------------


def save_annotated(dataset, frame, steps: list[dict[str, Any]], target: Path, reporter: Reporter) -> Path:
    """Write data + annotations with provenance through the store (atomic; a Parquet source's steps kept)."""
    from fieldkit.store import make_provenance, read_provenance, write_frame

    previous = read_provenance(dataset.path) if dataset.format == "parquet" else None
    prov = make_provenance(None if previous else dataset.source_info(), steps, previous)
    return write_frame(frame, target, prov, reporter=reporter.child("saving", None))


def embedding_models() -> list[str]:
    """Ids of the embedding models installed here, the default first."""
    from fieldkit.inference.manifest import all_entries, default_embedder_id
    from fieldkit.inference.model_store import is_installed

    default = default_embedder_id()
    entries = [e for e in all_entries() if e.task == "embed"]
    return [e.id for e in sorted(entries, key=lambda e: e.id != default) if is_installed(e)]


def choose_model(texts: list[str], installed: list[str]) -> str | None:
    """The model for these texts: multilingual when they are not mostly English and it is installed.

    The one seam where the interface picks a model; None means the store's default.
    """
    if not installed:
        return None
    multi = next((m for m in installed if "multilingual" in m), None)
    if multi is not None and english_share(texts) < 0.5:
        return multi
    return installed[0]


def english_share(texts: list[str], sample: int = 400) -> float:
    """Share of the texts (that show a language) written in English: script, then stop-word votes."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from fieldkit.analysis.keywords import _WORD, _other_language_stop_words

    others = _other_language_stop_words()
    english = other = 0
    for text in texts[:sample]:
        letters = [c for c in text or "" if c.isalpha()]
        if not letters:
            continue
        if sum(c > "\u024f" for c in letters) > len(letters) / 2:  # beyond Latin: CJK, Arabic, Cyrillic...
            other += 1
            continue
        toks = [w.lower() for w in _WORD.findall(text)]
        en = sum(w in ENGLISH_STOP_WORDS for w in toks)
        oth = max((sum(w in words for w in toks) for words in others.values()), default=0)
        english += en > oth
        other += oth > en
    return english / (english + other) if english + other else 1.0


class Backend:
    """What the interface runs in its workers, one method per job; UI tests pass a fake with these methods."""

    embed = staticmethod(embed)
    search = staticmethod(semantic_search)
    themes = staticmethod(themes)
    dupes = staticmethod(dupes)
    summarize = staticmethod(summarize)
    summarize_groups = staticmethod(summarize_groups)
    analyse_log = staticmethod(analyse_log)
    summarize_log = staticmethod(summarize_log)
    save = staticmethod(save_annotated)
    embedding_models = staticmethod(embedding_models)
    choose_model = staticmethod(choose_model)
