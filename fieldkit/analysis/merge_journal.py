"""A TUI annotation journal as a merge input: the tags and notes it leaves on each row key.

Why: a laptop can hand over its small journal instead of a whole Parquet copy. Every row op
in a journal carries its row's key (`fieldkit.rowkeys`: the survey id, else a hash of the
values), which is the key the merge matches rows by, so no row positions are trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import polars as pl

from fieldkit.analysis.merge import KEY, TAGS, TIME_COLUMN
from fieldkit.conflicts import later_time


@dataclass
class JournalState:
    """Per key: tags, note and the time of its last change; and the ops that could not be used."""

    frame: pl.DataFrame
    used: int
    without_key: int
    ignored: int


def replay(ops: Iterable[dict[str, Any]]) -> JournalState:
    """Replay a journal's row ops by key (tags added or removed, notes set or cleared, tag renames)."""
    tags: dict[str, set[str]] = {}
    notes: dict[str, str] = {}
    times: dict[str, str] = {}
    used = without_key = ignored = 0
    for op in ops:
        kind = op.get("op")
        if kind == "header":
            continue
        if kind == "tag_rename":
            old, new = str(op.get("old")), str(op.get("new"))
            for key, ts in tags.items():
                if old in ts:
                    ts.discard(old)
                    ts.add(new)
                    _touch(times, key, op)
            used += 1
            continue
        if kind == "resolve" and op.get("field") == "note":  # a side picked for a note conflict
            op = {**op, "op": "note", "text": op.get("value")}
            kind = "note"
        if kind not in ("tag", "note"):
            ignored += 1  # themes found on one laptop are not comparable with another's
            continue
        key = op.get("key")
        if not isinstance(key, str):
            without_key += 1  # an old journal: row positions alone could land on the wrong record
            continue
        if kind == "tag":
            current = tags.setdefault(key, set())
            (current.add if op.get("on") else current.discard)(str(op.get("tag")))
        else:
            text = op.get("text") or ""
            if text:
                notes[key] = str(text)
            else:
                notes.pop(key, None)
        _touch(times, key, op)
        used += 1
    keys = sorted(k for k in set(tags) | set(notes) if tags.get(k) or k in notes)
    frame = pl.DataFrame({
        KEY: pl.Series(keys, dtype=pl.String),
        TAGS: pl.Series([sorted(tags.get(k, ())) for k in keys], dtype=pl.List(pl.String)),
        "note": pl.Series([notes.get(k) for k in keys], dtype=pl.String),
        TIME_COLUMN: pl.Series([times.get(k) for k in keys], dtype=pl.String),
    })
    if frame[TIME_COLUMN].null_count() == frame.height:
        frame = frame.drop(TIME_COLUMN)
    return JournalState(frame, used, without_key, ignored)


def _touch(times: dict[str, str], key: str, op: dict[str, Any]) -> None:
    when = later_time(times.get(key), op.get("at"))  # parsed, in UTC; forged future times ignored
    if when is not None:
        times[key] = when
