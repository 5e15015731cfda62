"""The `merge_conflicts` entries (`field: value (source)`): one spelling, read and written here.

Why a module of its own: `fieldkit merge` writes the entries, the annotation journal clears
them when a person picks a side, and the TUI lists them; all three must agree on the format.
"""

from __future__ import annotations

import polars as pl

COLUMN = "merge_conflicts"


FORMAT = "{}: {} ({})"  # field, value, source (pl.format and str.format alike)


def parse(text: str) -> tuple[str, str, str]:
    """(field, value, source) of an entry; the value may itself hold ': ' and brackets."""
    name, _, rest = text.partition(": ")
    if rest.endswith(")") and " (" in rest:
        value, _, source = rest[:-1].rpartition(" (")
        return name, value, source
    return name, rest, ""


def field_of(entries: pl.Expr) -> pl.Expr:
    """The field each entry (a string expression) is about."""
    return entries.str.split_exact(": ", 1).struct.field("field_0")


def open_fields(frame: pl.DataFrame, row: str, resolved: pl.DataFrame) -> pl.DataFrame:
    """(`row`, field, entries) for the conflicts still open: a field someone picked a side for is closed.

    `frame` holds `row` and the conflicts column; `resolved` holds (`row`, field) pairs.
    """
    long = (frame.select(row, pl.col(COLUMN)).explode(COLUMN).drop_nulls(COLUMN)
            .with_columns(field_of(pl.col(COLUMN)).alias("field")))
    if resolved.height:
        long = long.join(resolved.select(row, "field"), on=[row, "field"], how="anti")
    return long.group_by([row, "field"], maintain_order=True).agg(pl.col(COLUMN).alias("entries"))


FUTURE_SLACK_S = 86_400  # a laptop clock a day ahead is plausible; a time beyond that is not


def later_time(known: str | None, at: object) -> str | None:
    """The later of a row's known annotation time and a journal op's `at`, as UTC ISO 8601.

    Journals come from other laptops, so `at` is checked: text that is not an ISO time, and
    times more than a day in the future (a wrong clock or a forged journal would otherwise win
    every later merge), are ignored; times with an offset compare in UTC, not as strings.
    """
    import datetime as dt

    if not isinstance(at, str):
        return known
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        return known
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    when = when.astimezone(dt.timezone.utc)
    if (when - dt.datetime.now(dt.timezone.utc)).total_seconds() > FUTURE_SLACK_S:
        return known
    iso = when.isoformat(timespec="microseconds")
    return iso if known is None or iso > known else known
