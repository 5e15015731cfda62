"""One chart of what a screen shows: a column's distribution, theme shares, a template's timeline.

Why in the core: the terminal chart (TUI) and any notebook get the same numbers from the
same `Chart` model the report draws, and tests check them without a terminal.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fieldkit.report.model import Chart

TOP_VALUES = 15
HIST_BINS = 20


def column_chart(frame: pl.LazyFrame | pl.DataFrame, column: str) -> Chart:
    """Numbers: a histogram; times: rows per day (or hour); anything else: its most common values."""
    lf = frame.lazy()
    dtype = lf.collect_schema()[column]
    col = pl.col(column)
    if dtype.is_numeric() and dtype != pl.Boolean:
        values = lf.select(col.cast(pl.Float64)).drop_nulls().drop_nans().collect().to_series()
        return Chart(f"{column}: {values.len():,} values", "hist", values=values.to_numpy())
    if dtype.is_temporal():
        lo, hi = lf.select(col.min(), col.max().alias("_hi")).collect().row(0)
        if lo is None:
            return Chart(f"{column}: no values", "barh")
        hourly = dtype != pl.Date and hasattr(lo, "hour") and (hi - lo).total_seconds() < 3 * 86400
        every = "1h" if hourly else "1d"
        per = (lf.select(col.dt.truncate(every).alias("_t")).drop_nulls().group_by("_t").len()
               .sort("_t").collect())
        what = "hour" if hourly else "day"
        return Chart(f"{column}: rows per {what}", "timebars", x=per["_t"].to_list(),
                     values=per["len"].to_list())
    if isinstance(dtype, (pl.List, pl.Array)):
        lf, col = lf.select(col.explode()), pl.col(column)
    counts = (lf.select(col.cast(pl.String)).group_by(column).len()
              .sort(["len", column], descending=[True, False], nulls_last=True).collect())
    head = counts.head(TOP_VALUES)
    return Chart(f"{column}: {counts.height:,} distinct values (top {head.height})", "barh",
                 categories=["∅" if v is None else str(v) for v in head[column].to_list()],
                 values=head["len"].to_list())


def theme_chart(labels: dict[int, str], row_themes: Any, total: int | None = None) -> Chart:
    """Share of rows per theme (id -1 is "other"), largest first."""
    s = pl.Series("t", list(row_themes) if not isinstance(row_themes, pl.Series) else row_themes)
    counts = s.value_counts(sort=True).rename({"t": "theme", "count": "n"})
    n = total or s.len()
    cats, vals = [], []
    for tid, c in counts.sort(["n", "theme"], descending=[True, False]).head(TOP_VALUES).iter_rows():
        cats.append("other" if tid is None or tid < 0 else labels.get(int(tid), str(tid)))
        vals.append(c / n if n else 0.0)
    return Chart("share of rows per theme", "barh", categories=cats, values=vals, percent=True)


def template_timeline(lines: pl.DataFrame | pl.LazyFrame, template_id: int,
                      template: str | None = None) -> Chart:
    """Lines of one template per time bucket (the logs digest's bucket rule)."""
    from fieldkit.analysis.logs import _pick_bucket

    lf = lines.lazy().filter(pl.col("template_id") == template_id)
    title = f"template {template_id}" + (f": {template}" if template else "")
    if "timestamp" not in lf.collect_schema().names():
        return Chart(title + " (no timestamps)", "timebars")
    lo, hi = lf.select(pl.col("timestamp").min(), pl.col("timestamp").max().alias("_hi")).collect().row(0)
    bucket = _pick_bucket(lo, hi)
    if bucket is None:
        return Chart(title + " (no timestamps)", "timebars")
    name, secs = bucket
    per = (lf.select(pl.col("timestamp").dt.truncate(f"{secs}s").alias("_t")).drop_nulls()
           .group_by("_t").len().sort("_t").collect())
    xs = pl.datetime_range(per["_t"].min(), per["_t"].max(), f"{secs}s", eager=True).to_list()
    look = dict(per.iter_rows())
    return Chart(f"{title} — lines per {name}", "lines", x=xs, series={"lines": [look.get(x, 0) for x in xs]})
