"""The log screen's filter: `level:ERROR,WARN host:web1 from:2024-05-01T10:00 param:blk_42 words`.

One line, `field:value` terms (quotes for spaces) plus free words that the message must
contain; case and accents are ignored. Fields are those the log has (`host`, `process`, `pid`,
`component`, ...). No Textual here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from fieldkit.errors import UsageError
from fieldkit.tui.text import fold, fold_text

HEADER_FIELDS = ("host", "process", "pid", "component", "thread", "logger")
HINT = "e.g. level:ERROR,WARN process:sshd from:2024-05-01T10:00 to:2024-05-01T11:00 param:blk_42 failed"


@dataclass
class LogFilter:
    expr: pl.Expr
    text: str  # as typed, for the title


def _time(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise UsageError(f"{name}:{value} is not a time", "write it like 2024-05-01T10:00 or 2024-05-01") from None


def parse_filter(text: str, schema: dict[str, pl.DataType]) -> LogFilter | None:
    """The filter for `text` over lines with this schema (None when empty); bad terms raise UsageError."""
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"filter not understood: {exc}", "close the quotes; " + HINT) from None
    if not terms:
        return None
    parts: list[pl.Expr] = []
    fields = [f for f in schema if f in HEADER_FIELDS]
    for term in terms:
        key, sep, value = term.partition(":")
        key = key.lower()
        if not sep or key not in ("level", "from", "to", "param", "template", *HEADER_FIELDS):
            parts.append(fold(pl.col("message")).str.contains(fold_text(term), literal=True))
            continue
        if not value:
            raise UsageError(f"{key}: has no value", HINT)
        if key == "level":
            levels = [v.strip().upper() for v in value.split(",") if v.strip()]
            parts.append(pl.col("level").cast(pl.String).str.to_uppercase().is_in(levels))
        elif key in ("from", "to"):
            if "timestamp" not in schema:
                raise UsageError("this log has no timestamps", "filter by level, text or a field instead")
            at = _time(value, key)
            ts = pl.col("timestamp")
            tz = getattr(schema["timestamp"], "time_zone", None)
            bound = pl.lit(at).dt.replace_time_zone(tz) if tz and at.tzinfo is None else pl.lit(at)
            parts.append(ts >= bound if key == "from" else ts <= bound)
        elif key == "template":
            try:
                parts.append(pl.col("template_id") == int(value))
            except ValueError:
                raise UsageError(f"template:{value} is not a template id", "use the number in the id column") from None
        elif key == "param":
            if "params" in schema:
                parts.append(pl.col("params").list.eval(fold(pl.element()) == fold_text(value)).list.any())
            else:  # no parameter column: the value anywhere in the message
                parts.append(fold(pl.col("message")).str.contains(fold_text(value), literal=True))
        else:
            if key not in schema:
                have = ", ".join(fields) or "none"
                raise UsageError(f"this log has no {key} field", f"fields found in this log: {have}")
            parts.append(fold(pl.col(key)) == fold_text(value))
    expr = parts[0]
    for p in parts[1:]:
        expr = expr & p
    return LogFilter(expr.fill_null(False), text)
