"""Which report sections an input gets, told from its columns and its provenance steps.

Why columns first: they are the contract (DESIGN.md); provenance only names the text column
the examples come from and which job ran, and a Parquet written by another tool has none.
"""

from __future__ import annotations

from typing import Any

KINDS = ("themes", "codes", "dupes", "checks", "logs", "survey")
LOG_COLUMNS = {"template_id", "template", "level", "timestamp"}
CHECK_COLUMNS = {"check", "severity", "detail", "uuid"}


def operations(provenance: dict[str, Any] | None) -> list[str]:
    return [str(s.get("operation")) for s in (provenance or {}).get("steps", []) if isinstance(s, dict)]


def step_of(provenance: dict[str, Any] | None, operation: str) -> dict[str, Any] | None:
    """The last provenance step of `operation`, or None."""
    steps = [s for s in (provenance or {}).get("steps", []) if isinstance(s, dict)
             and s.get("operation") == operation]
    return steps[-1] if steps else None


def detect(columns: list[str], provenance: dict[str, Any] | None,
           survey_roles: tuple[str | None, str | None] = (None, None)) -> list[str]:
    """The kinds of section this input gets, in KINDS order (may be empty)."""
    cols = set(columns)
    ops = set(operations(provenance))
    found: list[str] = []
    if LOG_COLUMNS <= cols:
        return ["logs"]
    if CHECK_COLUMNS <= cols or ("check" in ops and {"check", "severity"} <= cols):
        return ["checks"]
    if {"theme_id", "theme_label"} <= cols:
        found.append("themes")
    if {"code", "code_score"} <= cols:
        found.append("codes")
    if "dup_group" in cols:
        found.append("dupes")
    if any(survey_roles):
        found.append("survey")
    return found


def text_column(provenance: dict[str, Any] | None, columns: list[str], *operations_: str) -> str | None:
    """The answers' column a job worked on (its step's `column` parameter), when it is still there."""
    for op in operations_:
        step = step_of(provenance, op)
        col = ((step or {}).get("parameters") or {}).get("column")
        if isinstance(col, str) and col in columns:
            return col
    return None


def survey_roles(schema) -> tuple[str | None, str | None]:
    """(enumerator column, submission time column) of a survey export, or None for each.

    Uses the same enumerator guess as `fieldkit check`, and the export's own times
    (submission time first, then start, then a date question).
    """
    from fieldkit.analysis.checks import _guess_enumerator
    from fieldkit.io.survey import meta_key

    names = list(schema.names())
    keys_of = {c: meta_key(c) for c in names}
    enum = _guess_enumerator(names, keys_of)
    temporal = [c for c in names if schema[c].is_temporal()]
    when = None
    for wanted in (("submission_time", "submissiondate"), ("start", "starttime"), ("today",)):
        hit = [c for c in temporal if keys_of[c] in wanted]
        if hit:
            when = hit[0]
            break
    if when is None:
        hit = [c for c in temporal if "date" in keys_of[c] or "start" in keys_of[c]]
        when = hit[0] if hit else None
    return enum, when
