"""The file browser: the current folder as a tree, recent files, and a jump to sample_data."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from fieldkit.tui.text import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DirectoryTree, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.config import PROJECT_ROOT
from fieldkit.tui import actions as A
from fieldkit.tui import settings

DATA_SUFFIXES = {
    ".csv", ".tsv", ".tab", ".txt", ".xlsx", ".xlsm", ".xls", ".json", ".jsonl", ".ndjson",
    ".parquet", ".arrow", ".feather", ".ipc", ".log", ".gz",
}


def sample_data_dir() -> Path | None:
    for p in (Path.cwd() / "sample_data", PROJECT_ROOT / "sample_data"):
        if p.is_dir():
            return p
    return None


class DataTree(DirectoryTree):
    """A directory tree showing folders and files fieldkit can open (no hidden files)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for p in paths:
            if p.name.startswith(".") or p.name.endswith(".fieldkit-journal.jsonl"):
                continue
            if p.is_dir() or p.suffix.lower() in DATA_SUFFIXES or ".log" in p.name.lower():
                yield p


class BrowserScreen(Screen):
    """Pick a file to open; Enter opens it, Backspace goes up, s jumps to sample_data."""

    BINDINGS = A.bindings(A.BROWSER_ACTIONS)

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__()
        self.folder = Path(folder or Path.cwd()).resolve()

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        with Horizontal(id="browser"):
            with Vertical(id="recent-box"):
                yield Static("[b]recent[/b] [dim](r)[/dim]", classes="pane-title")
                yield OptionList(id="recent")
            with Vertical(id="tree-box"):
                yield Static("", id="tree-title", classes="pane-title")
                yield DataTree(self.folder, id="tree")
        yield Static(" Enter opens · Backspace up · s sample_data · r recent · F1 help · Ctrl+Q quit", id="status")

    def on_mount(self) -> None:
        self._refresh_recent()
        self._set_folder(self.folder)
        self.query_one(DataTree).focus()

    def on_screen_resume(self) -> None:
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        lst = self.query_one("#recent", OptionList)
        lst.clear_options()
        items = [p for p in settings.recent() if Path(p).exists()]
        if not items:
            lst.add_option(Option("[dim](none yet)[/dim]", id="none", disabled=True))
        for i, p in enumerate(items):
            lst.add_option(Option(f"{escape(Path(p).name)}\n[dim]{escape(str(Path(p).parent))}[/dim]", id=f"r{i}"))
        self._recent = items

    def _set_folder(self, folder: Path) -> None:
        self.folder = folder
        tree = self.query_one(DataTree)
        tree.path = folder
        self.query_one("#tree-title", Static).update(f"[b]{escape(str(folder))}[/b]")
        sd = sample_data_dir()
        hint = f"  [dim]s: sample_data ({escape(str(sd))})[/dim]" if sd else ""
        self.query_one("#title", Static).update(f" [b]fieldkit[/b] — open a dataset{hint}")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.app.open_path(event.path)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        if oid.startswith("r"):
            self.app.open_path(Path(self._recent[int(oid[1:])]))

    def action_open(self) -> None:
        tree = self.query_one(DataTree)
        node = tree.cursor_node
        if node is not None and node.data is not None and not node.data.path.is_dir():
            self.app.open_path(node.data.path)

    def action_up(self) -> None:
        self._set_folder(self.folder.parent)

    def action_sample_data(self) -> None:
        sd = sample_data_dir()
        if sd is None:
            self.notify("no sample_data folder here", severity="warning")
            return
        self._set_folder(sd)
        self.query_one(DataTree).focus()

    def action_recent(self) -> None:
        self.query_one("#recent", OptionList).focus()
