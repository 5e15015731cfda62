"""Modal screens: errors with their hint, one-line prompts, row detail with a note, help."""

from __future__ import annotations

from typing import Any

from fieldkit.tui.text import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from fieldkit.errors import FieldkitError


class ErrorModal(ModalScreen[None]):
    """A failure the user can act on: the message and the hint, dismissed with Enter or Esc."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, error: BaseException, title: str = "Error") -> None:
        super().__init__()
        if isinstance(error, FieldkitError):
            self.message, self.hint = error.message, error.hint
        else:
            self.message = f"internal error: {type(error).__name__}: {error}"
            self.hint = "this is a fieldkit bug; please report it with the steps that led here"
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box", classes="modal-box"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="modal-title")
            yield Static(Text(self.message), id="error-message")
            if self.hint:
                yield Static(Text.assemble(("hint: ", "italic"), self.hint), id="error-hint")
            yield Button("OK", variant="error", id="error-ok")

    def on_button_pressed(self) -> None:
        self.dismiss()


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text (filter, query, path...); Enter returns it, Esc returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "", help_text: str = "",
                 error: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder, self.help_text = title, value, placeholder, help_text
        self.error = error  # shown above the input when the prompt comes back after a mistake

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box prompt-box"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="modal-title")
            if self.error:
                yield Static(Text(self.error), id="prompt-error")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            if self.help_text:
                yield Static(Text(self.help_text), classes="modal-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


DETAIL_WIDTH = 72  # cells a value is wrapped to in the row view (the modal leaves ~80 beside the names)


class RowDetail(ModalScreen[str | None]):
    """Every field of one row (long answers wrap), with the row's note editable at the bottom."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(self, title: str, record: dict[str, Any], note: str = "", tags: str = "") -> None:
        super().__init__()
        self.title_text, self.record, self.note, self.tags = title, record, note, tags

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", max_width=40)
        table.add_column(ratio=1)
        from fieldkit.display import display_lines, display_text

        for k, v in self.record.items():
            if k.startswith("_fk_"):
                continue
            # wrapped here, then each line in visual order: bidi must follow the wrapping
            value = "\n".join(display_lines("" if v is None else str(v), DETAIL_WIDTH))
            table.add_row(Text(display_text(str(k), 40)), Text(value))
        with Vertical(classes="modal-box detail-box"):
            yield Static(f"[b]{escape(self.title_text)}[/b]  tags: {escape(self.tags) or '-'}", classes="modal-title")
            with VerticalScroll(id="detail-scroll"):
                yield Static(table)
            yield Input(value=self.note, placeholder="note for this row (Enter saves, Esc closes)", id="note-input")

    def on_mount(self) -> None:
        # a wide row is read first: the fields scroll with the arrows; Tab reaches the note
        self.query_one("#detail-scroll").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextModal(ModalScreen[None]):
    """A scrollable page of text (help, digest); any of Esc, q, F1, ? closes it."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def __init__(self, title: str, body: Any) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box text-box"):
            yield Static(f"[b]{escape(self.title_text)}[/b]  [dim](Esc closes)[/dim]", classes="modal-title")
            with VerticalScroll(id="text-scroll"):
                yield Static(self.body, id="text-body")

    def on_mount(self) -> None:
        self.query_one("#text-scroll").focus()


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of a few labelled choices (↑↓, Enter); Esc returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical(classes="modal-box picker-box"):
            yield Static(Text.assemble((self.title_text, "bold"), ("  ↑↓ · Enter · Esc", "dim")), classes="modal-title")
            yield OptionList(*[Option(text, id=cid) for cid, text in self.choices], id="choice-list")

    def on_mount(self) -> None:
        self.query_one("#choice-list").focus()

    def on_option_list_option_selected(self, event) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
