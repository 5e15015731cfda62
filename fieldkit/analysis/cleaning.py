"""The cleaning log: apply recorded changes (uuid, question, old_value, new_value, reason, who, when).

A change is applied only where the cell still holds `old_value`, so a log written against an
older export never overwrites a value someone has since corrected; such rows are refused and
reported. Changes are applied column by column with Polars expressions (no row loop), and
several changes to one cell apply in log order, each checked against the previous result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fieldkit.errors import InputError, UsageError

REQUIRED = ("uuid", "question", "old_value", "new_value")
OPTIONAL = ("reason", "who", "when")
NULL_WORDS = {"", "na", "n/a", "null", "none", "nan"}


@dataclass
class CleanResult:
    frame: pl.LazyFrame
    applied: pl.DataFrame  # the log rows applied, with `log_row`
    refused: pl.DataFrame  # the log rows refused, with `log_row` and `problem`
    key: str


def read_log(path: str | Path) -> pl.DataFrame:
    """The log as strings, one row per change, with its 1-based line number as `log_row`."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"cleaning log {p} does not exist", "give the log CSV with --log")
    try:
        log = pl.read_csv(p, infer_schema=False, encoding="utf8-lossy")
    except pl.exceptions.PolarsError as e:
        raise InputError(f"cleaning log {p.name} is not a readable CSV: {str(e).splitlines()[0][:160]}",
                         "save it as CSV (UTF-8) with a header row") from e
    log = log.rename({c: c.strip().lower().lstrip("\ufeff") for c in log.columns})
    missing = [c for c in REQUIRED if c not in log.columns]
    if missing:
        raise InputError(f"cleaning log {p.name} has no column {', '.join(repr(m) for m in missing)}",
                         "its header needs: " + ", ".join(REQUIRED + OPTIONAL))
    for c in OPTIONAL:
        if c not in log.columns:
            log = log.with_columns(pl.lit(None, pl.String).alias(c))
    return log.select(pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("log_row"),
                      *[pl.col(c).str.strip_chars() for c in REQUIRED + OPTIONAL])


def _norm(values: pl.Expr) -> pl.Expr:
    """The comparable form of a logged value: trimmed; NA/null/empty spellings become null."""
    v = values.cast(pl.String).str.strip_chars()
    return pl.when(v.str.to_lowercase().is_in(list(NULL_WORDS))).then(None).otherwise(v)


def _same(current: pl.Expr, old: pl.Expr) -> pl.Expr:
    """Current cell (as text) equals old_value: numerically when both are numbers, else as text."""
    c_num, o_num = current.cast(pl.Float64, strict=False), old.cast(pl.Float64, strict=False)
    both_null = current.is_null() & old.is_null()
    numeric = c_num.is_not_null() & o_num.is_not_null()
    return both_null | pl.when(numeric).then(c_num == o_num).otherwise(current == old).fill_null(False)


