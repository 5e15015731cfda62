"""The dataset screen: the table, the side panel (profile, themes, results) and every table action."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
from fieldkit.tui.text import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError, UsageError
from fieldkit.tui import actions as A
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, PAGE, TableModel, ViewSpec, profile_column, quote_ident
from fieldkit.tui.screens.modals import PromptModal, RowDetail
from fieldkit.tui.widgets.jobbar import JobBar
from fieldkit.tui.widgets.profile import ProfilePanel
from fieldkit.tui.widgets.vtable import VirtualTable


class Loaded(Message):
    """The loader finished (first rows, or everything)."""

    def __init__(self, frame: pl.DataFrame, complete: bool, dataset: Any = None,
                 annotations: Any = None, notes: list[str] | None = None, seconds: float = 0.0) -> None:
        super().__init__()
        self.frame, self.complete, self.dataset = frame, complete, dataset
        self.annotations, self.notes, self.seconds = annotations, notes or [], seconds


class LoadFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class Profiled(Message):
    def __init__(self, column: str, profile: Any, token: int) -> None:
        super().__init__()
        self.column, self.profile, self.token = column, profile, token


class ViewReady(Message):
    """A sorted/filtered view computed off the UI thread (or the error that stopped it)."""

    def __init__(self, spec, view, keep_row, then, error: BaseException | None = None) -> None:
        super().__init__()
        self.spec, self.view, self.keep_row, self.then, self.error = spec, view, keep_row, then, error


class Found(Message):
    def __init__(self, col: str, needle: str, hit: int | None) -> None:
        super().__init__()
        self.col, self.needle, self.hit = col, needle, hit


ASYNC_VIEW_ROWS = 200_000  # from this many rows, views are built in a thread


class ThemeList(OptionList):
    """The themes of the last run; Enter filters the table, r renames, v marks reviewed."""

    BINDINGS = A.bindings([a for a in A.THEME_LIST_ACTIONS if a.action != "select"])

    def action_rename(self) -> None:
        self.screen.rename_theme(self.highlighted_theme())

    def action_reviewed(self) -> None:
        self.screen.toggle_reviewed(self.highlighted_theme())

    def highlighted_theme(self) -> int | None:
        if self.highlighted is None:
            return None
        oid = self.get_option_at_index(self.highlighted).id
        return int(oid.split("-", 1)[1]) if oid and oid.startswith("theme-") and oid != "theme-all" else None


def match_column(columns: list[str], text: str) -> str | None:
    """The column named `text`: exact, then case-insensitive, then containing it, then closest."""
    import difflib

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


class DatasetScreen(JobScreen):
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
        self.current_column: str | None = None
        self._profile_token = 0
        self._find: tuple[str, str] | None = None
        self.last_summary = ""
        self.steps: list[dict[str, Any]] = []
        self.tag_names = {str(i): f"tag{i}" for i in range(1, 10)}
        self.load_started = time.monotonic()
        self._painted = threading.Event()

    # ---- layout ----

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(" ", self.path.name, ("  loading…", "dim")), id="title")
        with Horizontal(id="main"):
            yield VirtualTable(id="table", marks=self._marks)
            with Vertical(id="side"):
                yield Static("profile", id="side-title")
                with ContentSwitcher(initial="profile-scroll", id="side-switch"):
                    with VerticalScroll(id="profile-scroll"):
                        yield ProfilePanel("select a column", id="profile")
                    yield ThemeList(id="themes")
                    with VerticalScroll(id="results-scroll"):
                        yield Static("", id="results")
        yield JobBar(id="jobbar")
        yield Static("", id="status")

    def on_mount(self) -> None:
        self.query_one("#table").focus()
        self._load()
        self.set_interval(1.0, self._sync_journal)
        from fieldkit.tui import settings

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
            head = ds.frame.head(PAGE * 2).collect()
            self.post_message(Loaded(head, complete=False, dataset=ds, seconds=time.monotonic() - start))
            # let the first rows reach the screen before the full read takes both cores
            self._painted.wait(2.0)
            full = ds.frame.collect()
            ann, notes = open_annotations(self.path, full, part=ds.sheet if len(ds.sheets) > 1 else None)
        except BaseException as exc:
            self.post_message(LoadFailed(exc))
            return
        self.post_message(Loaded(full, complete=True, dataset=ds, annotations=ann, notes=notes,
                                 seconds=time.monotonic() - start))

    def on_loaded(self, message: Loaded) -> None:
        self.dataset = message.dataset
        table = self.query_one(VirtualTable)
        if self.model is None:
            self.model = TableModel(message.frame, complete=message.complete)
            table.set_model(self.model)
            self.call_after_refresh(self._painted.set)
        else:
            self.model.replace_base(message.frame, complete=message.complete)
            table.reload(keep_cursor=True)
            if self.current_column:  # the profile so far described only the first rows
                self._schedule_profile()
        if message.complete:
            self.loaded = True
            self.annotations = message.annotations
            if self.annotations is not None and self.annotations.themes is not None:
                self._show_theme_list_from_state()
            for note in message.notes:
                self.notify(note, timeout=6)
            self.app.remember_recent(self.path)
        self._update_title()
        self._update_status(f"loaded in {message.seconds:.2f} s" if message.complete else "reading the rest…")

    def on_load_failed(self, message: LoadFailed) -> None:
        self.load_failed = True
        self.query_one("#title", Static).update(Text.assemble(" ", self.path.name, ("  could not open", "red")))
        self.app.show_error(message.error, title=f"cannot open {self.path.name}")

    # ---- status ----

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
        total = m.base.height
        suffix = "" if m.complete else "+"
        if m.row_count != total or m.spec.where or m.spec.restrict is not None:
            t.append(f"  {m.row_count:,} of {total:,}{suffix} rows")
        else:
            t.append(f"  {total:,}{suffix} rows")
        t.append(f"  {len(m.data_columns)} cols")
        if m.spec.restrict_label:
            t.append(f"  {m.spec.restrict_label}", "yellow")
        if m.spec.where:
            t.append(f"  where {m.spec.where}", "yellow")
        self.query_one("#title", Static).update(t)

    def _update_status(self, text: str = "") -> None:
        m = self.model
        bits: list[Text] = []
        if m is not None and m.row_count:
            table = self.query_one(VirtualTable)
            bits.append(Text(f"row {table.cursor_row + 1:,}/{m.row_count:,}"))
            if self.current_column:
                bits.append(Text(self.current_column[:30]))
        if self.annotations is not None:
            s = self.annotations.summary()
            if s["tagged_rows"] or s["notes"]:
                bits.append(Text(f"{s['tagged_rows']} tagged · {s['notes']} notes"))
            if self.annotations.changes:
                bits.append(Text("unsaved (journaled)", "yellow"))
        if text:
            bits.append(Text(text))
        bits.append(Text("F1 help · ^P commands", "dim"))
        self.query_one("#status", Static).update(Text(" ") + Text("  │ ").join(bits))

    def _marks(self, row_id: int) -> str:
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

    # ---- table events ----

    def on_virtual_table_cursor_moved(self, message: VirtualTable.CursorMoved) -> None:
        if message.column != self.current_column:
            self.current_column = message.column
            self._schedule_profile()
        self._update_status()

    def on_virtual_table_row_activated(self, message: VirtualTable.RowActivated) -> None:
        self.action_detail()

    def _schedule_profile(self) -> None:
        if self.model is None or self.current_column is None:
            return
        self._profile_token += 1
        self._profile(self.model.view, self.current_column, self._profile_token)

    @work(thread=True, exclusive=True, group="profile")
    def _profile(self, frame: pl.DataFrame, column: str, token: int) -> None:
        time.sleep(0.05)  # let a burst of cursor moves settle before profiling
        if token != self._profile_token:
            return
        try:
            p = profile_column(frame, column)
        except Exception as exc:  # profiling must never take the screen down
            p = f"cannot profile {column}: {exc}"
        self.post_message(Profiled(column, p, token))

    def on_profiled(self, message: Profiled) -> None:
        if message.token != self._profile_token:
            return
        panel = self.query_one(ProfilePanel)
        if isinstance(message.profile, str):
            panel.show(None, message.profile)
        else:
            panel.show(message.profile)
        if self.query_one(ContentSwitcher).current == "profile-scroll":
            self.query_one("#side-title", Static).update("[b]profile[/b] [dim](p hides)[/dim]")

    # ---- view changes ----

    def _apply_view(self, spec: ViewSpec, keep_row: bool = False, then=None) -> None:
        """Rebuild the view, then call `then()`; a bad filter shows the error and keeps the old view.

        Large frames are sorted and filtered in a thread so the interface never freezes.
        """
        m = self.model
        if m is None:
            return
        if m.base.height >= ASYNC_VIEW_ROWS:
            self._update_status("working on the view…")
            self._build_view(spec, keep_row, then)
            return
        try:
            view = m.build_view(spec)
        except FieldkitError as exc:
            self.app.show_error(exc)
            return
        self._set_view(spec, view, keep_row, then)

    @work(thread=True, exclusive=True, group="view")
    def _build_view(self, spec: ViewSpec, keep_row: bool, then) -> None:
        try:
            view = self.model.build_view(spec)
        except BaseException as exc:
            self.post_message(ViewReady(spec, None, keep_row, then, exc))
            return
        self.post_message(ViewReady(spec, view, keep_row, then))

    def on_view_ready(self, message: "ViewReady") -> None:
        if message.error is not None:
            self.app.show_error(message.error)
            return
        self._set_view(message.spec, message.view, message.keep_row, message.then)

    def _set_view(self, spec: ViewSpec, view: pl.DataFrame, keep_row: bool, then) -> None:
        m = self.model
        table = self.query_one(VirtualTable)
        row_id = m.row_id(table.cursor_row) if (keep_row and m.row_count) else None
        m.set_view(spec, view)
        table.reload()
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

    def _ready(self) -> bool:
        if self.model is None or not self.loaded:
            if getattr(self, "load_failed", False):
                self.notify("nothing is loaded here; Ctrl+O opens another file", severity="warning", timeout=3)
            else:
                self.notify("still loading…", timeout=2)
            return False
        return True

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
        self._apply_view(spec, then=lambda: self._update_status(
            f"sorted by {col}" + (" (descending)" if spec.descending else "") if spec.sort_by else "sort off"))

    def action_filter(self) -> None:
        if not self._ready():
            return
        col = self.current_column or ""
        example = f"{quote_ident(col)} IS NOT NULL" if col else ""

        def done(value: str | None) -> None:
            if value is None:
                return
            value = value.strip()

            def then() -> None:
                n = self.model.row_count
                self._update_status(f"filter: {n:,} rows match" if value else "filter cleared")
                self.notify(f"{n:,} rows match" if value else "filter cleared", timeout=3)

            self._apply_view(self._spec(where=value or None), then=then)

        self.app.push_screen(PromptModal(
            "Filter rows (SQL WHERE clause)", self.model.spec.where or "", example,
            'e.g. "Age" > 30 AND "Country" = \'Kenya\'   ·   "answer" ILIKE \'%water%\'   ·   empty = no filter'),
            done)

    def action_clear_view(self) -> None:
        if not self._ready():
            return
        self._apply_view(ViewSpec(), then=lambda: self._update_status("showing all rows"))

    def action_jump(self) -> None:
        if not self._ready():
            return

        def done(value: str | None) -> None:
            if not value:
                return
            try:
                n = int(value.replace(",", "").strip())
            except ValueError:
                self.app.show_error(UsageError(f"{value!r} is not a row number", "type a whole number, e.g. 1200"))
                return
            self.query_one(VirtualTable).move_to(n - 1)

        self.app.push_screen(PromptModal("Jump to row", "", f"1 - {self.model.row_count:,}"), done)

    def action_goto_column(self) -> None:
        if self.model is None:
            return

        def done(value: str | None) -> None:
            if not value or not value.strip():
                return
            col = match_column(self.model.columns, value.strip())
            if col is None:
                self.app.show_error(UsageError(f"no column matches {value!r}",
                                               "type part of the name, e.g. 'like best'"))
                return
            self.query_one(VirtualTable).move_to(col=self.model.columns.index(col))

        self.app.push_screen(PromptModal("Go to column", "", "part of the column name"), done)

    def action_find(self) -> None:
        if not self._ready() or self.current_column is None:
            return
        col = self.current_column

        def done(value: str | None) -> None:
            if not value:
                return
            self._find = (col, value)
            self._find_step(0)

        self.app.push_screen(PromptModal(f"Find text in {col}", self._find[1] if self._find else "",
                                         "lowercase = ignore case"), done)

    def _find_step(self, direction: int) -> None:
        if self._find is None or self.model is None:
            return
        col, needle = self._find
        table = self.query_one(VirtualTable)
        start = table.cursor_row + direction if direction else table.cursor_row
        if self.model.row_count >= ASYNC_VIEW_ROWS:  # scanning millions of cells: off the UI thread
            self._update_status(f"finding {needle!r}…")
            self._find_worker(col, needle, max(0, start), direction < 0)
            return
        self._found(col, needle, self.model.find(col, needle, max(0, start), backwards=direction < 0))

    @work(thread=True, exclusive=True, group="find")
    def _find_worker(self, col: str, needle: str, start: int, backwards: bool) -> None:
        hit = self.model.find(col, needle, start, backwards=backwards)
        self.post_message(Found(col, needle, hit))

    def on_found(self, message: "Found") -> None:
        self._found(message.col, message.needle, message.hit)

    def _found(self, col: str, needle: str, hit: int | None) -> None:
        table = self.query_one(VirtualTable)
        if hit is None:
            self.notify(f"{needle!r} not found in {col}", severity="warning", timeout=3)
            return
        table.move_to(hit, self.model.columns.index(col) if col in self.model.columns else None)
        self._update_status(f"found {needle!r}")

    def action_find_next(self) -> None:
        self._find_step(1)

    def action_find_prev(self) -> None:
        self._find_step(-1)

    def action_toggle_panel(self) -> None:
        side = self.query_one("#side")
        side.display = not side.display
        self.query_one(VirtualTable).reload(keep_cursor=True)

    # ---- annotation ----

    def _current_row_id(self) -> int | None:
        if not self._ready() or self.model.row_count == 0 or self.annotations is None:
            return None
        return self.model.row_id(self.query_one(VirtualTable).cursor_row)

    def action_tag(self, key: str) -> None:
        row_id = self._current_row_id()
        if row_id is None:
            return
        name = self.tag_names.get(str(key), f"tag{key}")
        on = self.annotations.toggle_tag(row_id, name)
        table = self.query_one(VirtualTable)
        table.refresh_row(table.cursor_row)
        self._update_status(f"row {row_id + 1}: {'+' if on else '-'}{name}")

    def action_note(self) -> None:
        row_id = self._current_row_id()
        if row_id is None:
            return

        def done(value: str | None) -> None:
            if value is None:
                return
            self.annotations.set_note(row_id, value.strip())
            self.query_one(VirtualTable).refresh()
            self._update_status(f"note on row {row_id + 1} " + ("saved" if value.strip() else "removed"))

        self.app.push_screen(PromptModal(f"Note on row {row_id + 1}", self.annotations.notes.get(row_id, "")), done)

    def action_detail(self) -> None:
        row_id = self._current_row_id()
        if row_id is None:
            return
        table = self.query_one(VirtualTable)
        record = self.model.full_record(table.cursor_row)
        tags = ", ".join(sorted(self.annotations.tags.get(row_id, ())))

        def done(value: str | None) -> None:
            if value is not None:
                self.annotations.set_note(row_id, value.strip())
                table.refresh()
                self._update_status(f"note on row {row_id + 1} saved")

        self.app.push_screen(RowDetail(f"row {row_id + 1}", record, self.annotations.notes.get(row_id, ""), tags), done)

    def action_name_tag(self) -> None:
        def done(value: str | None) -> None:
            if not value or "=" not in value:
                return
            key, name = (x.strip() for x in value.split("=", 1))
            if key not in self.tag_names or not name:
                self.app.show_error(UsageError(f"{value!r} is not KEY = NAME", "e.g. 2 = follow-up (keys 1-9)"))
                return
            self.tag_names[key] = name
            from fieldkit.tui import settings

            settings.update(tag_names=self.tag_names)
            self.query_one(VirtualTable).refresh()
            self._update_status(f"key {key} now tags {name!r}")

        current = ", ".join(f"{k}={v}" for k, v in self.tag_names.items())
        self.app.push_screen(PromptModal("Name a tag (KEY = NAME)", "", "2 = follow-up", f"now: {current}"), done)

    def action_undo(self) -> None:
        if self.annotations is None:
            return
        op = self.annotations.undo()
        if op is None:
            self.notify("nothing to undo", timeout=2)
            return
        self.query_one(VirtualTable).refresh()
        if op["op"].startswith("theme"):
            self._show_theme_list_from_state()
        if "row" in op and self.model is not None:
            idx = self.model.index_of_row_id(int(op["row"]))
            if idx is not None:
                self.query_one(VirtualTable).move_to(idx)
        self._update_status(f"undid {op['op']}")

    # ---- save ----

    def default_output(self) -> Path:
        if self.path.suffix == ".parquet":
            return self.path
        stem = self.path.name.split(".")[0]
        ds = self.dataset
        if ds is not None and len(ds.sheets) > 1 and ds.sheet:
            stem += "." + "".join(c if c.isalnum() or c in "-_" else "_" for c in ds.sheet)
        return self.path.with_name(stem + ".fieldkit.parquet")

    def action_choose_sheet(self) -> None:
        ds = self.dataset
        if ds is None or len(ds.sheets) < 2:
            self.notify("this file has one sheet", timeout=2)
            return

        def done(value: str | None) -> None:
            if not value:
                return
            name = match_column(ds.sheets, value.strip())
            if name is None:
                self.app.show_error(UsageError(f"no sheet {value!r}", "sheets: " + ", ".join(ds.sheets)))
                return
            self.app.pop_screen()
            self.app.push_screen(DatasetScreen(self.path, sheet=name))

        self.app.push_screen(PromptModal("Open sheet", "", "sheet name", "sheets: " + ", ".join(ds.sheets)), done)

    def action_save(self) -> None:
        if not self._ready():
            return

        def done(value: str | None) -> None:
            if value:
                self.save_to(Path(value).expanduser())

        self.app.push_screen(PromptModal("Save to Parquet (data + annotations + provenance)",
                                         str(self.default_output()), "path.parquet"), done)

    def save_to(self, target: Path) -> None:
        from fieldkit.store import make_provenance, read_provenance, write_frame

        if target.suffix.lower() != ".parquet":
            self.app.show_error(UsageError(f"{target.name} does not end in .parquet", "give a name like data.parquet"))
            return
        ann = self.annotations
        base = self.model.base.drop(ROW)
        ds = self.dataset
        frame = ann.apply(base)
        previous = None
        if ds is not None and ds.format == "parquet":
            try:
                previous = read_provenance(ds.path)
            except Exception:
                previous = None
        step = {"operation": "annotate", "parameters": {**ann.summary(), "tag_keys": self.tag_names}}
        steps = list(self.steps) + [step]
        changes = ann.changes

        def job(reporter):
            source = ds.source_info() if ds is not None else {"path": str(self.path)}
            prov = make_provenance(None if previous else source, steps, previous)
            return write_frame(frame, target, prov, reporter=reporter.child("saving", None))

        def finished(path, elapsed):
            edited_meanwhile = ann.changes > changes
            ann.changes = max(0, ann.changes - changes)
            # Keep the journal if rows were annotated while the file was written: those edits are
            # not in the file yet, and replaying the older (idempotent) ops again is harmless.
            if (Path(path).resolve() == self.path.resolve() and ann.journal is not None
                    and not edited_meanwhile):
                # the file now holds every annotation: the journal starts over against the new file
                from fieldkit.annotate import file_fingerprint

                ann.journal.reset({"source": str(self.path.resolve()), **file_fingerprint(self.path)})
            self._update_status(f"saved {path} in {elapsed:.1f} s")
            self.notify(f"saved {Path(path).name}", timeout=4)

        self.start_job("save", f"saving {target.name}", job, finished)

    # ---- analyses ----

    def _text_column(self) -> str | None:
        if not self._ready():
            return None
        if self.current_column is None or self.current_column not in self.model.data_columns:
            self.notify("select a data column first", severity="warning", timeout=3)
            return None
        return self.current_column

    def action_embed(self) -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        def done(r, elapsed):
            self.steps.append({"operation": "embed", "parameters": {"column": r.column}, "model": r.model})
            self._update_status(f"embedded {r.rows:,} rows of {r.column} (dim {r.dim}) in {elapsed:.1f} s")

        self.start_job("embed", f"embedding {col}", lambda rep: adapters.embed(self.dataset, col, rep), done)

    def action_semantic_search(self) -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        def asked(query: str | None) -> None:
            if not query:
                return

            def done(hits: pl.DataFrame, elapsed: float) -> None:
                spec = ViewSpec(restrict=hits, restrict_label=f"search {query!r} in {col}")

                def then() -> None:
                    self._side("results", f"search: {query}")
                    lines = [f"[b]{hits.height} rows ranked by meaning[/b] ({elapsed:.1f} s)", "x shows all rows", ""]
                    self.query_one("#results", Static).update("\n".join(lines))
                    self._update_status(f"search: best score {hits['score'][0]:.3f}" if hits.height else "no hits")
                    idx = self.model.columns.index(col) if col in self.model.columns else None
                    self.query_one(VirtualTable).move_to(0, idx)

                self._apply_view(spec, then=then)

            self.start_job("search", f"searching {col}",
                           lambda rep: adapters.semantic_search(self.dataset, col, query, rep), done)

        self.app.push_screen(PromptModal(f"Semantic search in {col}", "", "what are you looking for?"), asked)

    def action_themes(self) -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        def done(r, elapsed):
            labels = {t.id: t.label for t in r.themes}
            info = {t.id: {"keywords": t.keywords[:8], "examples": [x[:300] for x in t.samples[:3]],
                           "size": t.size} for t in r.themes}
            self.annotations.set_themes(r.column, r.row_ids, labels, r.scores, info)
            self.steps.append({"operation": "themes", "parameters": {"column": r.column, "k": len(r.themes)},
                               "model": r.model, "model_sha256": r.model_sha256})
            self._show_theme_list_from_state()
            self.query_one(ThemeList).focus()
            self._update_status(f"{len(r.themes)} themes in {elapsed:.1f} s — Enter shows a theme's rows")

        self.start_job("themes", f"themes of {col}", lambda rep: adapters.themes(self.dataset, col, rep), done)

    def _show_theme_list_from_state(self) -> None:
        ann = self.annotations
        lst = self.query_one(ThemeList)
        keep = lst.highlighted
        lst.clear_options()
        if ann is None or ann.themes is None:
            self._side("profile")
            return
        sizes = ann.themes.sizes()
        order = sorted(ann.themes.labels, key=lambda t: (t < 0, -sizes.get(t, 0)))  # "other" last
        options = [Option(Text.from_markup("[b]all rows[/b] [dim](x)[/dim]"), id="theme-all")]
        for t in order:
            meta = ann.themes.info.get(t, {})
            done = "✓ " if t in ann.themes.reviewed else ""
            body = Text(no_wrap=True, overflow="ellipsis")
            body.append(f"{done}{ann.themes.labels[t]}", style="bold green" if done else "bold")
            body.append(f"  {sizes.get(t, 0):,}", style="cyan")
            if meta.get("keywords"):
                body.append("\n  " + ", ".join(meta["keywords"][:6]), style="dim")
            if meta.get("examples"):
                body.append("\n  “" + meta["examples"][0][:200].replace("\n", " ") + "”", style="italic")
            options.append(Option(body, id=f"theme-{t}"))
        lst.add_options(options)
        if keep is not None and keep < len(options):
            lst.highlighted = keep
        self._side("themes", f"themes of {ann.themes.column}" if ann.themes.column else "themes")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if not isinstance(event.option_list, ThemeList):
            return
        oid = event.option.id or ""
        if oid == "theme-all":
            self.action_clear_view()
            return
        tid = int(oid.split("-", 1)[1])
        ann = self.annotations
        rows = [r for r, t in ann.themes.row_ids.items() if t == tid]
        restrict = pl.DataFrame({ROW: pl.Series(sorted(rows), dtype=pl.Int64)})
        def then() -> None:
            col = ann.themes.column
            if col and col in self.model.columns:
                self.query_one(VirtualTable).move_to(0, self.model.columns.index(col))
            self._update_status(f"{len(rows):,} rows in theme {ann.themes.labels[tid]!r}")

        self._apply_view(ViewSpec(restrict=restrict, restrict_label=f"theme: {ann.themes.labels[tid]}"), then=then)

    def rename_theme(self, tid: int | None) -> None:
        if tid is None or self.annotations is None or self.annotations.themes is None:
            return

        def done(value: str | None) -> None:
            if value and value.strip():
                self.annotations.rename_theme(tid, value.strip())
                self._show_theme_list_from_state()
                self._update_status(f"theme renamed to {value.strip()!r}")

        self.app.push_screen(PromptModal("Rename theme", self.annotations.themes.labels[tid]), done)

    def toggle_reviewed(self, tid: int | None) -> None:
        if tid is None or self.annotations is None or self.annotations.themes is None:
            return
        now = tid not in self.annotations.themes.reviewed
        self.annotations.set_reviewed(tid, now)
        self._show_theme_list_from_state()
        self._update_status(f"theme {self.annotations.themes.labels[tid]!r} " + ("reviewed" if now else "not reviewed"))

    def action_dupes(self) -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        def done(groups: pl.DataFrame, elapsed: float) -> None:
            if groups.height == 0:
                self.notify(f"no duplicates in {col}", timeout=4)
                return
            n_groups = groups["dup_group"].n_unique()
            def then() -> None:
                self.steps.append({"operation": "dupes", "parameters": {"column": col}})
                self._side("results", "duplicates")
                self.query_one("#results", Static).update(
                    f"[b]{n_groups:,} groups[/b] of near-duplicates\n{groups.height:,} rows\n({elapsed:.1f} s)\n\nx shows all rows")
                self._update_status(f"{n_groups:,} duplicate groups, {groups.height:,} rows")

            self._apply_view(ViewSpec(restrict=groups, restrict_label=f"duplicates in {col}"), then=then)

        self.start_job("dupes", f"duplicates in {col}", lambda rep: adapters.dupes(self.dataset, col, rep), done)

    def action_summarize_abstractive(self) -> None:
        self.action_summarize(mode="abstractive")

    def action_summarize(self, mode: str = "auto") -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        texts = self.model.view.get_column(col).cast(pl.String).drop_nulls().to_list()
        scope = "rows in view" if (self.model.spec.where or self.model.spec.restrict is not None) else "all rows"
        self._begin_summary(f"summary of {col} ({scope}, {len(texts):,} texts)")
        self.start_job("summarize", f"summarizing {col}",
                       lambda rep: adapters.summarize(texts, rep, on_token=self.token_callback("summarize", rep),
                                                     mode=mode),
                       self._summary_done, on_token=self._summary_token)

    def action_summarize_groups(self) -> None:
        col = self._text_column()
        if col is None:
            return
        from fieldkit.tui import adapters

        def asked(by: str | None) -> None:
            if not by:
                return
            by_col = match_column(self.model.data_columns, by.strip())
            if by_col is None:
                try:
                    self.dataset.require_column(by.strip())  # raises with "did you mean"
                except FieldkitError as exc:
                    self.app.show_error(exc)
                return
            frame = self.model.view
            self._begin_summary(f"summary of {col} per {by_col}")
            self.start_job("summarize", f"summarizing {col} per {by_col}",
                           lambda rep: adapters.summarize_groups(frame, col, by_col, rep,
                                                                 on_token=self.token_callback("summarize", rep)),
                           self._summary_done, on_token=self._summary_token)

        self.app.push_screen(PromptModal(f"Summarize {col} per group: group column", "", "column name"), asked)

    def _begin_summary(self, title: str) -> None:
        self.last_summary = ""
        self._summary_title = title
        self._side("results", "summary")
        self.query_one("#results", Static).update(Text.assemble((title, "bold"), ("\n\nworking…", "dim")))

    def _summary_token(self, text: str) -> None:
        self.last_summary += text
        self.query_one("#results", Static).update(
            Text.assemble((self._summary_title, "bold"), "\n\n", self.last_summary))

    def _summary_done(self, r, elapsed: float) -> None:
        if not r.groups:
            self.last_summary = r.text
        self.query_one("#results", Static).update(
            Text.assemble((self._summary_title, "bold"), "\n\n", self.last_summary,
                          (f"\n\n{r.mode}{' · ' + r.model if r.model else ''} · {elapsed:.1f} s", "dim")))
        self._update_status(f"summary ready ({r.mode}, {elapsed:.1f} s)")

    def _side(self, which: str, title: str = "") -> None:
        target = {"profile": "profile-scroll", "themes": "themes", "results": "results-scroll"}[which]
        self.query_one("#side").display = True
        self.query_one(ContentSwitcher).current = target
        self.query_one("#side-title", Static).update(Text(title or which, "bold"))

    def action_show_profile(self) -> None:
        self._side("profile")
        self._schedule_profile()

    def action_focus_next(self) -> None:
        """Tab: between the table and the themes list (when it is showing)."""
        table = self.query_one(VirtualTable)
        lst = self.query_one(ThemeList)
        if table.has_focus and self.query_one("#side").display and \
                self.query_one(ContentSwitcher).current == "themes":
            lst.focus()
        else:
            table.focus()

    # palette entries for the themes list (work without focusing it first)
    def action_theme_select(self) -> None:
        lst = self.query_one(ThemeList)
        if lst.option_count:
            self._side("themes")
            lst.focus()
            lst.action_select()

    def action_theme_rename(self) -> None:
        self.rename_theme(self.query_one(ThemeList).highlighted_theme())

    def action_theme_reviewed(self) -> None:
        self.toggle_reviewed(self.query_one(ThemeList).highlighted_theme())
