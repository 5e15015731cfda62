"""Word-valued variables learnt from a batch: a token position whose values are many and each rare, across
masked lines that agree everywhere else, is a variable (the position-wise statistic of IPLoM and Spell).

Why: masks catch what is spelt like a value (digits, paths, addresses); a package name (`adduser:all`), a
link group (`pager`) or a dependency (`yallist`) is spelt like any word, so a Drain-style tree made one
template per value of such a short message (dpkg.log: 1,971 templates for 14 line kinds). What tells a
variable from an enumeration is the file itself: `status installed X` with hundreds of different X, each
seen once or twice, against `action:TIME_TICK` / `action:SCREEN_ON`, two values seen 144 and 17 times.
The thresholds (`MINER_SETTINGS["vary"]`) are chosen by leave-one-dataset-out (bench/cv_logs.py).

The decision is a function of one batch's distinct masked lines and their counts only, so the Ray workers
(fieldkit.scale.logs), which mask the local job's batches, make the same one. Vectorised: one hash per token
and one per line give every "line without position p" key in O(tokens), never O(tokens^2).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

WILDCARD = "<*>"
_P = np.uint64(0x9E3779B97F4A7C15)  # odd multipliers: the line's polynomial hash and the key's mix
_Q = np.uint64(0xC2B2AE3D27D4EB4F)


def vary_mask(masked: pl.Series, counts: np.ndarray, min_values: int, max_seen: float, first: int = 0,
              max_tokens: int = 64) -> pl.Series:
    """`masked` (distinct lines, each seen `counts` times) with each token at a variable position made <*>.

    Among the lines equal but for position p (same token count, p >= `first`, at most `max_tokens` tokens),
    p is variable when it holds at least `min_values` distinct tokens and the median of their sightings in
    the batch, at any position, is at most `max_seen` times the group's lines (values each rare).
    """
    if masked.len() == 0 or min_values <= 0:
        return masked
    toks = masked.str.extract_all(r"\S+")
    ntok = toks.list.len().fill_null(0).to_numpy().astype(np.int64)
    keep = (ntok > 0) & (ntok <= max_tokens)
    if not keep.any():
        return masked
    flat = pl.DataFrame({"t": toks}).with_row_index("line").filter(pl.Series(keep)).explode("t")
    line = flat["line"].to_numpy().astype(np.int64)
    pos = flat.select(pl.int_range(pl.len()).over("line"))[:, 0].to_numpy().astype(np.uint64)
    h = flat["t"].hash(seed=7).to_numpy()
    with np.errstate(over="ignore"):
        powers = np.ones(max_tokens + 1, dtype=np.uint64)
        for i in range(1, max_tokens + 1):
            powers[i] = powers[i - 1] * _P
        term = h * powers[pos]
        total = np.zeros(len(masked), dtype=np.uint64)
        np.add.at(total, line, term)
        key = (total[line] - term) * _Q + pos * np.uint64(1 << 20) + ntok[line].astype(np.uint64)
    n = np.asarray(counts, dtype=np.int64)[line]
    df = pl.DataFrame({"key": key, "h": h, "n": n})
    seen = df.group_by("h").agg(pl.col("n").sum().alias("g"))  # each token's lines, at any position
    per = df.group_by("key", "h").agg(pl.col("n").sum()).join(seen, on="h")
    stats = per.group_by("key").agg(pl.len().alias("values"), pl.col("n").sum().alias("lines"),
                                    pl.col("g").median().alias("seen"))
    var = stats.filter((pl.col("values") >= min_values) & (pl.col("seen") <= max_seen * pl.col("lines")))["key"]
    if first:
        var = pl.Series("key", key[(pos >= first) & df["key"].is_in(var.implode()).to_numpy()]).unique()
    if var.len() == 0:
        return masked
    hit = np.flatnonzero(df["key"].is_in(var.implode()).to_numpy())
    hit = hit[flat["t"].to_numpy()[hit] != WILDCARD]
    if len(hit) == 0:
        return masked
    out = masked.to_list()
    by_line: dict[int, set[int]] = {}
    for i in hit:
        by_line.setdefault(int(line[i]), set()).add(int(pos[i]))
    for li, ps in by_line.items():
        parts = re.split(r"(\s+)", out[li].strip())
        lead = out[li][: len(out[li]) - len(out[li].lstrip())]
        trail = out[li][len(out[li].rstrip()):]
        for p in ps:
            parts[2 * p] = WILDCARD
        out[li] = lead + "".join(parts) + trail
    return pl.Series(masked.name, out, dtype=pl.String)
