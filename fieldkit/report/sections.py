"""The numbers of each section, computed with Polars expressions over a lazy frame.

Why lazy and aggregated first: a report of a million coded answers reads only the columns it
needs, and every chart and table is drawn from small grouped frames, never from the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import polars as pl

from fieldkit.report.model import Chart, Section, Table
from fieldkit.report.words import Words

MAX_BARS = 20  # categories in a bar chart
MAX_SERIES = 8  # stacked series / lines before the rest are put together
MAX_GROUPS = 12  # --by groups in a chart
MAX_ROWS = 100  # rows in a table
EXAMPLES = 3
EXAMPLE_CHARS = 160


@dataclass
class Labels:
    """Form labels in the report's language: column -> question label, (column, value) -> choice label."""

    columns: dict[str, str] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def value(self, column: str, value: Any) -> str:
        text = "" if value is None else str(value)
        return self.choices.get(column, {}).get(text, text)


def pct(x: float) -> str:
    return f"{x:.1%}"


def _clip(text: Any, n: int = EXAMPLE_CHARS) -> str:
    s = " ".join(str(text).split()) if text is not None else ""
    return s if len(s) <= n else s[:n - 1] + "…"


def _examples(lf: pl.LazyFrame, key: str, text: str | None, score: str | None,
              per: int = EXAMPLES) -> dict[Any, list[str]]:
    """key -> up to `per` answers (the highest-scoring first when a score column exists)."""
    if text is None:
        return {}
    q = lf.select(pl.col(key), pl.col(text).cast(pl.String).alias("_t"),
                  *([pl.col(score)] if score else [])).filter(
        pl.col("_t").str.strip_chars().str.len_chars() > 0)
    if score:
        q = q.sort(score, descending=True, nulls_last=True)
    q = q.with_columns(pl.col("_t").str.strip_chars().str.to_lowercase().alias("_u")).unique(
        [key, "_u"], keep="first", maintain_order=True)  # "Versatility" three times says nothing
    got = q.group_by(key, maintain_order=True).head(per).collect()
    out: dict[Any, list[str]] = {}
    for k, t in zip(got[key].to_list(), got["_t"].to_list()):
        out.setdefault(k, []).append(_clip(t))
    return out


def shares_section(lf: pl.LazyFrame, *, kind: str, key: str, w: Words, by: str | None,
                   text: str | None, score: str | None, labels: Labels,
                   extra_columns: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
                   total: int | None = None) -> Section:
    """Share of each category of `key` (themes, codes), overall and per `by` group, with examples."""
    what = w("theme" if kind == "themes" else "code")
    counts = (lf.group_by(key).agg(pl.len().alias("n")).filter(pl.col(key).is_not_null())
              .sort(["n", key], descending=[True, False]).collect())
    if total is None:
        total = int(lf.select(pl.len()).collect().item())
    sec = Section(kind, w(kind))
    if counts.is_empty():
        sec.summary.append(w("no_data"))
        return sec
    counts = counts.with_columns((pl.col("n") / total).alias("share"))
    head = counts.head(MAX_BARS)
    sec.blocks.append(Chart(w("share_overall", what=what), "barh",
                            categories=[str(c) for c in head[key].to_list()],
                            values=head["share"].to_list(), percent=True))
    ex = _examples(lf, key, text, score)
    rows = []
    extra = extra_columns(counts) if extra_columns else None
    extra_cols = [c for c in (extra.columns if extra is not None else []) if c != key]
    extra_by = ({r[key]: r for r in extra.iter_rows(named=True)} if extra is not None else {})
    for k, n, share in counts.head(MAX_ROWS).iter_rows():
        more = [extra_by.get(k, {}).get(c) for c in extra_cols]
        rows.append([str(k), n, pct(share), *more, " · ".join(ex.get(k, []))])
    sec.blocks.append(Table(w("table"), [what, w("answers"), w("share"), *extra_cols,
                                         w("examples")], rows, counts.height))
    if by:
        sec.blocks.extend(_by_group(lf, key, by, w, what, labels))
    return sec


def _by_group(lf: pl.LazyFrame, key: str, by: str, w: Words, what: str, labels: Labels) -> list:
    """A stacked chart of shares per group (largest groups) and the same shares as a table."""
    grouped = (lf.select(pl.col(by).cast(pl.String).fill_null("∅").alias("_g"), pl.col(key))
               .filter(pl.col(key).is_not_null())
               .group_by("_g", key).agg(pl.len().alias("n")).collect())
    sizes = grouped.group_by("_g").agg(pl.col("n").sum().alias("size")).sort(
        ["size", "_g"], descending=[True, False])
    top_keys = (grouped.group_by(key).agg(pl.col("n").sum()).sort(["n", key], descending=[True, False])
                [key].head(MAX_SERIES).to_list())
    rest = w("other") + " …"
    g = grouped.with_columns(pl.when(pl.col(key).is_in(top_keys)).then(pl.col(key).cast(pl.String))
                             .otherwise(pl.lit(rest)).alias("_k"))
    wide = (g.group_by("_g", "_k").agg(pl.col("n").sum())
            .join(sizes, on="_g").with_columns((pl.col("n") / pl.col("size")).alias("share")))
    groups = sizes["_g"].to_list()
    order = [str(k) for k in top_keys] + ([rest] if rest in set(wide["_k"].to_list()) else [])
    lookup = {(a, b): s for a, b, s in wide.select("_g", "_k", "share").iter_rows()}
    shown = groups[:MAX_GROUPS]
    chart = Chart(w("share_by", what=what, by=labels.column(by)), "stacked",
                  categories=[labels.value(by, x) for x in shown],
                  series={k: [lookup.get((gname, k), 0.0) for gname in shown] for k in order},
                  percent=True)
    size_of = dict(sizes.iter_rows())
    rows = [[labels.value(by, gname), size_of[gname], *[pct(lookup.get((gname, k), 0.0)) for k in order]]
            for gname in groups[:MAX_ROWS]]
    return [chart, Table(w("share_by", what=what, by=labels.column(by)),
                         [labels.column(by), w("answers"), *order], rows, len(groups))]


