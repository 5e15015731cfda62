"""The log digest's counts, gathered batch by batch while the lines are mined.

Why: reading every mined line back at the end to count it was the run's memory peak on
multi-GB logs (1 GB at 2 GB of input). `DigestBuilder.add` folds each batch into small
tables instead (per template and level; per time bucket; per template and minute for the
lines that may be problems), so memory follows the number of templates and buckets, never the
number of lines. `finish` turns them into the same `Digest` a one-shot aggregation would give:
time buckets are kept at the finest step that stays small and coarsened along steps that nest,
and a line without a level counts as a problem by its final template (a template only loses
words as it widens, so the lines kept as candidates while mining are enough).
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl

from fieldkit.analysis.log_summary import Digest

ERROR_LEVELS = ("ERROR", "FATAL", "SEVERE", "CRITICAL", "ALERT", "EMERG", "FAILURE")
WARN_LEVELS = ("WARN",)
# Lines without a level (syslog, HPC, HealthApp ...) are problems when their template says so;
# the usual English forms and a few other languages' (de, fr, es, pt, it, ru, zh).
PROBLEM_RE = (r"(?i)(?:\b(?:errors?|fail|fails|failed|failure|failures|failing|exception|fatal|critical|"
              r"denied|refused|rejected|invalid|unauthori[sz]ed|forbidden|not permitted|timed out|time ?out|"
              r"timeouts|unavailable|unreachable|panic|corrupt|corrupted|severed|abort|aborted|killed|crash|"
              r"crashed|cannot|can't|couldn't|unable|lost|interrupt|"
              r"fehler|fehlgeschlagen|verweigert|erreur|échec|echec|refusé|erro|falha|negado|fallo|falló|"
              r"denegado|errore|fallito|negato|ошибка|отказано)\b|失败|错误|拒绝|超时)")
BURST_WINDOW = "1m"
BURST_MIN = 50  # lines of one problem template in one window ...
BURST_RATIO = 10  # ... and this many times its average rate over the whole log
# A burst window is closed once the file's newest stamp is this far past its end: a closed window under
# BURST_MIN lines can no longer be a burst and is dropped (its lines stay in the template's total), so the
# windows kept follow the lines in the last hour, not the log's time span. A line more than this behind
# the newest stamp of its own file (far out of order) is counted in a window of its own.
BURST_LATE = "1h"
BUCKETS = [("1s", 1), ("10s", 10), ("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("3h", 10800),
           ("6h", 21600), ("1d", 86400), ("7d", 604800), ("30d", 2592000)]
MAX_BUCKETS = 48
# Steps the running bucket counts are kept at: each divides the next and every later BUCKETS step,
# so counts kept at one can be re-cut to any coarser digest bucket exactly.
_KEPT = BUCKETS[:9]
# buckets kept before moving to the next coarser step; above MAX_BUCKETS, so a span that needs the
# move needs a coarser digest bucket too
_KEPT_MAX = 20_000

_DT = pl.Datetime("us")
_PER = {"template_id": pl.Int64, "level": pl.String, "count": pl.UInt32, "first": _DT, "last": _DT}
_TIME = {"bucket": _DT, "count": pl.UInt32}
# problem candidates: `ew` is a line with an error/warning level, `null` a line without a level
_CAND = {"bucket": _DT, "template_id": pl.Int64, "ew": pl.Boolean, "count": pl.UInt32}
_WIN = {"template_id": pl.Int64, "w": _DT, "ew": pl.Boolean, "lines": pl.UInt32, "first": _DT, "last": _DT}
_TOT = {"template_id": pl.Int64, "ew": pl.Boolean, "lines": pl.UInt32}  # every candidate line, windows dropped or not


def pick_bucket(start: datetime | None, end: datetime | None) -> tuple[str, int] | None:
    """The finest BUCKETS step that cuts the span into at most MAX_BUCKETS pieces."""
    if start is None or end is None:
        return None
    span = max(1.0, (end - start).total_seconds())
    for name, secs in BUCKETS:
        if span / secs <= MAX_BUCKETS:
            return name, secs
    return BUCKETS[-1]


def worded_ids(table: pl.DataFrame) -> list[int]:
    """Template ids whose text names a problem (failed, denied, timeout ...)."""
    return table.filter(pl.col("template").str.contains(PROBLEM_RE))["template_id"].to_list()


class DigestBuilder:
    """Running digest counts: `add` each mined batch (template_id, timestamp, level[, message]), then `finish`."""

    def __init__(self) -> None:
        self.per = pl.DataFrame(schema=_PER)
        self.time = pl.DataFrame(schema=_TIME)
        self.cand = pl.DataFrame(schema=_CAND)
        self.win = pl.DataFrame(schema=_WIN)
        self.tot = pl.DataFrame(schema=_TOT)
        self.newest: datetime | None = None  # the newest stamp of the file being added (`start_file` resets it)
        self.step = 0  # index into _KEPT
        self.examples: dict[int, str] = {}

    def add(self, batch: pl.DataFrame, worded: list[int] | set[int]) -> None:
        """Fold one batch in; `worded` are the ids whose template names a problem now (a superset of at the end)."""
        b = batch.select(pl.col("template_id").cast(pl.Int64), pl.col("timestamp").cast(_DT),
                         pl.col("level").cast(pl.String), *(["message"] if "message" in batch.columns else []))
        if b.height == 0:
            return
        if "message" in b.columns:  # each template's first message: looked up only for templates not seen yet
            ids = b["template_id"]
            first = ids.arg_unique()
            new = first.filter(~ids.gather(first).is_in(list(self.examples)))
            if new.len():
                self.examples.update(zip(ids.gather(new).to_list(), b["message"].gather(new).to_list()))
        ts, lvl = pl.col("timestamp"), pl.col("level")
        per = b.group_by("template_id", "level").agg(pl.len().cast(pl.UInt32).alias("count"),
                                                      ts.min().alias("first"), ts.max().alias("last"))
        self.per = _fold(self.per, per, ["template_id", "level"])
        stamped = b.filter(ts.is_not_null())
        if stamped.height == 0:
            return
        name = _KEPT[self.step][0]
        stamped = stamped.with_columns(ts.dt.truncate(name).alias("bucket"))
        self.time = _fold(self.time, stamped.group_by("bucket").agg(pl.len().cast(pl.UInt32).alias("count")),
                          ["bucket"])
        ew = lvl.is_in(list(ERROR_LEVELS + WARN_LEVELS))
        cand = (stamped.filter(ew | (lvl.is_null() & pl.col("template_id").is_in(list(worded))))
                .with_columns(ew.alias("ew")))
        if cand.height:
            self.cand = _fold(self.cand, cand.group_by("bucket", "template_id", "ew")
                              .agg(pl.len().cast(pl.UInt32).alias("count")), ["bucket", "template_id", "ew"])
            win = (cand.group_by("template_id", ts.dt.truncate(BURST_WINDOW).alias("w"), "ew")
                   .agg(pl.len().cast(pl.UInt32).alias("lines"), ts.min().alias("first"), ts.max().alias("last")))
            self.win = _fold(self.win, win.select(list(_WIN)), ["template_id", "w", "ew"], count="lines")
            self.tot = _fold(self.tot, win.group_by("template_id", "ew").agg(pl.col("lines").sum()),
                             ["template_id", "ew"], count="lines")
        newest = stamped["timestamp"].max()
        self.newest = newest if self.newest is None else max(self.newest, newest)
        if self.win.height:  # windows that ended BURST_LATE before the newest stamp and stay under BURST_MIN go
            closed = pl.lit(self.newest).dt.offset_by("-" + BURST_LATE).dt.truncate(BURST_WINDOW)
            self.win = self.win.filter((pl.col("w") >= closed) | (pl.col("lines") >= BURST_MIN))
        while self.time.height > _KEPT_MAX and self.step < len(_KEPT) - 1:
            self._coarser()

    def start_file(self) -> None:
        """The next lines come from another file: its stamps close windows, not the last file's."""
        self.newest = None

    def _coarser(self) -> None:
        self.step += 1
        cut = pl.col("bucket").dt.truncate(_KEPT[self.step][0])
        self.time = _fold(self.time.clear(), self.time.with_columns(cut), ["bucket"])
        self.cand = _fold(self.cand.clear(), self.cand.with_columns(cut), ["bucket", "template_id", "ew"])

    def merge(self, other: "DigestBuilder") -> None:
        """Fold in the counts of lines added to `other` after this one's (the Ray workers count their own files).

        Exact: counts kept at a finer step are re-cut to the coarser one (the steps nest), and
        the first example of a template stays the earlier builder's.
        """
        while self.step < other.step:
            self._coarser()
        cut = pl.col("bucket").dt.truncate(_KEPT[self.step][0])
        self.per = _fold(self.per, other.per, ["template_id", "level"])
        self.time = _fold(self.time, other.time.with_columns(cut), ["bucket"])
        self.cand = _fold(self.cand, other.cand.with_columns(cut), ["bucket", "template_id", "ew"])
        self.win = _fold(self.win, other.win, ["template_id", "w", "ew"], count="lines")
        self.tot = _fold(self.tot, other.tot, ["template_id", "ew"], count="lines")
        for tid, msg in other.examples.items():
            self.examples.setdefault(tid, msg)
        while self.time.height > _KEPT_MAX and self.step < len(_KEPT) - 1:
            self._coarser()

    def finish(self, table: pl.DataFrame, sources: list[str], baseline_ids: set[int] | None = None,
               rare_max: int | None = None, examples: dict[int, str] | None = None) -> Digest:
        """The Digest over everything added, with the final template table (template_id, template)."""
        worded = worded_ids(table)
        examples = self.examples if examples is None else examples
        lvl, n = pl.col("level"), pl.col("count")
        err_n = (pl.when(lvl.is_in(list(ERROR_LEVELS)) | (lvl.is_null() & pl.col("template_id").is_in(worded)))
                 .then(n).otherwise(0))
        warn_n = pl.when(lvl.is_in(list(WARN_LEVELS))).then(n).otherwise(0)
        top_level = (self.per.filter(lvl.is_not_null()).sort(["template_id", "count", "level"],
                                                             descending=[False, True, False])
                     .group_by("template_id", maintain_order=True).agg(lvl.first()))
        per = (self.per.group_by("template_id").agg(
            n.sum().alias("count"), pl.col("first").min().alias("first_seen"), pl.col("last").max().alias("last_seen"),
            err_n.sum().cast(pl.UInt32).alias("errors"), warn_n.sum().cast(pl.UInt32).alias("warns"))
            .join(top_level, on="template_id", how="left")
            .with_columns(pl.col("template_id").replace_strict(
                list(examples), [m.split("\n")[0] for m in examples.values()], default=None,
                return_dtype=pl.String).alias("example")))
        total = int(per["count"].sum()) if per.height else 0
        tpl = (per.join(table.select("template_id", "template"), on="template_id", how="left")
               .with_columns((pl.col("count") / max(total, 1)).alias("share"))
               .sort(["count", "template_id"], descending=[True, False])
               .select("template_id", "template", "count", "share", "first_seen", "last_seen", "level",
                       "errors", "warns", "example"))
        levels = dict(self.per.filter(lvl.is_not_null()).group_by("level").agg(n.sum())
                      .sort(["count", "level"], descending=[True, False]).iter_rows())
        problems = tpl.filter((pl.col("errors") > 0) | (pl.col("warns") > 0)).sort(
            ["errors", "warns", "count"], descending=True)
        rare_max = rare_max if rare_max is not None else max(2, math.ceil(total / 10_000))
        rare = tpl.filter(pl.col("count") <= rare_max).sort(["count", "first_seen"])
        start = self.per["first"].min() if self.per.height else None
        end = self.per["last"].max() if self.per.height else None
        pick = pick_bucket(start, end)
        bucket_name = None
        buckets = pl.DataFrame(schema={"bucket": _DT, "count": pl.UInt32, "problems": pl.UInt32})
        busiest = worst = buckets
        median = problem_median = 0.0
        is_problem = pl.col("ew") | pl.col("template_id").is_in(worded)
        if pick is not None:
            bucket_name = pick[0]
            cut = pl.col("bucket").dt.truncate(bucket_name)
            probs = (self.cand.filter(is_problem).group_by(cut).agg(n.sum().alias("problems")))
            buckets = (self.time.group_by(cut).agg(n.sum().alias("count"))
                       .join(probs, on="bucket", how="left")
                       .with_columns(pl.col("problems").fill_null(0).cast(pl.UInt32), n.cast(pl.UInt32))
                       .sort("bucket"))
            median = float(buckets["count"].median() or 0.0)
            busiest = buckets.sort(["count", "bucket"], descending=[True, False]).head(3)
            worst = (buckets.sort(["problems", "bucket"], descending=[True, False]).head(3)
                     .filter(pl.col("problems") > 0))
            problem_median = float(buckets["problems"].median() or 0.0)
        new = gone = None
        if baseline_ids is not None:
            new = tpl.filter(~pl.col("template_id").is_in(list(baseline_ids)))
            seen = set(tpl["template_id"].to_list())
            gone = (table.filter(pl.col("template_id").is_in(list(baseline_ids - seen)))
                    .select("template_id", "template"))
        err_lines = int(tpl["errors"].sum()) if tpl.height else 0
        warn_lines = int(tpl["warns"].sum()) if tpl.height else 0
        bursts = self._bursts(is_problem, tpl, start, end)
        return Digest(sources, total, start, end, levels, tpl, problems, rare, bucket_name, buckets, busiest,
                      median, new, gone, err_lines, warn_lines,
                      {"has_levels": bool(levels), "rare_max": rare_max, "worst": worst,
                       "problem_median": problem_median, "bursts": bursts, "notes": []})

    def _bursts(self, is_problem: pl.Expr, tpl: pl.DataFrame, start: datetime | None,
                end: datetime | None) -> pl.DataFrame:
        """Problem templates with a burst: >= BURST_MIN lines in one minute, BURST_RATIO x their average rate."""
        empty = pl.DataFrame(schema={"template_id": pl.Int64, "template": pl.String, "lines": pl.UInt32,
                                     "first": _DT, "last": _DT, "rate_ratio": pl.Float64})
        win = (self.win.filter(is_problem).group_by("template_id", "w")
               .agg(pl.col("lines").sum(), pl.col("first").min(), pl.col("last").max()))
        if start is None or end is None or win.height == 0:
            return empty
        minutes = max(1.0, (end - start).total_seconds() / 60)
        totals = self.tot.filter(is_problem).group_by("template_id").agg(pl.col("lines").sum().alias("total"))
        win = (win.join(totals, on="template_id")
               .with_columns((pl.col("lines") / (pl.col("total") / minutes)).alias("rate_ratio"))
               .filter((pl.col("lines") >= BURST_MIN) & (pl.col("rate_ratio") >= BURST_RATIO))
               .join(tpl.select("template_id", "template"), on="template_id", how="left"))
        return (win.sort(["lines", "first"], descending=[True, False])
                .select("template_id", "template", pl.col("lines").cast(pl.UInt32), "first", "last", "rate_ratio"))


def _fold(acc: pl.DataFrame, new: pl.DataFrame, keys: list[str], count: str = "count") -> pl.DataFrame:
    """acc + new, summed per key (first/last as min/max where present): the running tables stay one row per key."""
    both = pl.concat([acc, new.select(acc.columns).cast(acc.schema)])
    aggs = [pl.col(count).sum().cast(pl.UInt32)]
    aggs += [pl.col("first").min(), pl.col("last").max()] if "first" in acc.columns else []
    return both.group_by(keys).agg(aggs).select(acc.columns)


def build_digest(lines: pl.LazyFrame | pl.DataFrame, table: pl.DataFrame, sources: list[str],
                 baseline_ids: set[int] | None = None, rare_max: int | None = None,
                 examples: dict[int, str] | None = None) -> Digest:
    """A Digest over annotated lines (template_id, timestamp, level[, message]), read in batches."""
    builder = DigestBuilder()
    worded = worded_ids(table)
    cols = ["template_id", "timestamp", "level"] + ([] if examples is not None else ["message"])
    lf = lines.lazy().select(cols)
    for df in lf.collect_batches(chunk_size=500_000):
        builder.add(df, worded)
    return builder.finish(table, sources, baseline_ids, rare_max, examples)
