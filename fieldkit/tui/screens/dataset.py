"""The dataset screen: the table, the side panel, loading, the view and the status lines.

Its actions live in three mixins by topic (table, annotate, analyse); background work runs
in workers that only post the messages of `fieldkit.tui.messages`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Static

from fieldkit.errors import FieldkitError
from fieldkit.tui import actions as A
from fieldkit.tui import paging
from fieldkit.tui.chart import ChartActions
from fieldkit.tui.messages import Loaded, LoadFailed, Profiled, ViewReady
from fieldkit.tui.model import PAGE, TableModel, ViewSpec, profile_column
from fieldkit.tui.screens.dataset_analyse import AnalyseActions
from fieldkit.tui.screens.dataset_annotate import AnnotateActions
from fieldkit.tui.screens.dataset_conflicts import ConflictActions
from fieldkit.tui.screens.dataset_survey import SurveyActions
from fieldkit.tui.screens.dataset_table import TableActions, match_column
from fieldkit.tui.suggest import SuggestActions
from fieldkit.tui.widgets.jobbar import JobBar
from fieldkit.tui.widgets.side import SidePanel
from fieldkit.tui.widgets.vtable import VirtualTable

__all__ = ["DatasetScreen", "match_column"]

ASYNC_VIEW_ROWS = 200_000  # from this many rows, views are built in a thread
PROFILE_DEBOUNCE = 0.05    # seconds a burst of cursor moves settles before the column is profiled


class DatasetScreen(TableActions, AnnotateActions, ConflictActions, AnalyseActions, SuggestActions,
                    ChartActions, SurveyActions):
    """One dataset: browse, profile, filter, analyse and annotate it."""

    BINDINGS = A.bindings(A.DATASET_ACTIONS)

    def __init__(self, path: str | Path, sheet: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.sheet = sheet
        self.dataset = None
        self.model: TableModel | None = None
        self.annotations = None
        self.loaded = False
        self.load_failed = False
        self._profiled_column: str | None = None  # the column the side panel profiles (follows the cursor)
        self._profile_token = 0
        self._profile_timer: Timer | None = None
        self._find: tuple[str, str] | None = None
        self.last_summary = ""
        self.steps: list[dict[str, Any]] = []  # one provenance step per pipeline job whose columns are kept
        self.job_columns: dict[str, Any] = {}  # columns of those jobs (dupes), saved beside the annotations
        self.tag_names = {str(i): f"tag{i}" for i in range(1, 10)}
        self.embed_model: str | None = None  # chosen by the user; None: chosen per column
        self.last_model: str | None = None   # the model the last job ran
        self.view_theme: tuple[int, pl.DataFrame] | None = None  # the theme shown, and its restriction
        self._status_note = ""
        self.load_started = time.monotonic()
        self._painted = threading.Event()

    # ---- layout ----

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(" ", self.path.name, ("  loading…", "dim")), id="title")
        with Horizontal(id="main"):
            yield VirtualTable(id="table", marks=self._marks)
            yield SidePanel(id="side")
        yield JobBar(id="jobbar")
        yield Static("", id="status")

    @property
    def side(self) -> SidePanel:
        return self.query_one(SidePanel)

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def on_mount(self) -> None:
        from fieldkit.tui import settings

        self.table.focus()
        self._load()
        self.set_interval(1.0, self._sync_journal)
        self.tag_names.update(settings.load().get("tag_names", {}))

    def on_unmount(self) -> None:
        if self.annotations is not None and self.annotations.journal is not None:
            self.annotations.journal.close()

    def _sync_journal(self) -> None:
        if self.annotations is not None and self.annotations.journal is not None:
            self.annotations.journal.sync()

    # ---- loading ----

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        from fieldkit.annotate import open_annotations
        from fieldkit.io import load_dataset

        start = time.monotonic()
        try:
            ds = load_dataset(self.path, sheet=self.sheet)
            first = ds.first_rows  # read while loading: the first paint does not scan the file again
            head = first.head(PAGE * 2) if first is not None else ds.frame.head(PAGE * 2).collect()
            page = paging.should_page(ds)
            self.post_message(Loaded(head, complete=False, dataset=ds, seconds=time.monotonic() - start, page=page))
            if page:
                return  # the rest is paged from disk by a job with progress (Esc cancels)
            # let the first rows reach the screen before the full read takes both cores
            self._painted.wait(2.0)
            full = ds.frame.collect()
            ann, notes = open_annotations(self.path, full, part=ds.sheet if len(ds.sheets) > 1 else None)
        except BaseException as exc:  # shown in a modal by the UI thread
            self.post_message(LoadFailed(exc))
            return
        self.post_message(Loaded(full, complete=True, dataset=ds, annotations=ann, notes=notes,
                                 seconds=time.monotonic() - start))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.dataset = message.dataset
        table = self.table
        if message.model is not None:
            self.model = message.model
            table.set_model(self.model, keep_cursor=True)
            if self.current_column:
                self._schedule_profile()
        elif self.model is None:
            self.model = TableModel(message.frame, complete=message.complete)
            table.set_model(self.model)
            self.call_after_refresh(self._painted.set)
        else:
            self.model.replace_base(message.frame, complete=message.complete)
            table.reload(keep_cursor=True)
            if self.current_column:  # the profile so far described only the first rows
                self._schedule_profile()
        if self.form is not None and message.model is not None:
            self.show_labels(self.label_lang)  # the paged model takes over: the same labels on it
        if message.complete:
            self.loaded = True
            self.load_form()
            self.annotations = message.annotations
            if self.annotations is not None:
                self.annotations.on_journal_created = self._journal_created
                if self.annotations.themes is not None:
                    self.show_themes()
            for note in message.notes or []:
                self.notify(note, timeout=6)
            self.app.remember_recent(self.path)
        self._update_title()
        self._update_status(f"loaded in {message.seconds:.2f} s" if message.complete else "reading the rest…")
        if message.page:
            self.call_after_refresh(self._start_paging)

    def _start_paging(self) -> None:
        """Convert a big file to its Parquet page cache in a job (progress bar, Esc cancels), then page from it."""
        ds, start = self.dataset, self.load_started
        part = ds.sheet if len(ds.sheets) > 1 else None

        def done(result, elapsed: float) -> None:
            model, ann, notes = result
            self._loaded(Loaded(None, complete=True, dataset=ds, annotations=ann, notes=notes,
                                seconds=time.monotonic() - start, model=model))

        self.start_job("load", f"paging {self.path.name} from disk", lambda rep: paging.open_paged(ds, part, rep), done)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.load_failed = True
        self.query_one("#title", Static).update(Text.assemble(" ", self.path.name, ("  could not open", "red")))
        self.app.show_error(message.error, title=f"cannot open {self.path.name}")

    def _journal_created(self, path: Path, beside: bool) -> None:
        """The first annotation made the journal: say where it is when it is not beside the data."""
        if not beside:
            self.notify(f"the data folder is not writable: annotations are journaled in {path}", timeout=8)

    # ---- title and status ----

    def _update_title(self) -> None:
        """Title line as plain Text (names and filters may hold any characters, never markup)."""
        m = self.model
        if m is None:
            return
        ds = self.dataset
        t = Text(" ")
        t.append(self.path.name, "bold")
        if ds is not None:
            t.append(f"  {ds.format}{' ' + ds.encoding if ds.encoding else ''}", "dim")
            if len(ds.sheets) > 1:
                t.append("  sheet ")
                t.append(str(ds.sheet), "bold")
                t.append(f" ({len(ds.sheets)} sheets: w)", "dim")
        total = m.total_rows
        suffix = "" if m.complete else "+"
        if m.row_count != total or m.spec.where or m.spec.restrict is not None:
            t.append(f"  {m.row_count:,} of {total:,}{suffix} rows")
        else:
            t.append(f"  {total:,}{suffix} rows")
        t.append(f"  {len(m.data_columns)} cols")
        label = self.view_label()
        if label:
            t.append(f"  {label}", "yellow")
        if m.spec.where:
            t.append(f"  where {m.spec.where}", "yellow")
        self.query_one("#title", Static).update(t)

    def view_label(self) -> str:
        """What the rows in view are (a theme shows its current name, even after a rename)."""
        spec = self.model.spec if self.model is not None else None
        if spec is None or not spec.restrict_label:
            return ""
        themes = self.annotations.themes if self.annotations is not None else None
        if self.view_theme is not None and themes is not None and spec.restrict is self.view_theme[1]:
            return f"theme: {themes.labels.get(self.view_theme[0], '?')}"
        return spec.restrict_label

    def _update_status(self, text: str | None = None) -> None:
        """The status line; `text` (the last thing done) stays until the next one replaces it."""
        if text is None:
            text = self._status_note
        self._status_note = text
        m = self.model
        bits: list[Text] = []
        if m is not None and m.row_count:
            bits.append(Text(f"row {self.table.cursor_row + 1:,}/{m.row_count:,}"))
            if self.current_column:
                bits.append(Text(self.current_column))
        if self.annotations is not None:
            s = self.annotations.summary()
            if s["tagged_rows"] or s["notes"]:
                bits.append(Text(f"{s['tagged_rows']} tagged · {s['notes']} notes"))
            if self.annotations.changes:
                journal = self.annotations.journal
                kept = journal is not None and journal.path.exists()
                bits.append(Text("unsaved (journaled)" if kept else "unsaved", "yellow"))
        if self.last_model:
            bits.append(Text(f"model {self.last_model}", "cyan"))
        if text:
            bits.append(Text(text))
        bits.append(Text("F1 help · ^P commands", "dim"))
        status = Text(" ") + Text("  │ ").join(bits)
        status.no_wrap, status.overflow = True, "ellipsis"
        self.query_one("#status", Static).update(status)

    def _marks(self, row_id: int) -> str:
        """The gutter: the keys of the row's tags (named or not), ✎ for a note."""
        ann = self.annotations
        if ann is None:
            return ""
        tags = ann.tags.get(row_id)
        out = ""
        if tags:
            keys = {v: k for k, v in self.tag_names.items()}
            out = "".join(sorted(keys.get(t, "•") for t in tags))
        if row_id in ann.notes:
            out += "✎"
        return out

    # ---- table events and the column profile ----

    @property
    def current_column(self) -> str | None:
        """The column under the table's cursor now, not as of the last CursorMoved message: keys typed fast
        (or queued on a busy machine) ran on the column before ("Right s" sorted the column left of the cursor)."""
        m = self.model
        if m is None or not m.columns:
            return None
        try:
            col = self.table.cursor_col
        except NoMatches:  # not mounted yet
            return None
        return m.columns[min(col, len(m.columns) - 1)]

    def on_virtual_table_cursor_moved(self, message: VirtualTable.CursorMoved) -> None:
        if message.column != self._profiled_column:
            self._profiled_column = message.column
            self._schedule_profile()
        self._update_status()

    def on_virtual_table_row_activated(self, message: VirtualTable.RowActivated) -> None:
        self.action_detail()

    def _schedule_profile(self) -> None:
        """Profile the column once the cursor has rested (a timer, restarted by every move)."""
        if self._profile_timer is not None:
            self._profile_timer.stop()
        self._profile_token += 1
        self._profile_timer = self.set_timer(PROFILE_DEBOUNCE, self._start_profile)

    def _start_profile(self) -> None:
        self._profile_timer = None
        if self.model is not None and self.current_column is not None:
            self._profile(self.model.view_lazy(), self.current_column, self._profile_token)

    @work(thread=True, exclusive=True, group="profile")
    def _profile(self, frame: pl.LazyFrame, column: str, token: int) -> None:
        try:
            p = profile_column(frame, column)
        except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:  # odd dtypes: say so in the panel
            p = f"cannot profile {column}: {exc}"
        self.post_message(Profiled(column, p, token))

    @on(Profiled)
    def _profiled(self, message: Profiled) -> None:
        if message.token != self._profile_token:
            return
        self.profile_ready(message.column, message.profile)

    def profile_ready(self, column: str, profile: Any) -> None:
        """Show a profile; the survey roles are added by the analyse mixin."""
        from fieldkit.tui.widgets.profile import ProfilePanel

        panel = self.query_one(ProfilePanel)
        if isinstance(profile, str):
            panel.show(None, profile)
        else:
            panel.show(profile, extra=self.column_facts(column))
        if self.side.pane == "profile":
            self.side.set_title(Text.assemble(("profile", "bold"), (" (p hides)", "dim")))

    # ---- view changes ----

    def _apply_view(self, spec: ViewSpec, keep_row: bool = False, then: Callable[[], None] | None = None,
                    on_error: Callable[[BaseException], None] | None = None) -> None:
        """Rebuild the view, then call `then()`; an error goes to `on_error` (default: a modal).

        Large frames are sorted and filtered in a thread so the interface never freezes.
        """
        m = self.model
        if m is None:
            return
        if m.paged or self.large(m.total_rows):
            self._update_status("working on the view…")
            self._build_view(spec, keep_row, then, on_error)
            return
        try:
            view = m.build_view(spec)
        except FieldkitError as exc:
            (on_error or self.app.show_error)(exc)
            return
        self._set_view(spec, view, keep_row, then)

    @work(thread=True, exclusive=True, group="view")
    def _build_view(self, spec: ViewSpec, keep_row: bool, then, on_error) -> None:
        try:
            view = self.model.build_view(spec)
        except BaseException as exc:  # shown by the UI thread
            self.post_message(ViewReady(spec, None, keep_row, then, exc, on_error))
            return
        self.post_message(ViewReady(spec, view, keep_row, then))

    @on(ViewReady)
    def _view_ready(self, message: ViewReady) -> None:
        if message.error is not None:
            (message.on_error or self.app.show_error)(message.error)
            return
        self._set_view(message.spec, message.view, message.keep_row, message.then)

    def _set_view(self, spec: ViewSpec, view: pl.DataFrame, keep_row: bool, then) -> None:
        m = self.model
        table = self.table
        row_id = m.row_id(table.cursor_row) if (keep_row and m.row_count) else None
        column = self.current_column
        m.set_view(spec, view)
        table.reload()
        if column in m.columns:  # a view that adds columns (dupes, search) moved them under the cursor
            table.move_to(col=m.columns.index(column))
        if row_id is not None:
            idx = m.index_of_row_id(row_id)
            if idx is not None:
                table.move_to(idx)
        self._update_title()
        self._schedule_profile()
        if then is not None:
            then()

    def _spec(self, **changes) -> ViewSpec:
        s = self.model.spec
        data = dict(restrict=s.restrict, restrict_label=s.restrict_label, where=s.where,
                    sort_by=s.sort_by, descending=s.descending)
        data.update(changes)
        return ViewSpec(**data)

    def large(self, rows: int) -> bool:
        """Whether work over this many rows goes to a thread (the interface never freezes)."""
        return rows >= ASYNC_VIEW_ROWS

    def _ready(self) -> bool:
        if self.model is None or not self.loaded:
            if self.load_failed:
                self.notify("nothing is loaded here; Ctrl+O opens another file", severity="warning", timeout=3)
            else:
                self.notify("still loading…", timeout=2)
            return False
        return True
