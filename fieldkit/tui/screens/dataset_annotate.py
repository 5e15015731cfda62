"""Annotation actions of the dataset screen: tags, notes, row detail, undo and saving."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from fieldkit.errors import UsageError
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW
from fieldkit.tui.screens.modals import PromptModal, RowDetail


def describe_undo(op: dict[str, Any]) -> str:
    """What undoing did, in words, from the inverse op that undo applied."""
    kind = op.get("op")
    row = f"row {int(op['row']) + 1}" if "row" in op else ""
    if kind == "tag":  # the inverse of adding is removing
        return f"tag {op['tag']!r} " + ("put back on " if op["on"] else "taken off ") + row
    if kind == "note":
        return f"note on {row} " + ("put back" if op.get("text") else "removed")
    if kind == "tag_rename":
        return f"tag name {op['old']!r} back to {op['new']!r}"
    if kind == "theme_label":
        return f"theme name back to {op['label']!r}"
    if kind == "theme_reviewed":
        return "theme marked " + ("reviewed" if op["reviewed"] else "not reviewed") + " again"
    if kind in ("themes", "themes_clear"):
        return "the last themes result"
    return str(kind)


class AnnotateActions(JobScreen):
    """Part of DatasetScreen: every change goes through `Annotations` (journaled, undoable).

    A Screen subclass (not a plain mixin) so that Textual registers its @on handlers.
    """

    def _current_row_id(self) -> int | None:
        if not self._ready() or self.model.row_count == 0 or self.annotations is None:
            return None
        return self.model.row_id(self.table.cursor_row)

    def action_tag(self, key: str) -> None:
        row_id = self._current_row_id()
        if row_id is None:
            return
        name = self.tag_names.get(str(key), f"tag{key}")
        on = self.annotations.toggle_tag(row_id, name)
        self.table.refresh_row(self.table.cursor_row)
        self._update_status(f"row {row_id + 1}: {'+' if on else '-'}{name}")

    def action_note(self) -> None:
        row_id = self._current_row_id()
        if row_id is not None:
            self.app.push_screen(PromptModal(f"Note on row {row_id + 1}", self.annotations.notes.get(row_id, "")),
                                 partial(self._note_entered, row_id))

    def _note_entered(self, row_id: int, value: str | None) -> None:
        if value is None:
            return
        self.annotations.set_note(row_id, value.strip())
        self.table.refresh()
        self._update_status(f"note on row {row_id + 1} " + ("saved" if value.strip() else "removed"))

    def action_detail(self) -> None:
        row_id = self._current_row_id()
        if row_id is None:
            return
        record = self.model.full_record(self.table.cursor_row)
        tags = ", ".join(sorted(self.annotations.tags.get(row_id, ())))
        self.app.push_screen(RowDetail(f"row {row_id + 1}", record, self.annotations.notes.get(row_id, ""), tags),
                             partial(self._note_entered, row_id))

    def action_name_tag(self) -> None:
        current = ", ".join(f"{k}={v}" for k, v in self.tag_names.items())
        self.app.push_screen(PromptModal("Name a tag (KEY = NAME)", "", "2 = follow-up", f"now: {current}"),
                             self._tag_named)

    def _tag_named(self, value: str | None) -> None:
        """Name key N's tag; rows already tagged with the old name carry the new one (saved in `tags`)."""
        from fieldkit.tui import settings

        if not value:
            return
        key, _, name = (x.strip() for x in value.partition("="))
        if key not in self.tag_names or not name:
            self.app.show_error(UsageError(f"{value!r} is not KEY = NAME", "e.g. 2 = follow-up (keys 1-9)"))
            return
        old = self.tag_names[key]
        if name in self.tag_names.values() and name != old:
            self.app.show_error(UsageError(f"{name!r} already names another key", "choose another name"))
            return
        self.tag_names[key] = name
        settings.update(tag_names=self.tag_names)
        if self.annotations is not None and old != name:
            self.annotations.rename_tag(old, name)
        self.table.refresh()
        self._update_status(f"key {key} now tags {name!r}")

    def action_undo(self) -> None:
        if self.annotations is None:
            return
        op = self.annotations.undo()
        if op is None:
            self.notify("nothing to undo", timeout=2)
            return
        if op["op"] == "tag_rename":  # the key goes back to its old name too
            from fieldkit.tui import settings

            for key, name in self.tag_names.items():
                if name == op["old"]:
                    self.tag_names[key] = op["new"]
            settings.update(tag_names=self.tag_names)
        self.table.refresh()
        if op["op"].startswith("theme"):
            self.show_themes()
            self._update_title()
        if "row" in op and self.model is not None:
            idx = self.model.index_of_row_id(int(op["row"]))
            if idx is not None:
                self.table.move_to(idx)
        said = "undone: " + describe_undo(op)
        self._update_status(said)
        self.notify(said, timeout=3)

    # ---- save ----

    def default_output(self) -> Path:
        if self.path.suffix == ".parquet":
            return self.path
        stem = self.path.name.split(".")[0]
        ds = self.dataset
        if ds is not None and len(ds.sheets) > 1 and ds.sheet:
            stem += "." + "".join(c if c.isalnum() or c in "-_" else "_" for c in ds.sheet)
        return self.path.with_name(stem + ".fieldkit.parquet")

    def action_save(self) -> None:
        if self._ready():
            self.app.push_screen(PromptModal("Save to Parquet (data + annotations + provenance)",
                                             str(self.default_output()), "path.parquet"), self._save_entered)

    def _save_entered(self, value: str | None) -> None:
        if value:
            self.save_to(Path(value).expanduser())

    def save_to(self, target: Path) -> None:
        """Data + annotation columns + provenance, written by the backend's writer in a job."""
        if target.suffix.lower() != ".parquet":
            self.app.show_error(UsageError(f"{target.name} does not end in .parquet", "give a name like data.parquet"))
            return
        from fieldkit.pipelines.core import make_step, timed  # not at import: the first paint stays light

        ann = self.annotations
        frame = ann.apply(self.model.base_lazy().drop(ROW), keep_empty=False)
        if self.job_columns:  # e.g. dup_group/dup_size, one value per row in file order
            frame = frame.with_columns([s.rename(n) for n, s in self.job_columns.items()])
        steps = list(self.steps)
        done = ann.summary()
        analyst = (done["tagged_rows"] or done["notes"] or done["themes_reviewed"] or done.get("conflicts_resolved")
                   or (ann.themes and ann.themes.renamed()))
        if analyst:
            with timed() as clock:  # the same step shape as every job's
                pass
            steps.append(make_step("annotate", {**done, "tag_keys": dict(self.tag_names)}, clock))
        backend = self.app.backend
        self.start_job("save", f"saving {target.name}",
                       lambda rep: backend.save(self.dataset, frame, steps, target, rep),
                       partial(self._saved, ann.changes))

    def _saved(self, changes: int, path: Path, elapsed: float) -> None:
        ann = self.annotations
        edited_meanwhile = ann.changes > changes
        ann.changes = max(0, ann.changes - changes)
        # Keep the journal if rows were annotated while the file was written: those edits are
        # not in the file yet, and replaying the older (idempotent) ops again is harmless.
        if Path(path).resolve() == self.path.resolve() and ann.journal is not None and not edited_meanwhile:
            ann.restart_journal(self.path)  # the file now holds every annotation
        self._update_status(f"saved {path} in {elapsed:.1f} s")
        self.notify(f"saved {Path(path).name}", timeout=4)
