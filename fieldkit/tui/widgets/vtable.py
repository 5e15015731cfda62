"""A virtual table: draws only the visible rows, fetched page by page from a TableModel.

Textual's DataTable (and the Arrow-backed textual-fastdatatable) keep every row as a widget
row and measure whole columns; this one asks the model for the rows on screen, so opening,
sorting or filtering a million rows costs what the screen shows, not what the file holds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fieldkit.display import display_text, is_rtl
from fieldkit.tui.roles import display_name
from fieldkit.tui.model import TableModel, short_dtype

HEADER = 2  # column name line + dtype line


@lru_cache(maxsize=32768)
def fit(text: str, width: int, right: bool = False, middle: bool = False) -> str:
    """Text escaped, cut and padded to exactly `width` cells, in visual order.

    Cut on grapheme boundaries in logical order (a wide CJK character or an emoji sequence is
    never split, the start of an Arabic answer is what stays), then reordered by the bidi
    algorithm; right-to-left text is aligned right like numbers. Cached: the same cells are
    drawn on every scroll step.
    """
    shown = display_text(text, width, middle=middle)
    n = cell_len(shown)
    if n > width:  # only if Rich and wcwidth ever disagree: the row must keep its width
        shown, n = set_cell_size(shown, width), width
    if right or is_rtl(shown):
        return " " * (width - n) + shown
    return shown + " " * (width - n)


class VirtualTable(ScrollView, can_focus=True):
    """Keyboard-first table over a TableModel with a row cursor and a selected column."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First row", show=False),
        Binding("end", "edge(1)", "Last row", show=False),
        Binding("g", "edge(-1)", "First row", show=False),
        Binding("G", "edge(1)", "Last row", show=False),
        Binding("enter", "activate", "Row detail", show=False),
    ]

    COMPONENT_CLASSES = {
        "vtable--header", "vtable--dtype", "vtable--cursor", "vtable--column",
        "vtable--gutter", "vtable--mark", "vtable--rowcursor",
    }

    DEFAULT_CSS = """
    VirtualTable { background: $surface; overflow-x: hidden; }
    VirtualTable > .vtable--header { text-style: bold; color: $text; background: $panel; }
    VirtualTable > .vtable--dtype { color: $text-muted; background: $panel; text-style: italic; }
    VirtualTable > .vtable--cursor { background: $accent; color: $text; text-style: bold; }
    VirtualTable > .vtable--rowcursor { background: $boost; }
    VirtualTable > .vtable--column { background: $primary 15%; }
    VirtualTable > .vtable--gutter { color: $text-muted; }
    VirtualTable > .vtable--mark { color: $warning; text-style: bold; }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False)
    cursor_col: reactive[int] = reactive(0, repaint=False)

    class CursorMoved(Message):
        """The cursor moved: view row, column index, column name."""

        def __init__(self, row: int, col: int, column: str | None) -> None:
            super().__init__()
            self.row, self.col, self.column = row, col, column

    class RowActivated(Message):
        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def __init__(self, model: TableModel | None = None, marks: Callable[[int], str] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.marks = marks or (lambda row_id: "")
        self.widths: list[int] = []
        self.left_col = 0
        self._gutter = 6
        self._styles: dict[str, Style] = {}

    def _style(self, name: str) -> Style:
        """Component styles, cached: resolving them per line costs more than drawing it."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = (self.rich_style if name == "base"
                                          else self.get_component_rich_style(name))
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    # ---- data ----

    def set_model(self, model: TableModel, keep_cursor: bool = False) -> None:
        self.model = model
        self.reload(keep_cursor=keep_cursor)

    def reload(self, keep_cursor: bool = False) -> None:
        """Recompute widths and size after the model's view changed."""
        m = self.model
        if m is None:
            return
        self.widths = m.content_widths()
        rows = m.row_count
        self._gutter = max(4, len(str(m.total_rows))) + 1 + 4
        if not keep_cursor:
            self.cursor_row = 0
            self.scroll_to(y=0, animate=False)
        self.cursor_row = min(self.cursor_row, max(0, rows - 1))
        self.cursor_col = min(self.cursor_col, max(0, len(self.widths) - 1))
        self.virtual_size = Size(self.draw_width or 80, rows + HEADER)
        self.refresh()
        self._announce()

    def refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + HEADER
        if HEADER <= y < self.size.height:
            self.refresh_line(y)

    # ---- geometry ----

    @property
    def draw_width(self) -> int:
        """Cells in a line: the widget less its vertical scrollbar (lines as wide as the widget lost their last 2 cells, and a cut cell its …)."""
        return self.scrollable_content_region.width

    @property
    def body_height(self) -> int:
        return max(1, self.size.height - HEADER - (1 if self.show_horizontal_scrollbar else 0))

    def _visible_columns(self) -> list[int]:
        cols, x, width = [], self._gutter + 1, self.draw_width
        for j in range(self.left_col, len(self.widths)):
            cols.append(j)
            x += self.widths[j] + 1
            if x >= width:
                break
        return cols

    def _col_widths(self, cols: list[int], width: int) -> dict[int, int]:
        """Widths for the visible columns; the table's last column takes any space left over."""
        out = {j: self.widths[j] for j in cols}
        if cols and cols[-1] == len(self.widths) - 1:
            used = self._gutter + 1 + sum(w + 1 for w in out.values())
            if used < width:
                out[cols[-1]] += width - used
        return out

    def _ensure_visible(self) -> None:
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self.body_height:
            self.scroll_to(y=self.cursor_row - self.body_height + 1, animate=False, immediate=True)
        if self.cursor_col < self.left_col:
            self.left_col = self.cursor_col
        else:
            while self.left_col < self.cursor_col:
                x = self._gutter + 1 + sum(w + 1 for w in self.widths[self.left_col:self.cursor_col + 1])
                if x <= self.draw_width:
                    break
                self.left_col += 1

    def _announce(self) -> None:
        name = None
        if self.model is not None and self.model.columns:
            name = self.model.columns[min(self.cursor_col, len(self.model.columns) - 1)]
        self.post_message(self.CursorMoved(self.cursor_row, self.cursor_col, name))

    def move_to(self, row: int | None = None, col: int | None = None) -> None:
        if self.model is None:
            return
        if row is not None:
            self.cursor_row = max(0, min(row, self.model.row_count - 1))
        if col is not None:
            self.cursor_col = max(0, min(col, len(self.widths) - 1))
        self._ensure_visible()
        self.refresh()
        self._announce()

    # ---- actions ----

    def action_move(self, drow: int, dcol: int) -> None:
        self.move_to(self.cursor_row + drow, self.cursor_col + dcol)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor_row + direction * self.body_height)

    def action_edge(self, direction: int) -> None:
        if self.model is not None:
            self.move_to(0 if direction < 0 else self.model.row_count - 1)

    def action_activate(self) -> None:
        if self.model is not None and self.model.row_count:
            self.post_message(self.RowActivated(self.cursor_row))

    def on_resize(self) -> None:
        if self.model is not None:
            self.virtual_size = Size(self.draw_width, self.model.row_count + HEADER)
            self._ensure_visible()

    def on_click(self, event) -> None:
        if self.model is None:
            return
        y = event.y
        row = None
        if y >= HEADER:
            row = int(self.scroll_offset.y) + y - HEADER
            if row >= self.model.row_count:
                row = None
        col = None
        x = self._gutter + 1
        for j in self._visible_columns():
            if x <= event.x < x + self.widths[j] + 1:
                col = j
                break
            x += self.widths[j] + 1
        self.move_to(row, col)

    # ---- drawing ----

    def render_line(self, y: int) -> Strip:
        width = self.draw_width
        m = self.model
        if m is None or not self.widths:
            return Strip.blank(width)
        cols = self._visible_columns()
        if y == 0:
            return self._header(cols, width, dtype=False)
        if y == 1:
            return self._header(cols, width, dtype=True)
        index = int(self.scroll_offset.y) + y - HEADER
        if index >= m.row_count:
            return Strip.blank(width, self._style("base"))
        row_id, cells = m.row(index)
        base = self._style("base")
        is_cursor_row = index == self.cursor_row
        row_style = base + self._style("vtable--rowcursor") if is_cursor_row else base
        num_w = self._gutter - 4
        marks = self.marks(row_id)
        segs = [
            Segment(fit(str(row_id + 1), num_w, right=True), row_style + self._style("vtable--gutter")),
            Segment(" " + fit(marks, 3), row_style + self._style("vtable--mark")),
            Segment("│", row_style + self._style("vtable--gutter")),
        ]
        col_style = self._style("vtable--column")
        cur_style = self._style("vtable--cursor")
        widths = self._col_widths(cols, width)
        for j in cols:
            name = m.columns[j]
            right = m.is_numeric(name)
            style = row_style
            if j == self.cursor_col:
                style = row_style + (cur_style if is_cursor_row else col_style)
            segs.append(Segment(fit(cells[j], widths[j], right), style))
            segs.append(Segment(" ", row_style))
        return Strip(segs).adjust_cell_length(width, row_style)

    def _header(self, cols: list[int], width: int, dtype: bool) -> Strip:
        m = self.model
        style = self._style("vtable--dtype" if dtype else "vtable--header")
        left = "" if not dtype else fit(f"{m.row_count:,}" if m.row_count < 10**(self._gutter - 1) else "", self._gutter, right=True)
        segs = [Segment(fit(left, self._gutter) + "│", style)]
        col_style = self._style("vtable--cursor")
        widths = self._col_widths(cols, width)
        for j in cols:
            name = m.columns[j]
            text = short_dtype(m.dtype(name)) if dtype else display_name(m.header(name))
            if not dtype and m.spec.sort_by == name:
                text = ("▼ " if m.spec.descending else "▲ ") + text
            s = style + col_style if (j == self.cursor_col and not dtype) else style
            # over numbers the header sits right like the values; long names keep both ends
            segs.append(Segment(fit(text, widths[j], m.is_numeric(name), middle=not dtype), s))
            segs.append(Segment(" ", style))
        return Strip(segs).adjust_cell_length(width, style)
