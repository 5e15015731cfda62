"""Table actions of the dataset screen: sort, filter, jump, go to a column, find, sheets."""

from __future__ import annotations

import difflib
import re
from functools import partial

from textual import on, work

from fieldkit.errors import FieldkitError, UsageError
from fieldkit.tui.messages import Found
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, ViewSpec, quote_ident
from fieldkit.tui.screens.modals import PromptModal

FILTER_HELP = ('e.g. "Age" > 30 AND "Country" = \'Kenya\'   ·   "answer" ILIKE \'%water%\'   ·   '
               'empty = no filter')
_MISSING_COLUMN = re.compile(r'unable to find column "((?:[^"\\]|\\.)*)"')


def match_column(columns: list[str], text: str) -> str | None:
    """The column named `text`: exact, then case-insensitive, then containing it, then closest."""
    if text in columns:
        return text
    low = text.lower()
    for c in columns:
        if c.lower() == low:
            return c
    for c in columns:
        if low in c.lower():
            return c
    close = difflib.get_close_matches(text, columns, n=1, cutoff=0.4)
    return close[0] if close else None


def filter_error(exc: BaseException, columns: list[str]) -> str:
    """A filter's error in the user's terms: a missing column is named with the closest real ones."""
    text = exc.message if isinstance(exc, FieldkitError) else str(exc)
    m = _MISSING_COLUMN.search(str(exc.__cause__ or exc)) or _MISSING_COLUMN.search(text)
    if m:
        close = difflib.get_close_matches(m.group(1), columns, n=3, cutoff=0.5)
        return f"no column {m.group(1)!r}" + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
    return text.replace(f'"{ROW}", ', "").replace(f', "{ROW}"', "")


class TableActions(JobScreen):
    """Part of DatasetScreen: moving around the table and changing what it shows.

    A Screen subclass (not a plain mixin) so that Textual registers its @on handlers.
    """

    def action_sort(self) -> None:
        if not self._ready() or self.current_column is None:
            return
        s = self.model.spec
        col = self.current_column
        if s.sort_by != col:
            spec = self._spec(sort_by=col, descending=False)
        elif not s.descending:
            spec = self._spec(sort_by=col, descending=True)
        else:
            spec = self._spec(sort_by=None, descending=False)
        said = (f"sorted by {col}" + (" (descending)" if spec.descending else "")) if spec.sort_by else "sort off"
        self._apply_view(spec, then=partial(self._update_status, said))

    def action_filter(self, value: str | None = None, error: str = "") -> None:
        """The filter prompt; after a mistake it comes back with the text as typed and the error."""
        if not self._ready():
            return
        col = self.current_column or ""
        example = f"{quote_ident(col)} IS NOT NULL" if col else ""
        self.app.push_screen(PromptModal("Filter rows (SQL WHERE clause)",
                                         self.model.spec.where or "" if value is None else value,
                                         example, FILTER_HELP, error=error), self._filter_entered)

    def _filter_entered(self, value: str | None) -> None:
        if value is None:
            return
        value = value.strip()
        self._apply_view(self._spec(where=value or None), then=partial(self._filtered, bool(value)),
                         on_error=partial(self._filter_failed, value))

    def _filtered(self, any_filter: bool) -> None:
        n = self.model.row_count
        self._update_status(f"filter: {n:,} rows match" if any_filter else "filter cleared")
        self.notify(f"{n:,} rows match" if any_filter else "filter cleared", timeout=3)

    def _filter_failed(self, value: str, exc: BaseException) -> None:
        self.action_filter(value, filter_error(exc, self.model.data_columns))

    def action_clear_view(self) -> None:
        """x: all rows again, and the side panel back to the profile."""
        if not self._ready():
            return
        self.view_theme = None
        self.side.clear_results()
        self._apply_view(ViewSpec(), then=partial(self._update_status, "showing all rows"))

    def action_jump(self) -> None:
        if self._ready():
            self.app.push_screen(PromptModal("Jump to row", "", f"1 - {self.model.row_count:,}"), self._jump_to)

    def _jump_to(self, value: str | None) -> None:
        if not value:
            return
        try:
            n = int(value.replace(",", "").strip())
        except ValueError:
            self.app.show_error(UsageError(f"{value!r} is not a row number", "type a whole number, e.g. 1200"))
            return
        self.table.move_to(n - 1)

    def action_goto_column(self) -> None:
        """; : the column picker (names, types, survey roles; type to search)."""
        if self.model is None:
            return
        from fieldkit.tui.screens.columns import ColumnPicker

        self.app.push_screen(ColumnPicker(self.column_entries()), self._go_to_column)

    def _go_to_column(self, name: str | None) -> None:
        if name and name in self.model.columns:
            self.table.move_to(col=self.model.columns.index(name))

    def action_find(self) -> None:
        if not self._ready() or self.current_column is None:
            return
        col = self.current_column
        self.app.push_screen(PromptModal(f"Find text in {col}", self._find[1] if self._find else "",
                                         "case and accents are ignored"), partial(self._find_entered, col))

    def _find_entered(self, col: str, value: str | None) -> None:
        if value:
            self._find = (col, value)
            self._find_step(0)

    def _find_step(self, direction: int) -> None:
        if self._find is None or self.model is None:
            return
        col, needle = self._find
        start = self.table.cursor_row + direction if direction else self.table.cursor_row
        if self.model.paged or self.large(self.model.row_count):  # scanning millions of cells: off the UI thread
            self._update_status(f"finding {needle!r}…")
            self._find_worker(col, needle, max(0, start), direction < 0)
            return
        self._found(Found(col, needle, self.model.find(col, needle, max(0, start), backwards=direction < 0)))

    @work(thread=True, exclusive=True, group="find")
    def _find_worker(self, col: str, needle: str, start: int, backwards: bool) -> None:
        self.post_message(Found(col, needle, self.model.find(col, needle, start, backwards=backwards)))

    @on(Found)
    def _found(self, message: Found) -> None:
        if message.hit is None:
            self.notify(f"{message.needle!r} not found in {message.col}", severity="warning", timeout=3)
            return
        cols = self.model.columns
        self.table.move_to(message.hit, cols.index(message.col) if message.col in cols else None)
        self._update_status(f"found {message.needle!r}")

    def action_find_next(self) -> None:
        self._find_step(1)

    def action_find_prev(self) -> None:
        self._find_step(-1)

    def action_toggle_panel(self) -> None:
        self.side.display = not self.side.display
        self.table.reload(keep_cursor=True)

    def action_choose_sheet(self) -> None:
        ds = self.dataset
        if ds is None or len(ds.sheets) < 2:
            self.notify("this file has one sheet", timeout=2)
            return
        self.app.push_screen(PromptModal("Open sheet", "", "sheet name", "sheets: " + ", ".join(ds.sheets)),
                             self._sheet_chosen)

    def _sheet_chosen(self, value: str | None) -> None:
        if not value:
            return
        ds = self.dataset
        name = match_column(ds.sheets, value.strip())
        if name is None:
            self.app.show_error(UsageError(f"no sheet {value!r}", "sheets: " + ", ".join(ds.sheets)))
            return
        self.app.pop_screen()
        self.app.push_screen(type(self)(self.path, sheet=name))
