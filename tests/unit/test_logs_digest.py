"""The digest's burst windows on logs spanning years: bounded by the last hour's lines, bursts still exact."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from fieldkit.analysis import log_digest
from fieldkit.analysis.log_digest import BURST_MIN, BURST_RATIO, DigestBuilder

_TABLE = pl.DataFrame({"template_id": [1, 2], "template": ["login failed for user <*>", "request served in <*>"]})


def _years_of_failures() -> pl.DataFrame:
    """Two years of one failed login every 10 minutes and a served request every 7, with a burst of 80 failures in
    one minute half-way, and 30 more failures of that minute written months later (far out of time order)."""
    t0 = datetime(2022, 1, 1)
    fail = [t0 + timedelta(minutes=10 * i) for i in range(2 * 52_560)]
    ok = [t0 + timedelta(minutes=7 * i, seconds=3) for i in range(2 * 75_086)]
    burst = datetime(2023, 1, 1, 12, 0, 5)
    rows = ([(t, 1) for t in fail] + [(t, 2) for t in ok] + [(burst + timedelta(milliseconds=i), 1) for i in range(80)])
    df = pl.DataFrame(rows, schema={"timestamp": pl.Datetime("us"), "template_id": pl.Int64}, orient="row")
    df = df.sort("timestamp")
    late = pl.DataFrame({"timestamp": [burst + timedelta(seconds=30)] * 30, "template_id": [1] * 30},
                        schema={"timestamp": pl.Datetime("us"), "template_id": pl.Int64})
    cut = df.height * 3 // 4  # the late lines come six months after their minute
    df = pl.concat([df.head(cut), late, df.slice(cut)])
    return df.with_columns(pl.lit(None, dtype=pl.String).alias("level"))


def _one_shot_bursts(lines: pl.DataFrame, worded: list[int]) -> pl.DataFrame:
    """Bursts counted over every line at once: what the batch-wise builder must give."""
    problems = lines.filter(pl.col("template_id").is_in(worded))
    minutes = max(1.0, (lines["timestamp"].max() - lines["timestamp"].min()).total_seconds() / 60)
    win = (problems.group_by("template_id", pl.col("timestamp").dt.truncate("1m").alias("w"))
           .agg(pl.len().alias("lines")))
    total = problems.group_by("template_id").len().rename({"len": "total"})
    return (win.join(total, on="template_id").with_columns((pl.col("lines") / (pl.col("total") / minutes))
                                                           .alias("rate_ratio"))
            .filter((pl.col("lines") >= BURST_MIN) & (pl.col("rate_ratio") >= BURST_RATIO))
            .select("template_id", pl.col("lines").cast(pl.UInt32), "rate_ratio").sort("template_id", "lines"))


def test_burst_windows_stay_bounded_over_years_and_find_the_burst():
    lines = _years_of_failures()
    worded = log_digest.worded_ids(_TABLE)
    assert worded == [1]
    b = DigestBuilder()
    kept = []
    for i in range(0, lines.height, 5_000):
        b.add(lines.slice(i, 5_000), worded)
        kept.append(b.win.height)
    # without dropping closed windows this held one row per failure minute (105k, growing with the span)
    assert max(kept) <= 200
    got = b.finish(_TABLE, ["auth.log"]).extra["bursts"]
    want = _one_shot_bursts(lines, worded)
    assert want.height == 1 and want["lines"][0] == 111  # the burst, its late lines and the 12:00 one, one window
    assert got.select("template_id", "lines", "rate_ratio").equals(want)
    assert (got["first"][0], got["last"][0]) == (datetime(2023, 1, 1, 12), datetime(2023, 1, 1, 12, 0, 35))


def test_burst_windows_restart_with_each_file():
    """The newest stamp is per file: a second file covering earlier hours does not close its own windows early."""
    t0 = datetime(2024, 5, 1, 9, 0)
    worded = [1]
    b = DigestBuilder()
    first = pl.DataFrame({"timestamp": [t0 + timedelta(days=30, seconds=i) for i in range(10)],
                          "template_id": [1] * 10, "level": [None] * 10},
                         schema={"timestamp": pl.Datetime("us"), "template_id": pl.Int64, "level": pl.String})
    b.add(first, worded)
    b.start_file()
    second = pl.DataFrame({"timestamp": [t0 + timedelta(milliseconds=100 * i) for i in range(300)],
                           "template_id": [1] * 300, "level": [None] * 300},
                          schema={"timestamp": pl.Datetime("us"), "template_id": pl.Int64, "level": pl.String})
    for i in range(0, 300, 40):  # the second file's burst comes in several batches
        b.add(second.slice(i, 40), worded)
    bursts = b.finish(_TABLE, ["a.log", "b.log"]).extra["bursts"]
    assert bursts["lines"].to_list() == [300]
