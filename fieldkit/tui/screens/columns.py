"""The column picker: every column with its type and survey role; type to narrow, Enter to go."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.tui.roles import ColumnEntry, display_name


def entry_text(e: ColumnEntry) -> Text:
    """name (type) role; option columns indented under their question."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if e.parent is not None:
        t.append("   └ ", "dim")
    t.append(display_name(e.name), "bold" if e.parent is None else "")
    t.append(f"  {e.dtype}", "dim")
    if e.role and e.parent is None:
        t.append(f"  {e.role}", "magenta")
    return t


def matches(e: ColumnEntry, query: str) -> bool:
    """Every word of the query in the name or the role (case ignored)."""
    hay = f"{e.name} {e.role} {e.dtype}".lower()
    return all(w in hay for w in query.lower().split())


class ColumnPicker(ModalScreen[str | None]):
    """Pick a column by part of its name, its type or its role (`gps`, `metadata`, `free text`)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("down", "move(1)", show=False), Binding("up", "move(-1)", show=False)]

    def __init__(self, entries: list[ColumnEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box picker-box"):
            yield Static(Text.assemble(("Go to column", "bold"),
                                       ("  type part of a name, a type or a role · ↑↓ · Enter", "dim")),
                         classes="modal-title")
            yield Input(placeholder="e.g. water, free text, gps, metadata", id="picker-input")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        lst = self.query_one(OptionList)
        lst.clear_options()
        shown = [e for e in self.entries if matches(e, query)] if query.strip() else self.entries
        lst.add_options([Option(entry_text(e), id=str(self.entries.index(e))) for e in shown])
        if shown:
            lst.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        lst = self.query_one(OptionList)
        if lst.option_count:
            lst.highlighted = max(0, min(lst.option_count - 1, (lst.highlighted or 0) + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        lst = self.query_one(OptionList)
        if lst.highlighted is not None and lst.option_count:
            self._choose(lst.get_option_at_index(lst.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        self.dismiss(self.entries[int(option_id)].name if option_id is not None else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
