"""High-frequency checks on a survey export: one row per finding, and summaries per check and enumerator.

The checks survey teams run every evening (duplicates, interview length, enumerator
patterns, 'other' answers to recode, form constraints and skip logic, GPS, numeric
outliers), each switchable and tuned in CHECKS.toml. The form (XLSForm), when given, says
which columns are questions and carries the logic; without it the survey roles found in
the export (metadata, select_multiple options, GPS, timestamps) are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from fieldkit.analysis import checks_rules as rules
from fieldkit.analysis.checks_config import CHECKS, load_config
from fieldkit.analysis.checks_context import Context
from fieldkit.analysis.checks_rules import FINDING_SCHEMA, ROW
from fieldkit.errors import UsageError
from fieldkit.progress import Reporter

OUTPUT_COLUMNS = ["uuid", "check", "column", "value", "detail", "severity", "enumerator", "row"]
ID_KEYS = ("uuid", "instanceid", "key")
ENUMERATOR_HINTS = ("enumerator", "interviewer", "enum_", "surveyor", "username", "submitted_by",
                    "submittername", "deviceid")

PERSON_RE = re.compile(r"[_.\-/](id|num|number|no|name|code)$")
R_NONAME_RE = re.compile(r"^(\d*|unnamed: ?\d+|\.\.\.\d+)$")  # R's X, X.1 and pandas' Unnamed: 0


@dataclass
class CheckResult:
    findings: pl.DataFrame
    by_check: pl.DataFrame
    by_enumerator: pl.DataFrame
    roles: dict[str, Any]
    skipped: list[str]
    models: list[dict[str, Any]]


def _require(schema: pl.Schema, name: str, what: str) -> str:
    if name not in schema:
        import difflib

        close = difflib.get_close_matches(name, schema.names(), n=3, cutoff=0.5)
        raise UsageError(f"{what} column {name!r} is not in the data",
                         "did you mean: " + ", ".join(repr(c) for c in close) if close
                         else "run `fieldkit inspect` to list the columns")
    return name


def build_context(frame: pl.LazyFrame, cfg: dict[str, Any], survey: Any = None, form: Any = None,
                  lang: str | None = None, reporter: Reporter | None = None) -> Context:
    """Find the columns' roles (ids, enumerator, start/end, GPS, questions) from config, form, export."""
    from fieldkit.io.survey import META, meta_key
    from fieldkit.io.xlsform import META_TYPES, match_columns

    lf = frame.with_row_index(ROW)
    schema = lf.collect_schema()
    names = [c for c in schema.names() if c != ROW]
    keys_of = {c: meta_key(c) for c in names}
    match = match_columns(form, names) if form is not None else None
    if form is not None:
        form.language(lang)  # an unknown --lang is a usage error before any work
    # ids
    if cfg["id_column"]:
        ids = [_require(schema, cfg["id_column"], "id")]
    else:
        ids = [c for k in ID_KEYS for c in names if keys_of[c] == k and (k != "key" or c == "KEY")]
    key_col = ids[0] if ids else None
    # enumerator
    if cfg["enumerator"]:
        enum = _require(schema, cfg["enumerator"], "enumerator")
    else:
        enum = _guess_enumerator(names, keys_of)
    # start / end
    start, end = _times(cfg, schema, names, keys_of, form, match)
    # question columns
    options = sorted({c for o in (match.options.values() if match else []) for c in o.values()}
                     | {c for sm in (survey.select_multiple if survey else []) if sm.get("column")
                        for c in sm["options"]})
    meta = ({c for c in names if keys_of[c] in META or R_NONAME_RE.match(keys_of[c])} | set(ids)
            | ({enum} if enum else set()))
    gps = _gps(cfg, schema, survey, form, match)
    gps_cols = set(gps) if gps else set()
    if survey is not None:
        gps_cols |= {c for g in survey.gps for k, c in g.items() if k != "base" and c}
    if form is not None:
        qcols = [match.columns[q.name] for q in form.questions
                 if q.name in match.columns and q.has_data and q.type not in META_TYPES
                 and q.type not in ("calculate", "geopoint", "hidden") and not q.in_repeat]
        answer = [c for c in dict.fromkeys(qcols) if c not in meta]
        numeric = [match.columns[q.name] for q in form.questions
                   if q.is_numeric and q.name in match.columns and not q.in_repeat]
    else:
        skip = meta | set(options) | gps_cols
        answer = [c for c in names if c not in skip and not schema[c].is_temporal()]
        numeric = [c for c in answer if schema[c].is_numeric() and keys_of[c] not in META]
        numeric = _not_binary(lf, numeric)
    numeric = [c for c in numeric if c not in gps_cols and c not in meta]
    numeric = [c for c in numeric if c not in set(cfg["outliers"]["exclude"])]
    if cfg["outliers"]["columns"]:
        numeric = [_require(schema, c, "outlier") for c in cfg["outliers"]["columns"]]
    if gps and gps[0] not in schema:  # derived from a geopoint string column
        lf = lf.with_columns(*_split_geopoint(gps))
        schema = lf.collect_schema()
    key_expr = (pl.col(key_col).cast(pl.String) if key_col else pl.lit(None, pl.String))
    keys = lf.select(pl.col(ROW), pl.coalesce(key_expr, pl.format("row {}", pl.col(ROW) + 1))
                     .alias("uuid"),
                     (pl.col(enum).cast(pl.String) if enum else pl.lit(None, pl.String))
                     .alias("enumerator")).collect()
    ctx = Context(lf=lf, schema=schema, cfg=cfg, keys=keys, key_column=key_col, id_columns=ids,
                  enumerator=enum, start=start, end=end, gps=gps, answer_columns=answer,
                  numeric_columns=numeric, option_columns=options, form=form, match=match,
                  lang=form.language(lang) if form is not None else None, reporter=reporter)
    if form is not None:
        from fieldkit.analysis.checks_expr import Column, Compiler, ExprUnsupported

        def resolve(name: str) -> Column:
            if name not in form.by_name:
                from fieldkit.analysis.checks_expr import ExprError

                raise ExprError(f"the form refers to ${{{name}}}, which is not a question in it",
                                "fix the expression in the form")
            col = match.columns.get(name)
            if col is None:
                raise ExprUnsupported(f"${{{name}}} is not in the data")
            return Column(col, schema[col], match.options.get(name))

        ctx.compiler = Compiler(resolve)
    return ctx


