"""Merge conflicts in the dataset screen: show the rows that have them, pick a side for each.

A file written by `fieldkit merge` keeps every disagreement in `merge_conflicts`. Here `K`
shows only the rows whose conflicts are still open, and `k` lists the current row's sides:
picking one (its number, or Enter) puts the value in the row (a note becomes the row's note)
and closes that field's conflict. The pick is an annotation like a tag: journaled at once,
undone with `u`, and written into the file (value set, entries gone) on save.
"""

from __future__ import annotations

from functools import partial

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from fieldkit import conflicts
from fieldkit.display import display_text
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, ViewSpec

LABEL = "conflicts"


class ConflictPicker(ModalScreen[tuple[str, str] | None]):
    """The sides of one row's open conflicts; a number or Enter picks one, Esc leaves it open."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")] + [
        Binding(str(i), f"pick({i})", show=False) for i in range(1, 10)]

    def __init__(self, title: str, sides: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.sides = sides  # (field, value, source)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box prompt-box"):
            yield Static(Text(self.title_text, style="bold"), classes="modal-title")
            yield OptionList(*[Option(Text(f"{i}  {display_text(f)}: {display_text(v, 60)}  ({display_text(s)})"))
                               for i, (f, v, s) in enumerate(self.sides, 1)], id="conflict-sides")
            yield Static(Text("1-9 or Enter: keep this value · Esc: decide later"), classes="modal-help")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option_index + 1)

    def action_pick(self, n: int) -> None:
        if 1 <= n <= len(self.sides):
            field, value, _ = self.sides[n - 1]
            self.dismiss((field, value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConflictActions(JobScreen):
    """Part of DatasetScreen (a Screen subclass so Textual registers its handlers)."""

    def _open_conflicts(self, row_id: int | None = None) -> pl.DataFrame | None:
        """(ROW, field, entries) of the open conflicts, of one row or all; None if the file has none."""
        m = self.model
        if m is None or conflicts.COLUMN not in m.base_lazy().collect_schema().names():
            return None
        lf = (m.base_lazy().select(pl.col(ROW).cast(pl.Int64), conflicts.COLUMN)
              .filter(pl.col(conflicts.COLUMN).list.len() > 0))
        if row_id is not None:
            lf = lf.filter(pl.col(ROW) == row_id)
        resolved = self.annotations.resolved if self.annotations is not None else {}
        picked = pl.DataFrame([(r, f) for r, fs in resolved.items() for f in fs],
                              schema={ROW: pl.Int64, "field": pl.String}, orient="row")
        return conflicts.open_fields(lf.collect(), ROW, picked)

    def action_conflicts(self) -> None:
        """Show only the rows whose merge conflicts are still open (again: all rows)."""
        if not self._ready():
            return
        if self.model.spec.restrict_label.startswith(LABEL):
            self._apply_view(self._spec(restrict=None, restrict_label=""), keep_row=True)
            return
        found = self._open_conflicts()
        if found is None:
            self.notify("this file has no merge_conflicts column (made by fieldkit merge)", timeout=3)
            return
        rows = self._rows(found)
        if rows.height == 0:
            self.notify("no open merge conflicts", timeout=3)
            return
        self._show_conflict_rows(rows)

    def _rows(self, found: pl.DataFrame) -> pl.DataFrame:
        return found.select(pl.col(ROW).cast(self.model.base_lazy().collect_schema()[ROW])).unique(maintain_order=True)

    def _show_conflict_rows(self, rows: pl.DataFrame, index: int = 0) -> None:
        def then() -> None:
            if self.model.row_count:
                self.table.move_to(min(index, self.model.row_count - 1))
            self._update_status(f"{rows.height:,} row(s) with open merge conflicts · k: pick a side")

        spec = ViewSpec(restrict=rows, restrict_label=f"{LABEL}: {rows.height:,} rows", where=self.model.spec.where)
        self._apply_view(spec, then=then)

    def action_pick_side(self) -> None:
        """List the current row's conflicting values; the one picked is kept and the conflict closes."""
        row_id = self._current_row_id()
        if row_id is None:
            return
        found = self._open_conflicts(row_id)
        if found is None or found.height == 0:
            self.notify(f"row {row_id + 1} has no open merge conflict", timeout=3)
            return
        sides = [conflicts.parse(e) for entries in found["entries"] for e in entries]
        self.app.push_screen(ConflictPicker(f"Row {row_id + 1}: keep which value?", sides[:9]),
                             partial(self._side_picked, row_id))

    def _side_picked(self, row_id: int, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        field, value = choice
        self.annotations.resolve(row_id, field, value)
        self.table.refresh()
        said = f"row {row_id + 1}: {field} = {value!r} kept; conflict closed"
        if self.model.spec.restrict_label.startswith(LABEL):
            rows = self._rows(self._open_conflicts())
            here = self.table.cursor_row
            if rows.height:
                self._show_conflict_rows(rows, here)
            else:
                self._apply_view(self._spec(restrict=None, restrict_label=""), keep_row=True)
                said += " · no open conflicts left"
        self._update_status(said)