def _as_text(col: str, dtype: pl.DataType) -> pl.Expr:
    e = pl.col(col)
    if dtype.is_float():
        # 3.0 is logged as "3": compare the integral floats without their ".0"
        return (pl.when(e == e.round(0)).then(e.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(e.cast(pl.String)))
    if dtype == pl.Boolean:
        return e.cast(pl.String)
    return e.cast(pl.String)


def apply_log(frame: pl.LazyFrame, log: pl.DataFrame, key: str) -> CleanResult:
    """Apply the log's changes to `frame` (rows found by `key`); refuse those whose old value moved."""
    schema = frame.collect_schema()
    if key not in schema:
        raise UsageError(f"key column {key!r} is not in the data", "give it with --key (e.g. X_uuid)")
    log = log.with_columns(_norm(pl.col("old_value")).alias("old"), _norm(pl.col("new_value")).alias("new"))
    problems = pl.when(pl.col("uuid").fill_null("") == "").then(pl.lit("no uuid"))
    problems = problems.when(~pl.col("question").is_in(list(schema.names()))).then(
        pl.lit("no such column in the data"))
    log = log.with_columns(problems.otherwise(None).alias("problem"))
    touched = [q for q in log.filter(pl.col("problem").is_null())["question"].unique().to_list()]
    keys = log["uuid"].drop_nulls().unique()
    current = (frame.filter(pl.col(key).cast(pl.String).is_in(keys.implode()))
               .select(pl.col(key).cast(pl.String).alias("uuid"),
                       *[_as_text(c, schema[c]).alias(c) for c in touched]).collect())
    counts = current.group_by("uuid").agg(pl.len().alias("n"))
    log = (log.join(counts, on="uuid", how="left")
           .with_columns(pl.when(pl.col("problem").is_not_null()).then(pl.col("problem"))
                         .when(pl.col("n").is_null()).then(pl.lit("uuid not in the data"))
                         .when(pl.col("n") > 1).then(pl.lit("uuid is not unique in the data"))
                         .otherwise(None).alias("problem"))
           .drop("n"))
    long = (current.unpivot(index="uuid", on=touched, variable_name="question", value_name="now")
            if touched and current.height else
            pl.DataFrame(schema={"uuid": pl.String, "question": pl.String, "now": pl.String}))
    # several changes to one cell: apply in log order, each must match the previous new value
    log = log.with_columns(pl.col("log_row").rank("ordinal").over("uuid", "question").alias("step"))
    applied_parts, refused_parts = [], []
    state = long
    for step in range(1, int(log["step"].max() or 0) + 1):
        part = log.filter(pl.col("step") == step).join(state, on=["uuid", "question"], how="left")
        part = part.with_columns(
            pl.when(pl.col("problem").is_not_null()).then(pl.col("problem"))
            .when(~_same(pl.col("now"), pl.col("old")))
            .then(pl.concat_str([pl.lit("old_value no longer matches: the data holds "),
                                 pl.col("now").fill_null("(empty)")]))
            .otherwise(None).alias("problem"))
        ok = part.filter(pl.col("problem").is_null())
        applied_parts.append(ok)
        refused_parts.append(part.filter(pl.col("problem").is_not_null()))
        upd = ok.select("uuid", "question", pl.col("new").alias("now"))
        state = pl.concat([state.join(upd, on=["uuid", "question"], how="anti"), upd])
    cols = ["log_row", *REQUIRED, *OPTIONAL]
    applied = (pl.concat(applied_parts).select(cols + ["new"]) if applied_parts
               else pl.DataFrame(schema={**{c: pl.String for c in cols}, "log_row": pl.Int64,
                                         "new": pl.String}))
    refused = (pl.concat(refused_parts).select(cols + ["problem"]).sort("log_row") if refused_parts
               else pl.DataFrame(schema={**{c: pl.String for c in cols}, "log_row": pl.Int64,
                                         "problem": pl.String}))
    # the final value per cell, cast to the column's type
    final = applied.sort("log_row").group_by("uuid", "question").agg(pl.col("new").last())
    exprs = []
    bad: list[str] = []
    for q in final["question"].unique().to_list():
        sub = final.filter(pl.col("question") == q)
        dtype = schema[q]
        new = sub["new"]
        cast = new.cast(dtype, strict=False) if dtype != pl.String else new
        wrong = sub.filter(cast.is_null() & new.is_not_null())
        if wrong.height:
            bad.append(f"{q}: {wrong['new'][0]!r} is not a valid {dtype}")
        k = pl.col(key).cast(pl.String)
        exprs.append(pl.when(k.is_in(sub["uuid"].implode()))
                     .then(k.replace_strict(sub["uuid"], cast, default=None, return_dtype=dtype))
                     .otherwise(pl.col(q)).alias(q))
    if bad:
        raise InputError(f"cleaning log sets a value of the wrong type: {bad[0]}",
                         "fix new_value in the log (numbers for numeric questions, ISO dates for dates)")
    out = frame.with_columns(exprs) if exprs else frame
    return CleanResult(out, applied.drop("new"), refused, key)


LOG_HEADER = (*REQUIRED, *OPTIONAL)


def log_path_for(source: str | Path) -> Path:
    """The cleaning log the interface writes for a data file: beside it, `NAME.cleaning-log.csv`."""
    source = Path(source)
    return source.with_name(source.name + ".cleaning-log.csv")


def cell_text(value) -> str:
    """A cell as the log writes it (what `apply_log` compares): integral floats without '.0', empty for null."""
    if value is None:
        return ""
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def append_entry(path: str | Path, entry: dict[str, str]) -> Path:
    """Add one change (uuid, question, old_value, new_value, reason, who, when) to the log CSV, atomically.

    The file is the one `fieldkit clean --log` reads; it is rewritten whole through a temporary
    file, so a crash never leaves half a line.
    """
    import csv
    import io

    from fieldkit.files import write_text_atomic

    p = Path(path)
    old = p.read_text(encoding="utf-8-sig") if p.exists() else ""
    header = list(LOG_HEADER)
    if old.strip():  # a log someone started by hand: keep its columns and their order
        header = [c.strip().lower() for c in next(csv.reader(io.StringIO(old)))]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(f"cleaning log {p.name} has no column {', '.join(repr(m) for m in missing)}",
                             "its header needs: " + ", ".join(LOG_HEADER))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if not old.strip():
        old = ""
        w.writerow(header)
    elif not old.endswith("\n"):
        buf.write("\n")
    w.writerow([entry.get(c) or "" for c in header])
    return write_text_atomic(p, old + buf.getvalue())