def _guess_enumerator(names: list[str], keys_of: dict[str, str]) -> str | None:
    for hint in ENUMERATOR_HINTS:
        found = [c for c in names if hint in keys_of[c]]
        if found:
            # enumerator_org vs enumerator_id: prefer the one naming a person
            found.sort(key=lambda c: not PERSON_RE.search(keys_of[c]))
            return found[0]
    return None


def _times(cfg, schema, names, keys_of, form, match) -> tuple[str | None, str | None]:
    d = cfg["duration"]
    if d["start"] or d["end"]:
        if not (d["start"] and d["end"]):
            raise UsageError("duration needs both start and end in the config",
                             'set both, e.g. start = "start" and end = "end"')
        return _require(schema, d["start"], "start"), _require(schema, d["end"], "end")
    temporal = [c for c in names if schema[c].is_temporal() and schema[c] != pl.Date]
    found: dict[str, str] = {}
    if form is not None:
        for q in form.questions:
            if q.type in ("start", "end") and q.name in match.columns:
                col = match.columns[q.name]
                if col in temporal:
                    found.setdefault(q.type, col)
    for role, exact in (("start", ("start", "starttime")), ("end", ("end", "endtime"))):
        if role not in found:
            hit = [c for c in temporal if keys_of[c] in exact] or [
                c for c in temporal if role in keys_of[c] and "submission" not in keys_of[c]]
            if hit:
                found[role] = hit[0]
    return found.get("start"), found.get("end")


def _gps(cfg, schema, survey, form, match) -> tuple[str, str] | None:
    g = cfg["gps"]
    if g["latitude"] or g["longitude"]:
        return _require(schema, g["latitude"], "latitude"), _require(schema, g["longitude"], "longitude")
    if survey is not None and survey.gps:
        return survey.gps[0]["latitude"], survey.gps[0]["longitude"]
    if form is not None:
        for q in form.questions:
            if q.type == "geopoint" and q.name in match.columns:
                col = match.columns[q.name]
                return (f"{col}\x00lat", f"{col}\x00lon")
    return None


def _split_geopoint(gps: tuple[str, str]) -> list[pl.Expr]:
    col = gps[0].split("\x00")[0]
    parts = pl.col(col).cast(pl.String).str.strip_chars().str.split(" ")
    return [parts.list.get(0, null_on_oob=True).cast(pl.Float64, strict=False).alias(gps[0]),
            parts.list.get(1, null_on_oob=True).cast(pl.Float64, strict=False).alias(gps[1])]


def _not_binary(lf: pl.LazyFrame, cols: list[str]) -> list[str]:
    if not cols:
        return []
    binary = lf.select([pl.col(c).drop_nulls().cast(pl.Float64).is_in([0.0, 1.0]).all().alias(c)
                        for c in cols]).collect().row(0, named=True)
    return [c for c in cols if not binary[c]]


