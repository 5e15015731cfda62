"""Checks inside repeat groups (household members, water points ...): one table row per repeat item.

Kobo and ODK exports keep a repeat's answers apart from the submission: an Excel export has a
sheet per repeat (linked by `_submission__uuid` or `_parent_index`), a JSON export a list of
records per submission. Each item is joined to its submission's answers (the form's logic may
read both, e.g. `${age} < 18 and ${hh_size} > 1`) and checked with the same constraint,
relevant and required rules as the main table; its findings land on the submission, with the
repeat and the item's position in the detail.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fieldkit.analysis import checks_rules as rules
from fieldkit.analysis.checks_rules import ROW

PARENT = "__parent"
ITEM = "__item"
LINKS = (("_submission__uuid", ("_uuid", "X_uuid", "uuid", "meta/instanceID", "instanceID")),
         ("_parent_index", ("_index",)))


def repeat_names(form: Any) -> list[str]:
    """The form's top-level repeat groups, in form order (nested repeats are not checked)."""
    return list(dict.fromkeys(q.repeats[0] for q in form.questions if q.repeats))


def _nested(form: Any) -> list[str]:
    return sorted({q.repeats[-1] for q in form.questions if len(q.repeats) > 1})


def _list_column(schema: pl.Schema, name: str) -> str | None:
    """The JSON export's column holding a repeat: a list of records named like the repeat."""
    for c in schema.names():
        dt = schema[c]
        if isinstance(dt, pl.List) and isinstance(dt.inner, pl.Struct) \
                and c.replace(".", "/").split("/")[-1] == name:
            return c
    return None


RESERVED = (ROW, PARENT, ITEM)


def _from_list(main: pl.LazyFrame, schema: pl.Schema, col: str, name: str,
               skipped: list[str]) -> pl.DataFrame | None:
    fields = [f.name for f in schema[col].inner.fields]
    if any(f in RESERVED for f in fields):  # a record key that would overwrite the item's link
        skipped.append(f"repeat {name}: a field is named like fieldkit's own columns {RESERVED}")
        return None
    items = (main.select(pl.col(ROW).alias(PARENT), pl.col(col))
             .explode(col).filter(pl.col(col).is_not_null())
             .with_columns((pl.int_range(pl.len()).over(PARENT) + 1).alias(ITEM))
             .unnest(col).collect())
    return items


def _from_sheet(main: pl.LazyFrame, schema: pl.Schema, sheet: pl.DataFrame, name: str,
                skipped: list[str]) -> pl.DataFrame | None:
    sheet = sheet.drop([c for c in RESERVED if c in sheet.columns])  # fieldkit's own names
    for link, parent_cols in LINKS:
        if link not in sheet.columns:
            continue
        pcol = next((c for c in parent_cols if c in schema.names()), None)
        if pcol is None:
            continue
        keys = main.select(pl.col(ROW).alias(PARENT), pl.col(pcol).cast(pl.String).alias("__link")).collect()
        rows = (sheet.with_columns(pl.col(link).cast(pl.String).alias("__link"))
                .join(keys, on="__link", how="left", maintain_order="left").drop("__link"))
        orphans = rows.filter(pl.col(PARENT).is_null()).height
        if orphans:
            skipped.append(f"repeat {name}: {orphans} items whose submission is not in the export")
        return (rows.filter(pl.col(PARENT).is_not_null())
                .with_columns((pl.int_range(pl.len()).over(PARENT) + 1).alias(ITEM)))
    skipped.append(f"repeat {name}: its sheet has no _submission__uuid or _parent_index column "
                   f"linking items to submissions")
    return None


def repeat_findings(ctx: Any, sheets: dict[str, pl.DataFrame], build_context) -> pl.DataFrame:
    """Constraint, relevant and required findings of every repeat item, on the item's submission.

    `build_context` is checks.build_context, passed in so the two modules do not import each other.
    """
    form = ctx.form
    if form is None:
        return rules.empty()
    for name in _nested(form):
        ctx.skipped.append(f"repeat {name}: repeats inside repeats are not checked")
    out = []
    for name in repeat_names(form):
        col = _list_column(ctx.schema, name)
        sheet = sheets.get(name)
        if col is not None:
            items = _from_list(ctx.lf, ctx.schema, col, name, ctx.skipped)
        elif sheet is not None:
            items = _from_sheet(ctx.lf, ctx.schema, sheet, name, ctx.skipped)
        else:
            continue
        if items is None or not items.height:
            continue
        parent_cols = [c for c in ctx.columns if c not in items.columns
                       and c != col and not isinstance(ctx.schema[c], pl.List)]
        # collected in the items' order: every later pass numbers the same rows the same way
        joined = items.join(ctx.lf.select(pl.col(ROW).alias(PARENT), *parent_cols).collect(),
                            on=PARENT, how="left", maintain_order="left")
        sub = build_context(joined.lazy(), ctx.cfg, None, form, ctx.lang, None)
        specs: list[rules.Spec] = []
        frames = []
        if ctx.cfg["constraints"]["enabled"] or ctx.cfg["relevant"]["enabled"]:
            specs += rules.form_rules(sub, repeat=name)
        if ctx.cfg["required"]["enabled"]:
            req_specs, req_frame = rules.required(sub, repeat=name)
            specs += req_specs
            frames.append(req_frame.with_columns(
                pl.concat_str(pl.lit(f"in repeat {name}: "), pl.col("detail")).alias("detail")))
        ctx.skipped.extend(s for s in sub.skipped if s not in ctx.skipped)
        found = rules.run_specs(sub, specs)
        if found.height:
            where = sub.lf.select(pl.col(ROW).cast(pl.UInt32), PARENT, ITEM).collect()
            found = (found.join(where, left_on="row", right_on=ROW, how="left", maintain_order="left")
                     .with_columns(pl.col(PARENT).cast(pl.UInt32).alias("row"),
                                   pl.concat_str(pl.lit(f"in repeat {name}, item "),
                                                 pl.col(ITEM).cast(pl.String), pl.lit(": "),
                                                 pl.col("detail")).alias("detail"))
                     .select(rules.FINDING_SCHEMA.keys()))
            frames.append(found)
        out += [f for f in frames if f.height]
    return pl.concat([f.cast(rules.FINDING_SCHEMA) for f in out]) if out else rules.empty()
