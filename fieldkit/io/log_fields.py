"""Header columns from the groups of a layout's header regex, and a header nested in the messages split out.

Kept apart from fieldkit.io.logs (which parses the records) so that module stays small; both
work on Polars expressions over a batch, never a loop over rows.
"""

from __future__ import annotations

import polars as pl

from fieldkit.io.log_header import HEADER_COLS, LEVEL_NORMAL, Layout


def level_expr(e: pl.Expr) -> pl.Expr:
    """A level word as the records carry it: upper case, synonyms folded (WARNING -> WARN, LOG -> INFO)."""
    return e.str.to_uppercase().replace(LEVEL_NORMAL)


def header_columns(layout: Layout) -> dict[str, pl.Expr]:
    """Column expressions over the header-regex groups, unnested (several groups naming one column are joined)."""
    groups: dict[str, list[str]] = {}
    for i, name in enumerate(layout.prefix_names):
        if name:
            groups.setdefault(name, []).append(f"p{i}")
    for i, ((shape, _), name) in enumerate(zip(layout.fields, layout.names)):
        if name:
            groups.setdefault(name, []).append(f"f{i}")
        if shape in ("procpid", "colon"):
            groups.setdefault("pid", []).append(f"f{i}pid")
    out: dict[str, pl.Expr] = {}
    for name, keys in groups.items():
        cols = [pl.col(k).str.strip_chars() for k in keys]
        cols = [pl.when(c == "").then(None).otherwise(c) for c in cols]
        if len(cols) == 1:
            out[name] = cols[0]
        else:  # context blocks add up; a host or component named twice is the same one
            out[name] = (pl.concat_str(cols, separator=" ", ignore_nulls=True) if name == "context"
                         else pl.coalesce(cols))
    return out


def split_inner(recs: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Split a header at the start of the messages (`layout.inner`) where it is there: its fields fill the
    columns the file's own header left empty, the message is what follows it; the timestamp stays the outer one."""
    inner = layout.inner
    rx = inner.header_regex()
    msg = recs["message"].fill_null("")
    first = msg.str.split("\n").list.first().fill_null("")
    hit = first.str.contains(rx)
    if not hit.any():
        return recs
    g = pl.DataFrame({"_l": first}).select(pl.col("_l").str.extract_groups(rx)).unnest("_l")
    heads = header_columns(inner)
    level_keys = [f"f{i}" for i, n in enumerate(inner.names) if n == "level"]
    inner_level = level_expr(pl.col(level_keys[0])) if level_keys else pl.lit(None, dtype=pl.String)
    rest = first.str.replace(rx, "").str.strip_chars() + msg.str.slice(first.str.len_chars())
    cols = [c for c in HEADER_COLS if c in layout.columns]
    null_s = pl.lit(None, dtype=pl.String)
    found = g.select(inner_level.alias("level"), *[heads.get(c, null_s).alias(c) for c in cols])
    return recs.with_columns(
        pl.coalesce(pl.col("level"), found["level"]).alias("level"),
        *[pl.coalesce(pl.col(c) if c in recs.columns else null_s, found[c]).alias(c) for c in cols],
        pl.when(hit).then(rest).otherwise(pl.col("message")).alias("message"),
    ).select(["line_no", "timestamp", "level", *cols, "message", "raw"])
