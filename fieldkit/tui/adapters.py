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
    row_ids: dict[int, int]          # row -> theme id (-1 = other)
    scores: dict[int, float] = field(default_factory=dict)
    model: str | None = None
    model_sha256: str | None = None


def themes(ds, column: str, reporter: Reporter, k: int | None = None) -> ThemesResult:
    """Embed the column (cached), cluster it, and return themes with sizes, keywords and samples."""
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.themes import find_themes

    col = _require_text(ds, column)
    texts = ds.text_column(col).to_list()
    vecs = embed_column(ds, col, reporter=reporter.child(f"embedding {col}"))
    result = find_themes(texts, vecs, k=k, reporter=reporter.child("themes"))
    row_ids: dict[int, int] = {}
    scores: dict[int, float] = {}
    for r, (t, sc) in enumerate(zip(result.theme_id.tolist(), result.theme_score.tolist())):
        row_ids[r] = int(t)
        if sc == sc:  # not NaN
            scores[r] = float(sc)
    infos = [ThemeInfo(t.id, t.label, t.size, list(t.keywords), list(t.examples)) for t in result.themes]
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder()
    return ThemesResult(col, infos, row_ids, scores, emb.model_id, emb.sha256)


def dupes(ds, column: str, reporter: Reporter) -> pl.DataFrame:
    """Rows that belong to a duplicate group: ROW, dup_group, dup_size (largest groups first)."""
    from fieldkit.analysis.dupes import find_duplicates
    from fieldkit.analysis.embeddings import embed_column

    col = _require_text(ds, column)
    texts = ds.text_column(col).to_list()
    vecs = embed_column(ds, col, reporter=reporter.child(f"embedding {col}"))
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
    lines: pl.DataFrame       # line_no, timestamp, level, template_id, message
    templates: pl.DataFrame   # template_id, template, count, level, spark
    digest: str
    span: str
    digest_obj: Any = None    # fieldkit.analysis.logs.Digest, when that module is present
    digest_md: str = ""       # the full Markdown digest from fieldkit.analysis.logs


def analyse_log(path, reporter: Reporter) -> LogResult:
    """Read a log, mine its templates, and count each template over time (for sparklines)."""
    from fieldkit.analysis.logtemplates import TemplateMiner
    from fieldkit.io.logs import scan_log
    from fieldkit.tui.model import sparkline

    reporter.update(0, "reading")
    frame = scan_log(path, reporter=reporter).collect()
    reporter.update(frame.height, "finding templates")
    miner = TemplateMiner()
    ids = miner.add_messages(frame.get_column("message"))
    lines = frame.select("line_no", "timestamp", "level", "message").with_columns(ids.alias("template_id"))
    lines = lines.select("line_no", "timestamp", "level", "template_id", "message")
    table = miner.table()
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
    reporter.check()
    try:
        from fieldkit.analysis.logs import build_digest, digest_markdown
    except ImportError:
        return LogResult(lines, templates, log_digest(lines, templates, span), span)
    d = build_digest(lines.lazy(), table, [Path(path).name])
    return LogResult(lines, templates, log_digest(lines, templates, span), span, d, digest_markdown(d))


def log_digest(lines: pl.DataFrame, templates: pl.DataFrame, span: str) -> str:
    """A plain digest: size, span, levels, the most frequent and the rare templates, problems."""
    out = [f"{lines.height:,} records, {templates.height:,} templates" + (f", {span}" if span else "")]
    lv = lines.group_by("level").len().sort("len", descending=True)
    if lv.height:
        out.append("levels: " + ", ".join(f"{l or '-'} {n:,}" for l, n in lv.iter_rows()))
    out.append("")
    out.append("most frequent:")
    for r in templates.head(5).iter_rows(named=True):
        out.append(f"  {r['count']:>6,}  {r['template'][:90]}")
    bad = templates.filter(pl.col("level").is_in(["ERROR", "FATAL", "CRITICAL", "SEVERE", "WARN", "WARNING"]))
    if bad.height:
        out.append("")
        out.append("warnings and errors:")
        for r in bad.head(8).iter_rows(named=True):
            out.append(f"  {r['count']:>6,}  [{r['level']}] {r['template'][:80]}")
    rare = templates.filter(pl.col("count") <= 2)
    if rare.height:
        out.append("")
        out.append(f"rare ({rare.height:,} templates seen at most twice):")
        for r in rare.head(5).iter_rows(named=True):
            out.append(f"  {r['count']:>6,}  {r['template'][:90]}")
    return "\n".join(out)


def summarize_log(path, result: LogResult, reporter: Reporter,
                  on_token: Callable[[str], None] | None = None) -> str:
    """The log summary: the logs package's summarizer when present, else the templates summarized."""
    if result.digest_obj is not None:
        from fieldkit.analysis.logs import summarize_digest

        # model tokens stream in as a draft; the core keeps only sentences the digest supports
        text, how = summarize_digest(result.digest_obj, use_model=True, on_token=on_token, cancel=reporter.cancel)
        return f"{text}\n\n({how})"
    text = plain_log_summary(result)
    if on_token:
        on_token(text)
    return text


def plain_log_summary(result: LogResult) -> str:
    """A few plain sentences from the counts: span, levels, main events, problems, rare events."""
    lines, t = result.lines, result.templates
    n = lines.height
    if n == 0:
        return "The log is empty."
    out = [f"{n:,} records in {t.height:,} kinds of message" + (f", {result.span}." if result.span else ".")]
    lv = lines.group_by("level").len().sort("len", descending=True)
    if lv.height and lv["level"].null_count() < lv.height:
        out.append("Levels: " + ", ".join(f"{l or 'none'} {c / n:.0%}" for l, c in lv.iter_rows()) + ".")
    top = [f"“{r['template'][:70]}” ({r['count'] / n:.0%})" for r in t.head(3).iter_rows(named=True)]
    out.append("Most lines are " + "; ".join(top) + ".")
    bad = t.filter(pl.col("level").is_in(["ERROR", "FATAL", "CRITICAL", "SEVERE", "WARN", "WARNING"]))
    if bad.height:
        b = bad.row(0, named=True)
        out.append(f"{int(bad['count'].sum()):,} warning/error lines in {bad.height} kind(s); the most common is "
                   f"“{b['template'][:80]}” ({b['count']:,} lines, {b['level']}).")
    else:
        out.append("No warnings or errors.")
    rare = t.filter(pl.col("count") == 1)
    if rare.height:
        out.append(f"{rare.height} message kind(s) occur only once, e.g. “{rare['template'][0][:70]}”.")
    return " ".join(out)