def run_checks(frame: pl.LazyFrame, *, survey: Any = None, form: Any = None,
               config: dict[str, Any] | None = None, lang: str | None = None,
               reporter: Reporter | None = None,
               repeats: dict[str, pl.DataFrame] | None = None) -> CheckResult:
    """Run every enabled check; findings carry the submission key and enumerator of their row.

    `repeats` maps a repeat group's name to its own table (an Excel export's repeat sheet);
    repeats held as lists of records in the main table (JSON exports) are found without it.
    """
    from fieldkit.analysis import checks_other

    cfg = config if config is not None else load_config()
    ctx = build_context(frame, cfg, survey, form, lang, reporter)
    enabled = [c for c in CHECKS if cfg[c]["enabled"]]
    specs: list = []  # row-level rules (checks_rules.Spec), run together in two passes
    eager: list[pl.DataFrame] = []
    rep = reporter.child("checking", len(enabled)) if reporter else None
    for i, name in enumerate(enabled):
        if rep is not None:
            rep.update(i, name)
        if name == "duplicates":
            eager.append(rules.duplicate_ids(ctx))
            if cfg["duplicates"]["near"]:
                eager.append(rules.near_duplicates(ctx))
        elif name == "duration":
            specs += rules.duration(ctx)
            if not (ctx.start and ctx.end):
                ctx.skipped.append("duration: no start/end timestamp columns found")
        elif name == "enumerators":
            eager.append(rules.enumerators(ctx))
            if not ctx.enumerator:
                ctx.skipped.append("enumerators: no enumerator column found (set enumerator = ...)")
        elif name == "other":
            eager.append(checks_other.other_specify(ctx))
        elif name in ("constraints", "relevant"):
            if name == "constraints" or not cfg["constraints"]["enabled"]:
                specs += rules.form_rules(ctx)
            if form is None and name == "constraints":
                ctx.skipped.append("constraints, relevant and required: need the form (--form)")
        elif name == "required":
            if form is None:
                if not cfg["constraints"]["enabled"]:  # else the constraints note says it
                    ctx.skipped.append("required: needs the form (--form)")
            else:
                req_specs, req_frame = rules.required(ctx)
                specs += req_specs
                eager.append(req_frame)
        elif name == "gps":
            specs += rules.gps(ctx)
        elif name == "outliers":
            specs += rules.outliers(ctx)
    if form is not None and any(cfg[c]["enabled"] for c in ("constraints", "relevant", "required")):
        from fieldkit.analysis.checks_repeat import repeat_findings

        eager.append(repeat_findings(ctx, repeats or {}, build_context))
    if rep is not None:
        rep.update(len(enabled), "collecting")
    parts = [rules.run_specs(ctx, specs)]
    allf = pl.concat([p.cast(FINDING_SCHEMA) for p in parts + eager])
    order = {c: i for i, c in enumerate(["duplicate_id", "near_duplicate", "duration", "enumerator",
                                         "other_specify", "constraint", "relevant", "required", "gps",
                                         "outlier"])}
    out = (allf.join(ctx.keys.with_columns(pl.col(ROW).cast(pl.UInt32)), left_on="row",
                     right_on=ROW, how="left", suffix="_k")
           .with_columns(pl.coalesce("enumerator", "enumerator_k").alias("enumerator"))
           .with_columns(pl.col("check").replace_strict(order, default=99).alias("__o"))
           .sort("__o", "row", "column", "enumerator", "value", "detail", nulls_last=True)
           .select(OUTPUT_COLUMNS))
    if rep is not None:
        rep.finish()
    return CheckResult(out, summarize_by_check(out), summarize_by_enumerator(out, ctx.keys),
                       roles(ctx), ctx.skipped, ctx.models)


def roles(ctx: Context) -> dict[str, Any]:
    return {"key": ctx.key_column, "ids": ctx.id_columns, "enumerator": ctx.enumerator,
            "start": ctx.start, "end": ctx.end,
            "gps": [c.replace("\x00", ":") for c in ctx.gps] if ctx.gps else None,
            "questions": len(ctx.answer_columns), "numeric": len(ctx.numeric_columns),
            "rows": ctx.keys.height, "other_groups": ctx.other_groups}


def summarize_by_check(findings: pl.DataFrame) -> pl.DataFrame:
    """Per check and severity: findings, submissions concerned, columns concerned."""
    return (findings.group_by("check", "severity", maintain_order=True)
            .agg(pl.len().alias("findings"), pl.col("row").drop_nulls().n_unique().alias("submissions"),
                 pl.col("column").n_unique().alias("columns")))


def summarize_by_enumerator(findings: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Per enumerator: submissions, findings, submissions with an error, and findings by check."""
    if keys["enumerator"].null_count() == keys.height:
        return pl.DataFrame()
    subs = keys.group_by("enumerator").agg(pl.len().alias("submissions"))
    f = findings.filter(pl.col("enumerator").is_not_null())
    per = f.group_by("enumerator").agg(
        pl.len().alias("findings"),
        pl.col("row").filter(pl.col("severity") == "error").drop_nulls().n_unique()
        .alias("with_error"))
    wide = (f.group_by("enumerator", "check").agg(pl.len().alias("n"))
            .with_columns(pl.format("n_{}", pl.col("check")).alias("check"))
            .pivot(on="check", index="enumerator", values="n", sort_columns=True)) if f.height else None
    out = subs.join(per, on="enumerator", how="left")
    if wide is not None:
        out = out.join(wide, on="enumerator", how="left")
    return (out.fill_null(0).with_columns((pl.col("findings") / pl.col("submissions")).round(2)
                                          .alias("per_submission"))
            .sort("per_submission", "enumerator", descending=[True, False]))
