"""Sections over submissions and events: data checks, log lines in time, survey submissions.

Why one bucket rule: log timelines use the same bucket choice as the logs digest
(`fieldkit.analysis.logs`, at most 48 buckets), so the report and `fieldkit logs` agree.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fieldkit.report.model import Chart, Section, Table
from fieldkit.report.sections import MAX_BARS, MAX_ROWS, MAX_SERIES, Labels, _clip
from fieldkit.report.words import Words

MAX_ENUMERATORS = 15


def checks_section(lf: pl.LazyFrame, w: Words, labels: Labels) -> Section:
    """Findings per check (with submissions touched) and per enumerator (stacked by check)."""
    names = lf.collect_schema().names()
    sec = Section("checks", w("checks"))
    by_check = (lf.group_by("check").agg(
        pl.len().alias("n"), pl.col("uuid").n_unique().alias("subs"),
        pl.col("severity").drop_nulls().mode().first().alias("sev"))
        .sort(["n", "check"], descending=[True, False]).collect())
    total = int(by_check["n"].sum())
    sec.summary.append(f"{w('findings')}: {total:,}")
    if not total:
        return sec
    sec.blocks.append(Chart(w("findings_by_check"), "barh", categories=by_check["check"].to_list(),
                            values=by_check["n"].to_list()))
    sec.blocks.append(Table(w("findings_by_check"), [w("check"), w("severity"), w("findings"),
                                                      w("submissions")],
                            [[c, s, n, u] for c, n, u, s in by_check.iter_rows()], by_check.height))
    if "enumerator" in names:
        per = (lf.filter(pl.col("enumerator").is_not_null())
               .group_by("enumerator", "check").agg(pl.len().alias("n")).collect())
        if per.height:
            tot = (per.group_by("enumerator").agg(pl.col("n").sum().alias("t"))
                   .sort(["t", "enumerator"], descending=[True, False]))
            top = tot["enumerator"].head(MAX_ENUMERATORS).to_list()
            checks = by_check["check"].to_list()
            look = {(e, c): n for e, c, n in per.iter_rows()}
            sec.blocks.append(Chart(w("findings_by_enum"), "stacked",
                                    categories=[str(e) for e in top],
                                    series={c: [look.get((e, c), 0) for e in top] for c in checks
                                            if any(look.get((e, c)) for e in top)}))
            subs = dict(lf.filter(pl.col("enumerator").is_not_null()).group_by("enumerator")
                        .agg(pl.col("uuid").n_unique()).collect().iter_rows())
            rows = [[str(e), t, subs.get(e, 0), *[look.get((e, c), 0) for c in checks]]
                    for e, t in tot.head(MAX_ROWS).iter_rows()]
            sec.blocks.append(Table(w("findings_by_enum"),
                                    [w("enumerator"), w("findings"), w("submissions"), *checks],
                                    rows, tot.height))
    if "column" in names:
        per_q = (lf.filter(pl.col("column").is_not_null() & (pl.col("column") != ""))
                 .group_by("column").agg(pl.len().alias("n"),
                                         pl.col("check").unique().sort().str.join(", ").alias("c"))
                 .sort(["n", "column"], descending=[True, False]).collect())
        if per_q.height:
            sec.blocks.append(Table(w("findings_by_column"),
                                    [w("question"), w("label"), w("findings"), w("check")],
                                    [[q, labels.column(q) if labels.column(q) != q else "", n, c]
                                     for q, n, c in per_q.head(MAX_ROWS).iter_rows()], per_q.height))
    return sec


def _bucket(lf: pl.LazyFrame, col: str) -> tuple[str, int] | None:
    from fieldkit.analysis.logs import _pick_bucket

    lo, hi = lf.select(pl.col(col).min().alias("lo"), pl.col(col).max().alias("hi")).collect().row(0)
    return _pick_bucket(lo, hi)


def _timeline(lf: pl.LazyFrame, col: str, series: str, secs: int, keep: list[Any]
              ) -> tuple[list[Any], dict[str, list[int]]]:
    """Counts per time bucket for each value of `series` in `keep`, zero-filled over the whole span."""
    t = pl.col(col).dt.truncate(f"{secs}s").alias("_t")
    got = (lf.filter(pl.col(col).is_not_null() & pl.col(series).is_in(keep))
           .group_by(t, pl.col(series)).agg(pl.len().alias("n")).collect())
    span = lf.select(pl.col(col).dt.truncate(f"{secs}s").min().alias("a"),
                     pl.col(col).dt.truncate(f"{secs}s").max().alias("b")).collect().row(0)
    if span[0] is None:
        return [], {}
    xs = pl.datetime_range(span[0], span[1], f"{secs}s", eager=True).to_list()
    look = {(a, b): n for a, b, n in got.iter_rows()}
    return xs, {str(k): [look.get((x, k), 0) for x in xs] for k in keep}


def logs_section(lf: pl.LazyFrame, w: Words, baseline: pl.DataFrame | None) -> Section:
    """Lines per level in time, the error templates' timelines and table, new templates."""
    from fieldkit.analysis.logs import ERROR_LEVELS, PROBLEM_RE

    sec = Section("logs", w("logs"))
    lf = lf.with_columns(pl.col("level").cast(pl.String).fill_null("—"))
    total = int(lf.select(pl.len()).collect().item())
    sec.summary.append(f"{w('lines')}: {total:,}")
    bucket = _bucket(lf, "timestamp")
    levels = (lf.group_by("level").agg(pl.len().alias("n")).sort(["n", "level"], descending=[True, False])
              .collect())
    per_tpl = (lf.group_by("template_id").agg(
        pl.col("template").first(), pl.len().alias("lines"),
        pl.col("level").is_in(list(ERROR_LEVELS)).sum().alias("errors"),
        pl.col("level").filter(pl.col("level") != "—").mode().first().alias("level"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"))
        .collect())
    worded = per_tpl.filter(pl.col("template").str.contains(PROBLEM_RE) & (pl.col("errors") == 0))
    errs = per_tpl.filter(pl.col("errors") > 0).sort(["errors", "template_id"], descending=[True, False])
    if errs.is_empty():  # no levels: templates whose words name a problem (as the digest does)
        errs = worded.with_columns(pl.col("lines").alias("errors")).sort(
            ["errors", "template_id"], descending=[True, False])
    if bucket is not None:
        name, secs = bucket
        keep = levels["level"].head(MAX_SERIES).to_list()
        xs, series = _timeline(lf, "timestamp", "level", secs, keep)
        if xs:
            sec.blocks.append(Chart(w("lines_by_level", bucket=name), "lines", x=xs, series=series))
        top = errs["template_id"].head(6).to_list()
        if top:
            xs, series = _timeline(lf, "timestamp", "template_id", secs, top)
            text = dict(errs.select("template_id", "template").iter_rows())
            if xs:
                sec.blocks.append(Chart(w("error_timelines", bucket=name), "lines", x=xs,
                                        series={f"#{k} {_clip(text[int(k)], 40)}": v
                                                for k, v in series.items()}))
    sec.blocks.append(Table(w("level"), [w("level"), w("lines")],
                            [list(r) for r in levels.head(MAX_ROWS).iter_rows()], levels.height))
    if errs.height:
        sec.blocks.append(Table(w("error_timelines", bucket="").split("(")[0].strip(),
                                ["#", w("template"), w("level"), w("lines"), w("errors"),
                                 w("first_seen"), w("last_seen")],
                                [[r["template_id"], _clip(r["template"], 200), r["level"], r["lines"],
                                  r["errors"], _when(r["first"]), _when(r["last"])]
                                 for r in errs.head(MAX_ROWS).iter_rows(named=True)], errs.height))
    if baseline is not None:
        known = set(baseline["template"].to_list())
        new = per_tpl.filter(~pl.col("template").is_in(list(known))).sort(
            ["lines", "template_id"], descending=[True, False])
        title = w("new_templates", n=new.height)
        if new.height:
            head = new.head(MAX_BARS)
            sec.blocks.append(Chart(title, "barh",
                                    categories=[f"#{i} {_clip(t, 40)}" for i, t in
                                                head.select("template_id", "template").iter_rows()],
                                    values=head["lines"].to_list()))
            sec.blocks.append(Table(title, ["#", w("template"), w("level"), w("lines"), w("first_seen")],
                                    [[r["template_id"], _clip(r["template"], 200), r["level"],
                                      r["lines"], _when(r["first"])]
                                     for r in new.head(MAX_ROWS).iter_rows(named=True)], new.height))
        else:
            sec.summary.append(w("no_new"))
    return sec


def _when(t) -> str:
    return t.isoformat(sep=" ", timespec="seconds") if t is not None else ""


def survey_section(lf: pl.LazyFrame, w: Words, enumerator: str | None, when: str | None,
                   labels: Labels) -> Section:
    """Submissions per day and per enumerator (active days, first and last day)."""
    sec = Section("survey", w("survey"))
    total = int(lf.select(pl.len()).collect().item())
    sec.summary.append(f"{w('submissions')}: {total:,}")
    day = pl.col(when).dt.date().alias("_d") if when else None
    if when:
        per_day = (lf.filter(pl.col(when).is_not_null()).group_by(day).agg(pl.len().alias("n"))
                   .sort("_d").collect())
        if per_day.height:
            sec.blocks.append(Chart(f"{w('per_day')} ({labels.column(when)})", "timebars",
                                    x=per_day["_d"].to_list(), values=per_day["n"].to_list()))
            sec.blocks.append(Table(w("per_day"), [w("day"), w("submissions")],
                                    [[d.isoformat(), n] for d, n in per_day.tail(MAX_ROWS).iter_rows()],
                                    per_day.height))
    if enumerator:
        aggs = [pl.len().alias("n")]
        if when:
            aggs += [day.n_unique().alias("days"), day.min().alias("first"), day.max().alias("last")]
        per = (lf.group_by(pl.col(enumerator).cast(pl.String).fill_null("∅").alias("_e")).agg(aggs)
               .sort(["n", "_e"], descending=[True, False]).collect())
        head = per.head(MAX_BARS)
        sec.blocks.append(Chart(f"{w('per_enum')} ({labels.column(enumerator)})", "barh",
                                categories=[labels.value(enumerator, e) for e in head["_e"]],
                                values=head["n"].to_list()))
        cols = [w("enumerator"), w("submissions")] + ([w("day"), w("first_seen"), w("last_seen")]
                                                      if when else [])
        rows = [[labels.value(enumerator, r[0]), *[x.isoformat() if hasattr(x, "isoformat") else x
                                                   for x in r[1:]]]
                for r in per.head(MAX_ROWS).iter_rows()]
        sec.blocks.append(Table(w("per_enum"), cols, rows, per.height))
    return sec
