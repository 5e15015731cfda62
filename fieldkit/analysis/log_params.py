"""Per-line parameters: the strings that fill a template's `<*>` in order.

Why: a template says which event a line is; its parameters (a block id, an IP, a user) are
what an engineer filters on, and putting them back into the template must give the message
again (drain3's most requested missing feature). Each template becomes one anchored regex with
a lazy group per `<*>`, run by Polars over that template's lines only.
"""

from __future__ import annotations

import re

import polars as pl

from fieldkit.analysis.logtemplates import WILDCARD

_META = set(r"\.+*?()|[]{}^$#&-~")
PARAMS_DTYPE = pl.List(pl.String)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def template_regex(template: str, loose: bool = False) -> str:
    """Anchored regex with one lazy group per `<*>` (`loose`: any run of spaces matches any other)."""
    parts = [_escape(p) for p in template.split(WILDCARD)]
    if loose:
        parts = [re.sub(r"\s+", lambda _: r"\s+", p) for p in parts]
    return "^" + "(.*?)".join(parts) + "$"


def fill(template: str, params: list[str] | None) -> str:
    """The template with its `<*>` replaced by params, in order (the inverse of line_params)."""
    parts = template.split(WILDCARD)
    params = [] if params is None else list(params)
    out = [parts[0]]
    for i, p in enumerate(parts[1:]):
        out += [params[i] if i < len(params) else WILDCARD, p]
    return "".join(out)


def _extract(lines: pl.Series, template: str, loose: bool) -> pl.Series:
    n = template.count(WILDCARD)
    g = lines.to_frame("m").select(pl.col("m").str.extract_groups(template_regex(template, loose)).alias("g"))
    fields = [pl.col("g").struct.field(str(i + 1)) for i in range(n)]
    ok = pl.col("g").struct.field("1").is_not_null()
    return g.select(pl.when(ok).then(pl.concat_list(fields)).otherwise(None).alias("params"))["params"]


def line_params(messages: pl.Series, ids: pl.Series, templates: dict[int, str]) -> pl.Series:
    """List[str] per line: the values of its template's `<*>` in the message's first line.

    Lines whose spacing differs from their template between two constant words get the values
    from a spacing-tolerant match instead; a line no regex fits gets null.
    """
    first = messages.str.split("\n").list.first().fill_null("")
    df = pl.DataFrame({"m": first, "t": ids}).with_row_index("_i")
    parts = []
    for (tid,), part in df.partition_by("t", as_dict=True, maintain_order=True).items():
        template = templates.get(tid) if tid is not None else None
        if template is None:
            parts.append(part.select("_i", pl.lit(None, dtype=PARAMS_DTYPE).alias("params")))
            continue
        if WILDCARD not in template:
            vals = pl.Series("params", [[]] * part.height, dtype=PARAMS_DTYPE)
        else:
            vals = _extract(part["m"], template, loose=False)
            if vals.null_count():
                loose = _extract(part["m"], template, loose=True)
                vals = vals.zip_with(vals.is_not_null(), loose)
        parts.append(part.select("_i").with_columns(vals.alias("params")))
    if not parts:
        return pl.Series("params", [], dtype=PARAMS_DTYPE)
    return pl.concat(parts).sort("_i")["params"].cast(PARAMS_DTYPE)
