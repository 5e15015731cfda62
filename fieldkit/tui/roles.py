"""What `inspect` knows about a survey's columns, for the screen: roles, option groups, hints.

Roles come from the loader's survey detection (`Dataset.survey`: metadata, select_multiple
groups, GPS, timestamps); free text is told by its values. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fieldkit.tui.model import short_dtype

TEXT_SAMPLE = 2000
TEXT_MIN_WORDS = 3.0      # mean words per answer: open answers, not codes or names
TEXT_MIN_DISTINCT = 0.5   # share of distinct answers among the non-empty ones


def display_name(name: str) -> str:
    """A header as people wrote it: CSV-doubled quotes (`""Other""`) shown once."""
    return name.replace('""', '"')


@dataclass
class ColumnEntry:
    """One line of the column picker."""

    name: str
    dtype: str
    role: str = ""
    parent: str | None = None  # the select_multiple question an option column belongs to


@dataclass
class ColumnFacts:
    """Extra lines for a column's profile."""

    role: str = ""
    options: list[tuple[str, int]] = field(default_factory=list)  # option -> rows that chose it
    answered: int = 0
    hints: list[str] = field(default_factory=list)


def survey_roles(ds: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(column -> role, option column -> its question) from the loader's survey detection."""
    roles: dict[str, str] = {}
    parents: dict[str, str] = {}
    info = getattr(ds, "survey", None)
    if info is None:
        return roles, parents
    for c in info.metadata:
        roles[c] = "metadata"
    for t in info.timestamps:
        roles.setdefault(t["column"], "timestamp")
    for g in info.gps:
        roles[g.get("combined") or g["base"]] = "GPS"
        for part in ("latitude", "longitude", "altitude", "precision"):
            if g.get(part):
                roles[g[part]] = f"GPS {part}"
    for sm in info.select_multiple:
        roles[sm["column"]] = f"select_multiple ({len(sm['options'])} options)"
        for opt in sm["options"]:
            roles[opt] = f"option of {sm['column']}"
            parents[opt] = sm["column"]
    return roles, parents


def is_free_text(s: pl.Series) -> bool:
    """Open answers: mostly distinct values of several words."""
    if s.dtype != pl.String:
        return False
    v = s.drop_nulls().head(TEXT_SAMPLE)
    v = v.filter(v.str.strip_chars() != "")
    if v.len() < 5:
        return False
    words = v.str.split(" ").list.len().mean() or 0.0
    return words >= TEXT_MIN_WORDS and v.n_unique() / v.len() >= TEXT_MIN_DISTINCT


def column_entries(ds: Any, frame: pl.DataFrame, columns: list[str]) -> list[ColumnEntry]:
    """Every column with its type and role; option columns listed right under their question."""
    roles, parents = survey_roles(ds)
    schema = frame.schema
    entries: dict[str, ColumnEntry] = {}
    for c in columns:
        role = roles.get(c, "")
        if not role and c in schema and is_free_text(frame.get_column(c)):
            role = "free text"
        entries[c] = ColumnEntry(c, short_dtype(schema[c]) if c in schema else "", role, parents.get(c))
    out: list[ColumnEntry] = []
    for c in columns:
        if entries[c].parent is not None and entries[c].parent in entries:
            continue  # placed under its question
        out.append(entries[c])
        out.extend(entries[o] for o in columns if entries[o].parent == c)
    return out


def column_facts(ds: Any, frame: pl.DataFrame, column: str) -> ColumnFacts:
    """The role, a select_multiple question counted by option (not by combination), and hints."""
    roles, parents = survey_roles(ds)
    facts = ColumnFacts(role=roles.get(column, ""))
    info = getattr(ds, "survey", None)
    question = next((sm for sm in (info.select_multiple if info else []) if sm["column"] == column), None)
    if question is not None and column in frame.columns:
        facts.answered = frame.height - frame.get_column(column).null_count()
        options = [o for o in question["options"] if o in frame.columns]
        if options:
            counts = frame.select(pl.col(o).cast(pl.Float64).fill_null(0).gt(0).sum() for o in options).row(0)
            sep = question.get("separator") or "/"
            facts.options = sorted(((o[len(column) + len(sep):] if o.startswith(column + sep) else o, int(n))
                                    for o, n in zip(options, counts)), key=lambda x: -x[1])
        else:  # no option columns: split the answers, each option counted once per row
            s = frame.get_column(column).cast(pl.String).str.split(" ").list.unique().explode().drop_nulls()
            facts.options = [(str(v), int(n)) for v, n in s.filter(s != "").value_counts(sort=True).iter_rows()]
    if column in frame.columns and frame.schema[column] == pl.String:
        facts.hints.extend(space_hints(frame.get_column(column)))
    return facts


def space_hints(s: pl.Series) -> list[str]:
    """Values that differ only by spaces at the ends are counted apart: say so."""
    v = s.drop_nulls()
    padded = int((v != v.str.strip_chars()).sum())
    if not padded:
        return []
    merged = v.n_unique() - v.str.strip_chars().n_unique()
    text = f"{padded:,} values have spaces at the start or end"
    if merged:
        text += f"; {merged:,} of the distinct values are the same once trimmed (e.g. 'x' and 'x ')"
    return [text]
