"""The log screen: templates with counts and a sparkline over time, their lines, the digest and summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from fieldkit.tui.text import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from fieldkit.tui import actions as A
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, TableModel, ViewSpec
from fieldkit.tui.widgets.jobbar import JobBar
from fieldkit.tui.widgets.vtable import VirtualTable


class LogScreen(JobScreen):
    """One log file: mined templates (table), the selected template's lines, digest and summary."""

    BINDINGS = A.bindings([a for a in A.LOG_ACTIONS if a.action != "select"])

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.result: Any = None
        self.model: TableModel | None = None
        self.summary_text = ""

    def compose(self) -> ComposeResult:
        yield Static(f" {escape(self.path.name)}  [dim]reading log…[/dim]", id="title")
        with Vertical(id="log-main"):
            with Horizontal(id="log-top"):
                yield DataTable(id="templates", cursor_type="row", zebra_stripes=True)
                with Vertical(id="log-side"):
                    yield Static("[b]digest[/b] [dim](D full · z summary)[/dim]", id="log-side-title")
                    with VerticalScroll(id="log-digest-scroll"):
                        yield Static("", id="log-digest")
            yield VirtualTable(id="log-lines")
        yield JobBar(id="jobbar")
        yield Static(" Enter: template's lines · a: all lines · D: digest · z: summary · F1 help", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#templates", DataTable)
        table.add_columns("id", "lines", "level", "over time", "template")
        table.focus()
        from fieldkit.tui import adapters

        self.start_job("logs", f"reading {self.path.name}",
                       lambda rep: adapters.analyse_log(self.path, rep), self._analysed)

    def _analysed(self, result, elapsed: float) -> None:
        self.result = result
        self.app.remember_recent(self.path)
        table = self.query_one("#templates", DataTable)
        table.clear()
        for row in result.templates.iter_rows(named=True):
            level = row["level"] or ""
            style = {"ERROR": "bold red", "FATAL": "bold red", "WARN": "yellow", "WARNING": "yellow"}.get(level, "")
            table.add_row(str(row["template_id"]), f"{row['count']:,}", Text(level, style=style),
                          Text(row["spark"], style="green"), row["template"], key=str(row["template_id"]))
        self.model = TableModel(result.lines)
        lines = self.query_one("#log-lines", VirtualTable)
        lines.set_model(self.model)
        span = result.span
        self.query_one("#title", Static).update(
            f" [b]{escape(self.path.name)}[/b]  {result.lines.height:,} records  "
            f"{result.templates.height:,} templates  {escape(span)}  [dim]{elapsed:.1f} s[/dim]")
        self.query_one("#log-digest", Static).update(Text(result.digest))
        self.query_one("#status", Static).update(
            f" {result.templates.height:,} templates │ Enter: lines of a template · a: all · D: digest · z: summary · F1 help")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.model is None or event.row_key is None:
            return
        tid = int(event.row_key.value)
        rows = self.model.base.filter(pl.col("template_id") == tid).select(ROW)
        self.model.set_view(ViewSpec(restrict=rows, restrict_label=f"template {tid}"))
        self.query_one("#log-lines", VirtualTable).reload()
        self.query_one("#status", Static).update(f" template {tid}: {rows.height:,} lines │ a: all lines · F1 help")

    def action_all_lines(self) -> None:
        if self.model is not None:
            self.model.set_view(ViewSpec())
            self.query_one("#log-lines", VirtualTable).reload()

    def action_save(self) -> None:
        if self.result is None:
            self.notify("still reading the log…", timeout=2)
            return
        from fieldkit.tui.screens.modals import PromptModal

        default = self.path.with_name(self.path.name.split(".")[0] + ".fieldkit.parquet")

        def done(value: str | None) -> None:
            if value:
                self.save_to(Path(value).expanduser())

        self.app.push_screen(PromptModal("Save log lines to Parquet", str(default), "path.parquet"), done)

    def save_to(self, target: Path) -> None:
        from fieldkit.errors import UsageError
        from fieldkit.store import file_sha256, make_provenance, write_frame

        if target.suffix.lower() != ".parquet":
            self.app.show_error(UsageError(f"{target.name} does not end in .parquet", "give a name like lines.parquet"))
            return
        t = self.result.templates
        lines = self.result.lines.with_columns(pl.col("template_id").replace_strict(
            t["template_id"], t["template"], default=None, return_dtype=pl.String).alias("template"))
        lines = lines.select("line_no", "timestamp", "level", "message", "template_id", "template")

        def job(reporter):
            source = {"path": str(self.path), "sha256": file_sha256(self.path), "format": "log", "encoding": "utf-8"}
            steps = [{"operation": "logs", "parameters": {"templates": t.height}}]
            return write_frame(lines, target, make_provenance(source, steps), reporter=reporter.child("saving"))

        self.start_job("save", f"saving {target.name}", job,
                       lambda path, elapsed: self.notify(f"saved {Path(path).name}", timeout=4))

    def action_digest(self) -> None:
        from fieldkit.tui.screens.modals import TextModal

        if self.result is not None:
            from rich.markdown import Markdown

            body = self.result.digest_md or self.result.digest
            if self.summary_text:
                body = "## Summary\n\n" + self.summary_text + "\n\n" + body
            self.app.push_screen(TextModal(f"digest of {self.path.name}", Markdown(body)))

    def action_summarize(self) -> None:
        if self.result is None:
            self.notify("still reading the log…", timeout=2)
            return
        from fieldkit.tui import adapters

        self.summary_text = ""
        self.query_one("#log-side-title", Static).update("[b]summary[/b] [dim](D: digest)[/dim]")
        self.query_one("#log-digest", Static).update("[dim]summarizing…[/dim]")
        result = self.result

        def token(text: str) -> None:
            self.summary_text += text
            self.query_one("#log-digest", Static).update(Text.assemble(
                ("draft (checked against the digest when done):\n", "dim"), self.summary_text))

        def done(text: str, elapsed: float) -> None:
            self.summary_text = text
            self.query_one("#log-digest", Static).update(
                Text.assemble(text, (f"\n\n{elapsed:.1f} s · D shows the digest", "dim")))

        self.start_job("log summary", "summarizing the log",
                       lambda rep: adapters.summarize_log(self.path, result, rep, self.token_callback("log summary", rep)), done, on_token=token)