def themes_section(lf, w: Words, by: str | None, text: str | None, labels: Labels) -> Section:
    """Share of each theme (the `other` theme, id -1, named in the report's language)."""
    lf = lf.with_columns(pl.when(pl.col("theme_id") < 0).then(pl.lit(w("other")))
                         .otherwise(pl.col("theme_label").cast(pl.String)).alias("_theme"))
    score = "theme_score" if "theme_score" in lf.collect_schema().names() else None
    sec = shares_section(lf, kind="themes", key="_theme", w=w, by=by, text=text, score=score,
                         labels=labels)
    return sec


def codes_section(lf, w: Words, by: str | None, text: str | None, labels: Labels,
                  sep: str = ";") -> Section:
    """Share of each code (an answer with several codes counts for each), who coded it, confidence."""
    names = lf.collect_schema().names()
    src = pl.col("code_source") if "code_source" in names else pl.lit(None, pl.String)
    review = (pl.col("needs_review").fill_null(False) if "needs_review" in names
              else pl.lit(False))
    base = lf.select(pl.col("code").cast(pl.String).str.split(sep).alias("_code"),
                     pl.col("code_score"), src.alias("_src"), review.alias("_review"),
                     *([pl.col(text)] if text else []),
                     *([pl.col(by)] if by else []))
    total = int(lf.select(pl.len()).collect().item())
    exploded = base.explode("_code").with_columns(pl.col("_code").str.strip_chars())
    exploded = exploded.with_columns(pl.when(pl.col("_code") == "").then(None)
                                     .otherwise(pl.col("_code")).alias("_code"))

    def who(counts: pl.DataFrame) -> pl.DataFrame:
        return (exploded.group_by("_code").agg(
            (pl.col("_src") == "human").sum().alias(w("human")),
            (pl.col("_src") == "model").sum().alias(w("model")),
            pl.col("code_score").filter(pl.col("_src") == "model").mean().round(3).alias(w("mean_score")),
            pl.col("_review").sum().alias(w("needs_review"))).collect())

    sec = shares_section(exploded, kind="codes", key="_code", w=w, by=by, text=text,
                         score="code_score", labels=labels, extra_columns=who, total=total)
    stats = (exploded.filter(pl.col("_code").is_not_null()).group_by("_code").agg(
        (pl.col("_src") == "human").sum().alias("h"),
        ((pl.col("_src") == "model") & ~pl.col("_review")).sum().alias("m"),
        ((pl.col("_src") == "model") & pl.col("_review")).sum().alias("r"),
        pl.len().alias("n")).sort(["n", "_code"], descending=[True, False]).head(MAX_BARS).collect())
    if stats.height:
        sec.blocks.insert(2, Chart(w("who_coded"), "stacked", categories=stats["_code"].to_list(),
                                   series={w("human"): stats["h"].to_list(),
                                           w("model"): stats["m"].to_list(),
                                           w("needs_review"): stats["r"].to_list()}))
    scores = base.filter(pl.col("_src") == "model").select(pl.col("code_score").drop_nulls()).collect()
    if scores.height:
        sec.blocks.insert(3, Chart(w("confidence"), "hist", values=scores["code_score"].to_numpy(),
                                   x=[0.0, 1.0], xlabel=w("confidence_axis")))
    n_review = int(base.select(pl.col("_review").sum()).collect().item())
    sec.summary.append(f"{w('needs_review')}: {n_review:,} / {total:,}")
    return sec


def dupes_section(lf, w: Words, text: str | None) -> Section:
    """How many answers repeat, and the largest groups of duplicates with one example each."""
    sizes = (lf.filter(pl.col("dup_group").is_not_null()).group_by("dup_group")
             .agg(pl.len().alias("n")).filter(pl.col("n") > 1)
             .sort(["n", "dup_group"], descending=[True, False]).collect())
    sec = Section("dupes", w("dupes"))
    sec.summary.append(w("dup_summary", rows=f"{int(sizes['n'].sum()):,}", groups=f"{sizes.height:,}"))
    if sizes.height:
        head = sizes.head(MAX_BARS)
        ex = _examples(lf, "dup_group", text, None, per=1)
        sec.blocks.append(Chart(w("dup_groups"), "barh",
                                categories=[f"#{g}: {(ex.get(g) or [''])[0]}" for g in head["dup_group"]],
                                values=head["n"].to_list()))
        sec.blocks.append(Table(w("dup_groups"), [w("dup_group"), w("size"), w("examples")],
                                [[g, n, (ex.get(g) or [""])[0]] for g, n in sizes.head(MAX_ROWS).iter_rows()],
                                sizes.height))
    return sec
