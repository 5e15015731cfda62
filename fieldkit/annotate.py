"""Row annotations (tags, notes, themes) journaled to a sidecar and applied to a frame as columns.

The terminal interface records every change here as it is made: each change is one JSON line
appended to a journal beside the data file (fsynced within a couple of seconds), so a crash or
power cut loses at most a few seconds of work; replaying the journal on reopen restores the
state. Saving applies the state to the frame as ordinary columns (`tags`, `note`, `theme_*`).
Rows are identified by their position in the loaded file (0-based), and every row op also
records the row's key (the survey's record id, else a hash of its values: `fieldkit.rowkeys`),
so that after the file changed (re-sorted, re-exported, rows swapped) each annotation follows
its record, and one whose record is gone is dropped with a note instead of landing elsewhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from fieldkit.config import fieldkit_home
from fieldkit.files import write_text_atomic
from fieldkit.rowkeys import RowKeys

JOURNAL_VERSION = 1
SYNC_INTERVAL = 2.0  # seconds: the most work a power cut can take
ANNOTATION_COLUMNS = ("tags", "note", "theme_id", "theme_label", "theme_score", "theme_reviewed",
                      "merge_conflicts", "annotated_at")  # the last two: made by `fieldkit merge`


def journal_path_for(source: str | os.PathLike, part: str | None = None) -> Path:
    """The sidecar journal for a data file (and sheet): beside it if writable, else in FIELDKIT_HOME."""
    source = Path(source).resolve()
    name = source.name
    if part:
        name += "." + "".join(c if c.isalnum() or c in "-_" else "_" for c in part)
    beside = source.with_name(name + ".fieldkit-journal.jsonl")
    if beside.exists() or os.access(source.parent, os.W_OK):
        return beside
    digest = hashlib.sha1(str(source).encode("utf-8")).hexdigest()[:16]
    return fieldkit_home() / "journals" / f"{name}.{digest}.jsonl"


def file_fingerprint(source: str | os.PathLike) -> dict[str, Any]:
    """Cheap identity of a data file (size and mtime) to detect that it changed under a journal."""
    st = Path(source).stat()
    return {"size": st.st_size, "mtime": int(st.st_mtime)}


class Journal:
    """Append-only JSONL writer: every op is flushed at once and fsynced within SYNC_INTERVAL.

    The file is created at the first change, so merely looking at a dataset leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, header: dict[str, Any] | None = None, beside: bool = True):
        self.path = Path(path)
        self.header = header or {}
        self.beside = beside  # False: the data folder was not writable, the journal is in FIELDKIT_HOME
        self.on_create: Any = None  # called with (path, beside) when the file is first created
        self._f = None
        self._dirty = False
        self._last_sync = time.monotonic()

    def _open(self):
        if self._f is None or self._f.closed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._f = open(self.path, "a", encoding="utf-8")
            if new:
                self._f.write(json.dumps({"op": "header", "version": JOURNAL_VERSION, **self.header},
                                         ensure_ascii=False, separators=(",", ":")) + "\n")
                if self.on_create is not None:
                    self.on_create(self.path, self.beside)
        return self._f

    def append(self, op: dict[str, Any]) -> None:
        self._open().write(json.dumps(op, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._f.flush()
        self._dirty = True
        if time.monotonic() - self._last_sync >= SYNC_INTERVAL:
            self.sync()

    def sync(self) -> None:
        """fsync pending lines; the UI calls this on a timer so idle periods are covered too."""
        if self._dirty and self._f is not None and not self._f.closed:
            os.fsync(self._f.fileno())
            self._dirty = False
        self._last_sync = time.monotonic()

    def reset(self, header: dict[str, Any] | None = None) -> None:
        """Start over with only a header: used once the annotations are saved into the file itself."""
        self.close()
        write_text_atomic(self.path, json.dumps({"op": "header", "version": JOURNAL_VERSION, **(header or {})},
                                                ensure_ascii=False, separators=(",", ":")) + "\n")
        self.header = header or {}
        self._f = None
        self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty

    def close(self) -> None:
        if self._f is not None and not self._f.closed:
            self.sync()
            self._f.close()


def read_journal(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All ops of a journal; a torn last line (crash mid-write) is skipped, not fatal."""
    path = Path(path)
    if not path.exists():
        return []
    ops = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                op = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(op, dict) and "op" in op:
                ops.append(op)
    return ops


@dataclass
class ThemeState:
    """Themes found on one column: per-row ids (-1 = none), labels, scores, reviewed ids."""

    column: str
    row_ids: dict[int, int]
    labels: dict[int, str]
    scores: dict[int, float] = field(default_factory=dict)
    reviewed: set[int] = field(default_factory=set)
    info: dict[int, dict[str, Any]] = field(default_factory=dict)  # keywords, examples per theme
    model: str | None = None  # the embedding model that found them

    def renamed(self) -> bool:
        """Whether the analyst renamed a theme (info keeps the label the job gave it, when known)."""
        return any(self.info.get(t, {}).get("label", label) != label for t, label in self.labels.items())

    def sizes(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for t in self.row_ids.values():
            out[t] = out.get(t, 0) + 1
        return out


class Annotations:
    """The annotation state of one dataset, with undo; every change goes to the journal first."""

    def __init__(self, journal: Journal | None = None):
        self.tags: dict[int, set[str]] = {}
        self.notes: dict[int, str] = {}
        self.themes: ThemeState | None = None
        self.resolved: dict[int, dict[str, str]] = {}  # row -> merge-conflict field -> the side picked
        self.edited_at: dict[int, str] = {}  # row -> when it was last annotated (ISO 8601, UTC)
        self.journal = journal
        self._undo: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []  # job results held until the first annotation
        self.keys: Any = None  # fieldkit.rowkeys.RowKeys: each row op also records its row's key
        self.changes = 0  # edits since the last save

    @property
    def on_journal_created(self) -> Any:
        return self.journal.on_create if self.journal is not None else None

    @on_journal_created.setter
    def on_journal_created(self, callback: Any) -> None:
        if self.journal is not None:
            self.journal.on_create = callback

    def restart_journal(self, source: str | os.PathLike) -> None:
        """The file now holds every annotation: the journal starts over against the new file."""
        if self.journal is not None:
            self.journal.reset({"source": str(Path(source).resolve()), **file_fingerprint(source)})

    # ---- changes (each returns nothing; records the inverse for undo) -------------------------

    def toggle_tag(self, row: int, tag: str) -> bool:
        """Toggle `tag` on `row`; returns whether the row has the tag now."""
        on = tag not in self.tags.get(row, set())
        self._do({"op": "tag", "row": row, "tag": tag, "on": on})
        return on

    def set_tag(self, row: int, tag: str, on: bool) -> None:
        if (tag in self.tags.get(row, set())) != on:
            self._do({"op": "tag", "row": row, "tag": tag, "on": on})

    def set_note(self, row: int, text: str) -> None:
        if self.notes.get(row, "") != text:
            self._do({"op": "note", "row": row, "text": text})

    def rename_tag(self, old: str, new: str) -> None:
        """Give a tag a name: every row tagged `old` is tagged `new` (what the Parquet `tags` hold)."""
        if old != new and any(old in tags for tags in self.tags.values()):
            self._do({"op": "tag_rename", "old": old, "new": new})

    def set_themes(self, column: str, row_ids: dict[int, int], labels: dict[int, str],
                   scores: dict[int, float] | None = None,
                   info: dict[int, dict[str, Any]] | None = None, model: str | None = None) -> None:
        """Record a themes result (theme id per row, labels, scores, keywords) as annotation columns."""
        self._do({
            "op": "themes", "column": column, "model": model,
            "rows": {str(k): v for k, v in row_ids.items()},
            "labels": {str(k): v for k, v in labels.items()},
            "scores": {str(k): round(float(v), 4) for k, v in (scores or {}).items()},
            "info": {str(k): v for k, v in (info or {}).items()},
        })

    def rename_theme(self, theme: int, label: str) -> None:
        if self.themes is None or theme not in self.themes.labels:
            raise KeyError(theme)
        if self.themes.labels[theme] != label:
            self._do({"op": "theme_label", "theme": theme, "label": label})

    def resolve(self, row: int, field: str, value: str) -> None:
        """Pick `value` for a merge conflict on `field`: the conflict closes; a note also takes the value."""
        op: dict[str, Any] = {"op": "resolve", "row": row, "field": field, "value": value}
        if field == "note":
            op["note"] = value
        self._do(op)

    def set_reviewed(self, theme: int, reviewed: bool) -> None:
        if self.themes is None:
            raise KeyError(theme)
        if (theme in self.themes.reviewed) != reviewed:
            self._do({"op": "theme_reviewed", "theme": theme, "reviewed": reviewed})

    def undo(self) -> dict[str, Any] | None:
        """Revert the last change (journaled as a new op); returns the op applied, or None."""
        if not self._undo:
            return None
        inverse = self._undo.pop()
        self._apply(inverse, record=True)
        return inverse

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    # ---- replay -------------------------------------------------------------------------------

    def replay(self, ops: Iterable[dict[str, Any]]) -> int:
        """Apply journaled ops without re-journaling them; returns how many were applied."""
        n = 0
        for op in ops:
            if op.get("op") != "header":
                self._apply(op, record=False)
                n += 1
        self._undo.clear()
        self.changes = 0
        return n

    def load_columns(self, frame: pl.DataFrame) -> None:
        """Take annotations from the columns of a previously saved fieldkit output."""
        idx = pl.int_range(pl.len(), dtype=pl.Int64).alias("_r")
        if "tags" in frame.columns and isinstance(frame.schema["tags"], pl.List):
            rows = (frame.select(idx, pl.col("tags")).filter(pl.col("tags").list.len() > 0))
            for r, tags in rows.iter_rows():
                self.tags[r] = set(tags)
        if "note" in frame.columns:
            rows = frame.select(idx, pl.col("note").cast(pl.String)).filter(
                pl.col("note").is_not_null() & (pl.col("note") != ""))
            for r, note in rows.iter_rows():
                self.notes[r] = note
        if "annotated_at" in frame.columns:
            t = pl.col("annotated_at")
            if frame.schema["annotated_at"] == pl.String:
                t = t.str.to_datetime(time_zone="UTC", strict=False)
            elif isinstance(frame.schema["annotated_at"], pl.Datetime):
                if frame.schema["annotated_at"].time_zone is None:
                    t = t.dt.replace_time_zone("UTC")
            else:
                t = pl.lit(None, pl.Datetime("us", "UTC"))
            rows = frame.select(idx, t.dt.convert_time_zone("UTC").alias("t")).filter(pl.col("t").is_not_null())
            for r, when in rows.iter_rows():
                self._touch(r, when.isoformat())
        if "theme_id" in frame.columns and "theme_label" in frame.columns:
            cols = [idx, pl.col("theme_id"), pl.col("theme_label")]
            has_score = "theme_score" in frame.columns
            has_rev = "theme_reviewed" in frame.columns
            if has_score:
                cols.append(pl.col("theme_score"))
            if has_rev:
                cols.append(pl.col("theme_reviewed"))
            sub = frame.select(cols).filter(pl.col("theme_id").is_not_null())
            if sub.height:
                state = ThemeState(column="", row_ids={}, labels={})
                for rec in sub.iter_rows(named=True):
                    t = int(rec["theme_id"])
                    state.row_ids[rec["_r"]] = t
                    state.labels.setdefault(t, rec["theme_label"] or f"theme {t}")
                    if has_score and rec["theme_score"] is not None:
                        state.scores[rec["_r"]] = float(rec["theme_score"])
                    if has_rev and rec["theme_reviewed"]:
                        state.reviewed.add(t)
                self.themes = state

    # ---- internals ----------------------------------------------------------------------------

    def _do(self, op: dict[str, Any]) -> None:
        if "row" in op and self.keys is not None:
            op["key"] = self.keys.key(int(op["row"]))
        inverse = self._inverse(op)
        self._apply(op, record=True)
        self._undo.append(inverse)

    def _inverse(self, op: dict[str, Any]) -> dict[str, Any]:
        kind = op["op"]
        if kind == "tag":
            return {**op, "on": not op["on"]}
        if kind == "tag_rename":
            return {**op, "old": op["new"], "new": op["old"]}
        if kind == "note":
            return {**op, "text": self.notes.get(op["row"], "")}
        if kind == "theme_label":
            return {**op, "label": self.themes.labels[op["theme"]]}
        if kind == "theme_reviewed":
            return {**op, "reviewed": not op["reviewed"]}
        if kind == "themes":
            if self.themes is None:
                return {"op": "themes_clear"}
            t = self.themes
            return {
                "op": "themes", "column": t.column, "model": t.model,
                "rows": {str(k): v for k, v in t.row_ids.items()},
                "labels": {str(k): v for k, v in t.labels.items()},
                "scores": {str(k): v for k, v in t.scores.items()},
                "reviewed": sorted(t.reviewed),
                "info": {str(k): v for k, v in t.info.items()},
            }
        if kind == "themes_clear":
            return self._inverse({"op": "themes"})
        if kind == "resolve":
            back = {**op, "value": self.resolved.get(op["row"], {}).get(op["field"])}
            if "note" in op:
                back["note"] = self.notes.get(op["row"], "")
            return back
        raise ValueError(f"unknown annotation op {kind!r}")

    def _apply(self, op: dict[str, Any], record: bool) -> None:
        kind = op.get("op")
        if kind == "tag":
            row, tag = int(op["row"]), str(op["tag"])
            current = self.tags.setdefault(row, set())
            if op["on"]:
                current.add(tag)
            else:
                current.discard(tag)
                if not current:
                    del self.tags[row]
        elif kind == "tag_rename":
            old, new = str(op["old"]), str(op["new"])
            for tags in self.tags.values():
                if old in tags:
                    tags.discard(old)
                    tags.add(new)
        elif kind == "note":
            row = int(op["row"])
            if op["text"]:
                self.notes[row] = op["text"]
            else:
                self.notes.pop(row, None)
        elif kind == "themes":
            self.themes = ThemeState(
                column=op.get("column", ""),
                row_ids={int(k): int(v) for k, v in op.get("rows", {}).items()},
                labels={int(k): str(v) for k, v in op.get("labels", {}).items()},
                scores={int(k): float(v) for k, v in op.get("scores", {}).items()},
                reviewed=set(int(x) for x in op.get("reviewed", [])),
                info={int(k): v for k, v in op.get("info", {}).items()},
                model=op.get("model"),
            )
        elif kind == "themes_clear":
            self.themes = None
        elif kind == "resolve":
            self._resolve(op)
        elif kind == "theme_label":
            if self.themes is not None:
                self.themes.labels[int(op["theme"])] = str(op["label"])
        elif kind == "theme_reviewed":
            if self.themes is not None:
                t = int(op["theme"])
                if op["reviewed"]:
                    self.themes.reviewed.add(t)
                else:
                    self.themes.reviewed.discard(t)
        else:
            return  # unknown ops from a newer version are ignored, not fatal
        if record and "row" in op:  # when: a merge of several laptops' journals lets the latest change win
            op["at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        if "row" in op:
            self._touch(int(op["row"]), op.get("at"))
        if record:
            self.changes += 1
            if self.journal is None:
                return
            if kind in ("themes", "themes_clear") and not self.journal.path.exists():
                self._pending.append(op)  # a job's result alone does not create the journal
                return
            for held in self._pending:
                self.journal.append(held)
            self._pending.clear()
            self.journal.append(op)

    def _touch(self, row: int, at: object) -> None:
        """Keep the row's latest annotation time (saved as `annotated_at`, which `merge` reads)."""
        from fieldkit.conflicts import later_time

        when = later_time(self.edited_at.get(row), at)  # a damaged time keeps the annotation
        if when is not None:
            self.edited_at[row] = when

    # ---- output -------------------------------------------------------------------------------

    def _resolve(self, op: dict[str, Any]) -> None:
        row, name, value = int(op["row"]), str(op["field"]), op.get("value")
        if value is None:
            self.resolved.get(row, {}).pop(name, None)
            if not self.resolved.get(row, True):
                del self.resolved[row]
        else:
            self.resolved.setdefault(row, {})[name] = str(value)
        if "note" in op:
            if op["note"]:
                self.notes[row] = str(op["note"])
            else:
                self.notes.pop(row, None)

    def is_empty(self) -> bool:
        return not self.tags and not self.notes and self.themes is None and not self.resolved

    def columns_frame(self) -> pl.DataFrame:
        """One row per annotated row: `_fk_row` plus the annotation columns (for a left join)."""
        rows = sorted(set(self.tags) | set(self.notes) | set(self.themes.row_ids if self.themes else ())
                      | set(self.edited_at))
        t = self.themes
        data: dict[str, Any] = {
            "_fk_row": pl.Series(rows, dtype=pl.Int64),
            "tags": pl.Series([sorted(self.tags.get(r, ())) for r in rows], dtype=pl.List(pl.String)),
            "note": pl.Series([self.notes.get(r) for r in rows], dtype=pl.String),
        }
        if t is not None:
            ids = [t.row_ids.get(r) for r in rows]
            data["theme_id"] = pl.Series(ids, dtype=pl.Int64)  # the dtypes `fieldkit themes -o` writes
            data["theme_label"] = pl.Series([t.labels.get(i) if i is not None else None for i in ids],
                                            dtype=pl.String)
            data["theme_score"] = pl.Series([t.scores.get(r) for r in rows], dtype=pl.Float64)
            data["theme_reviewed"] = pl.Series(
                [(i in t.reviewed) if i is not None else None for i in ids], dtype=pl.Boolean)
        if self.edited_at:
            data["annotated_at"] = pl.Series([self.edited_at.get(r) for r in rows], dtype=pl.String) \
                .str.to_datetime(time_zone="UTC").cast(pl.Datetime("us", "UTC"))
        return pl.DataFrame(data)

    def apply(self, frame: pl.LazyFrame | pl.DataFrame, keep_empty: bool = True) -> pl.LazyFrame:
        """The frame with annotation columns (replacing older ones); rows keep their order.

        `keep_empty=False` leaves out `tags`, `note` and `theme_reviewed` when no row has one and
        the frame had no such column, so a save with a job's result alone equals the CLI's output.
        """
        lf = frame.lazy()
        names = lf.collect_schema().names()
        ann = self.columns_frame()
        if not keep_empty:
            empty = {"tags": not self.tags, "note": not self.notes,
                     "theme_reviewed": self.themes is None or not self.themes.reviewed}
            ann = ann.drop([c for c, e in empty.items() if e and c in ann.columns and c not in names])
        keep_time = "annotated_at" in names and "annotated_at" in ann.columns
        if keep_time:  # rows not edited here keep the time the file already had (a merged file's)
            ann = ann.rename({"annotated_at": "_fk_at"})
        drop = [c for c in ann.columns if c in names and c != "_fk_row"]
        if self.themes is None:
            # keep no stale theme columns only when we replaced them; otherwise leave them alone
            drop = [c for c in drop if not c.startswith("theme_")]
        lf = lf.drop(drop).with_row_index("_fk_row").with_columns(pl.col("_fk_row").cast(pl.Int64))
        out = lf.join(ann.lazy(), on="_fk_row", how="left", maintain_order="left")
        if "tags" in ann.columns:
            out = out.with_columns(pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        if keep_time:
            out = out.with_columns(pl.coalesce(
                pl.col("_fk_at"), pl.col("annotated_at").cast(pl.Datetime("us", "UTC"), strict=False))
                .alias("annotated_at")).drop("_fk_at")
        return self._apply_resolved(out).drop("_fk_row")

    def _apply_resolved(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """Sides picked for merge conflicts: the value goes into its column, the field's entries go."""
        from fieldkit import conflicts

        names = lf.collect_schema()
        if not self.resolved or conflicts.COLUMN not in names:
            return lf
        picks = pl.DataFrame([(r, f, v) for r, fs in self.resolved.items() for f, v in fs.items()],
                             schema={"_fk_row": pl.Int64, "field": pl.String, "_fk_pick": pl.String}, orient="row")
        for name in picks["field"].unique().to_list():
            if name in names and name != "note" and not isinstance(names[name], (pl.List, pl.Array, pl.Struct)):
                chosen = picks.filter(pl.col("field") == name).select("_fk_row", "_fk_pick").lazy()
                lf = (lf.join(chosen, on="_fk_row", how="left", maintain_order="left")
                      .with_columns(pl.coalesce(pl.col("_fk_pick").cast(names[name], strict=False), pl.col(name))
                                    .alias(name)).drop("_fk_pick"))
        kept = (lf.select("_fk_row", pl.col(conflicts.COLUMN)).explode(conflicts.COLUMN)
                .with_columns(conflicts.field_of(pl.col(conflicts.COLUMN)).alias("field"))
                .join(picks.lazy(), on=["_fk_row", "field"], how="anti")
                .group_by("_fk_row").agg(pl.col(conflicts.COLUMN).drop_nulls().alias("_fk_kept")))
        return (lf.join(kept, on="_fk_row", how="left", maintain_order="left")
                .with_columns(pl.col("_fk_kept").fill_null(pl.lit([], dtype=pl.List(pl.String))).alias(conflicts.COLUMN))
                .drop("_fk_kept"))

    def summary(self) -> dict[str, Any]:
        """Counts for provenance and the status line."""
        return {
            "tagged_rows": len(self.tags),
            "tags": sorted({t for ts in self.tags.values() for t in ts}),
            "notes": len(self.notes),
            "themes": len(self.themes.labels) if self.themes else 0,
            "themes_reviewed": len(self.themes.reviewed) if self.themes else 0,
            "conflicts_resolved": sum(len(f) for f in self.resolved.values()),
        }


def open_annotations(source: str | os.PathLike, frame: pl.DataFrame | None = None,
                     part: str | None = None) -> tuple[Annotations, list[str]]:
    """Annotations for a data file: saved columns first, then the journal replayed on top.

    Returns the state (journaling to the sidecar from now on) and notes for the user, such as
    how many changes were restored or that the file changed since they were made.
    """
    notes: list[str] = []
    jpath = journal_path_for(source, part)
    ops = read_journal(jpath)
    ann = Annotations()
    if frame is not None:
        ann.load_columns(frame)
    if ops:
        header = ops[0] if ops[0].get("op") == "header" else {}
        try:
            now = file_fingerprint(source)
        except OSError:
            now = {}
        if header and header.get("size") not in (None, now.get("size")):
            notes.append("the file changed since these annotations were made; check the rows")
        if frame is not None:
            ops, moved, lost = remap_ops(ops, RowKeys(frame, ANNOTATION_COLUMNS))
            if moved:
                notes.append(f"the file changed: {moved} annotation change(s) moved to their rows (matched by "
                             "record id or content)")
            if lost:
                notes.append(f"{lost} annotation change(s) not restored: their rows are no longer in the file")
        n = ann.replay(ops)
        if n:
            notes.append(f"restored {n} annotation change(s) from {jpath.name}")
    header = {"source": str(Path(source).resolve())}
    try:
        header.update(file_fingerprint(source))
    except OSError:
        pass
    ann.journal = Journal(jpath, header, beside=jpath.parent == Path(source).resolve().parent)
    if frame is not None:
        ann.keys = RowKeys(frame, ANNOTATION_COLUMNS)
    return ann, notes


def remap_ops(ops: list[dict[str, Any]], keys: RowKeys) -> tuple[list[dict[str, Any]], int, int]:
    """Ops with each row op pointed at the row that has its key now: (ops, moved, dropped).

    A row whose key still matches stays; one that moved (re-sorted or re-exported file) follows
    its key; one whose key is gone is dropped rather than put on the wrong row. Ops from older
    journals (no key) keep their position.
    """
    out, moved, lost = [], 0, 0
    for op in ops:
        key = op.get("key")
        if "row" not in op or key is None:
            out.append(op)
            continue
        row = int(op["row"])
        if row < keys.frame.height and keys.key(row) == key:
            out.append(op)
            continue
        now = keys.row_of(key)
        if now is None:
            lost += 1
            continue
        moved += 1
        out.append({**op, "row": now})
    return out, moved, lost
