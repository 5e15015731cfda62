"""The jobs the interface runs in worker threads: the CLI's pipelines, with the TUI's Reporter.

Heavy modules (onnxruntime, models, scikit-learn) are imported here, inside the functions,
so the interface starts fast and pays for a model only when the user first asks for one.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import polars as pl

from fieldkit.errors import UsageError
from fieldkit.progress import Reporter
from fieldkit.tui.model import ROW


def _require_text(ds, column: str) -> str:
    """The real column name; refuses a column that is not text before a model is loaded."""
    col = ds.require_column(column)
    dtype = ds.frame.collect_schema()[col]
    if dtype not in (pl.String, pl.Categorical) and not isinstance(dtype, pl.Enum):
        raise UsageError(f"column {col!r} is {dtype}, not text",
                         "select a text column (dtype str) with the arrow keys first")
    return col


# Every job below is the CLI's pipeline function (fieldkit.pipelines), called with the TUI's
# Reporter (progress to the job bar, its cancel Event from Esc): the same columns and the same
# provenance step come back, so a file saved here equals `fieldkit <job> -o` on the same data.


def embed(ds, column: str, reporter: Reporter, model: str | None = None):
    """pipelines.embed: the column's vectors, cached for later search/themes/dupes."""
    from fieldkit import pipelines

    return pipelines.embed(ds, _require_text(ds, column), model_id=model, reporter=reporter)


def semantic_search(ds, column: str, query: str, reporter: Reporter, top: int = 50,
                    model: str | None = None):
    """pipelines.search: the `top` rows closest in meaning to the query, best first."""
    from fieldkit import pipelines

    return pipelines.search(ds, _require_text(ds, column), query, top=top, model_id=model, reporter=reporter)


def hits_view(hits) -> pl.DataFrame:
    """Search hits as the table's restriction: ROW and score, best first."""
    return pl.DataFrame({ROW: pl.Series([h.row for h in hits], dtype=pl.Int64),
                         "score": pl.Series([h.score for h in hits], dtype=pl.Float32)})


def themes(ds, column: str, reporter: Reporter, k: int | None = None, model: str | None = None):
    """pipelines.themes: theme_id/theme_label/theme_score per row and the theme table."""
    from fieldkit import pipelines

    return pipelines.themes(ds, _require_text(ds, column), k=k, model_id=model, reporter=reporter)


def dupes(ds, column: str, reporter: Reporter, model: str | None = None):
    """pipelines.dupes: dup_group/dup_size per row (null for unique answers)."""
    from fieldkit import pipelines

    return pipelines.dupes(ds, _require_text(ds, column), model_id=model, reporter=reporter)


def dupes_view(columns: dict[str, Any]) -> pl.DataFrame:
    """The rows of duplicate groups as the table's restriction: largest groups first."""
    g = pl.DataFrame({"dup_group": columns["dup_group"], "dup_size": columns["dup_size"]})
    g = g.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    return (g.filter(pl.col("dup_group").is_not_null())
            .sort(["dup_size", "dup_group", ROW], descending=[True, False, False]))


def summarize(data, column: str | None, reporter: Reporter, by: str | None = None, mode: str = "auto",
              on_token: Callable[[str], None] | None = None, max_groups: int | None = None):
    """pipelines.summarize over the dataset (all rows), the frame of the rows in view, or a text file (no column)."""
    from fieldkit import pipelines

    return pipelines.summarize(data, column, by=by, mode=mode, max_groups=max_groups,
                               reporter=reporter, on_token=on_token)


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
    """pipelines.save_annotated: the frame (data + annotation columns) with the source's provenance."""
    from fieldkit.pipelines.core import save_annotated as save

    return save(dataset, {}, steps, target, reporter=reporter.child("saving", None), table=frame)


def embedding_models() -> list[str]:
    """Ids of the embedding models installed here, the default first."""
    from fieldkit.inference.manifest import all_entries, default_embedder_id
    from fieldkit.inference.model_store import is_installed

    default = default_embedder_id()
    entries = [e for e in all_entries() if e.task == "embed"]
    return [e.id for e in sorted(entries, key=lambda e: e.id != default) if is_installed(e)]


def choose_model(texts: list[str | None]) -> str:
    """The model the pipelines will pick for these texts (pipelines.resolve_model), to name it while it runs."""
    from fieldkit.pipelines import resolve_model

    return resolve_model(texts, None)


class Backend:
    """What the interface runs in its workers, one method per job; UI tests pass a fake with these methods."""

    embed = staticmethod(embed)
    search = staticmethod(semantic_search)
    themes = staticmethod(themes)
    dupes = staticmethod(dupes)
    summarize = staticmethod(summarize)
    analyse_log = staticmethod(analyse_log)
    summarize_log = staticmethod(summarize_log)
    save = staticmethod(save_annotated)
    embedding_models = staticmethod(embedding_models)
    choose_model = staticmethod(choose_model)
