"""The log screen: templates with counts, process and a sparkline; their lines; filter, digest, summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from fieldkit.errors import FieldkitError, UsageError
from fieldkit.tui import actions as A
from fieldkit.tui.chart import LogChartActions
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, TableModel, ViewSpec
from fieldkit.tui.screens.modals import PromptModal
from fieldkit.tui.widgets.jobbar import JobBar
from fieldkit.tui.widgets.vtable import VirtualTable

LEVEL_STYLE = {"ERROR": "bold red", "FATAL": "bold red", "CRITICAL": "bold red", "WARN": "yellow", "WARNING": "yellow"}


class LogScreen(LogChartActions, JobScreen):
    """One log file: mined templates (table), the selected template's lines, digest and summary."""

    BINDINGS = A.bindings([a for a in A.LOG_ACTIONS if a.action != "select"])

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.result: Any = None
        self.model: TableModel | None = None
        self.summary_text = ""
        self.filter_text = ""
        self.template: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(" ", self.path.name, ("  reading log…", "dim")), id="title")
        with Vertical(id="log-main"):
            with Horizontal(id="log-top"):
                yield DataTable(id="templates", cursor_type="row", zebra_stripes=True)
                with Vertical(id="log-side"):
                    yield Static(Text.assemble(("digest", "bold"), (" (D full · z summary)", "dim")),
                                 id="log-side-title")
                    with VerticalScroll(id="log-digest-scroll"):
                        yield Static("", id="log-digest")
            yield VirtualTable(id="log-lines")
        yield JobBar(id="jobbar")
        yield Static(" Enter: template's lines · f: filter · a: all lines · D: digest · z: summary · F1 help",
                     id="status")

    def on_mount(self) -> None:
        self.query_one("#templates", DataTable).focus()
        backend = self.app.backend
        self.start_job("logs", f"reading {self.path.name}", lambda rep: backend.analyse_log(self.path, rep),
                       self._analysed)

    def _analysed(self, result, elapsed: float) -> None:
        self.result = result
        self.app.remember_recent(self.path)
        table = self.query_one("#templates", DataTable)
        table.clear(columns=True)
        has_process = "process" in result.templates.columns
        table.add_columns("id", "lines", "level", "over time", *(["process"] if has_process else []), "template")
        for row in result.templates.iter_rows(named=True):
            level = row["level"] or ""
            cells = [str(row["template_id"]), f"{row['count']:,}", Text(level, style=LEVEL_STYLE.get(level, "")),
                     Text(row["spark"], style="green")]
            if has_process:
                more = f" +{row['processes'] - 1}" if (row.get("processes") or 0) > 1 else ""
                cells.append(Text((row["process"] or "") + more, style="magenta"))
            cells.append(Text(row["template"]))
            table.add_row(*cells, key=str(row["template_id"]))
        self.model = TableModel(result.lines)
        self.query_one("#log-lines", VirtualTable).set_model(self.model)
        self._title(elapsed)
        self.query_one("#log-digest", Static).update(_markdown(result.digest_md))
        self._status()

    def _title(self, elapsed: float | None = None) -> None:
        r = self.result
        t = Text(" ")
        t.append(self.path.name, "bold")
        t.append(f"  {r.lines.height:,} records  {r.templates.height:,} templates  {r.span}")
        if self.model is not None and self.model.row_count != r.lines.height:
            t.append(f"  showing {self.model.row_count:,}", "yellow")
        if self.template is not None:
            t.append(f"  template {self.template}", "yellow")
        if self.filter_text:
            t.append(f"  filter: {self.filter_text}", "yellow")
        if elapsed is not None:
            t.append(f"  {elapsed:.1f} s", "dim")
        self.query_one("#title", Static).update(t)

    def _status(self, text: str = "") -> None:
        fields = [c for c in ("host", "process", "pid", "component", "params") if c in self.result.lines.columns]
        bits = [text] if text else []
        bits.append(f"{self.result.templates.height:,} templates")
        if fields:
            bits.append("fields: " + ", ".join(fields))
        bits.append("Enter: lines · f: filter · a: all · D: digest · z: summary · F1 help")
        self.query_one("#status", Static).update(Text(" " + " │ ".join(bits)))

    # ---- which lines are shown: a template and/or a filter ----

    def _show_lines(self) -> None:
        if self.model is None:
            return
        lines = self.model.base
        label = []
        if self.template is not None:
            lines = lines.filter(pl.col("template_id") == self.template)
            label.append(f"template {self.template}")
        if self.filter_text:
            from fieldkit.tui.logfilter import parse_filter

            flt = parse_filter(self.filter_text, dict(self.model.base.schema))
            if flt is not None:
                lines = lines.filter(flt.expr)
                label.append(f"filter {self.filter_text}")
        spec = ViewSpec(restrict=lines.select(ROW), restrict_label=" · ".join(label)) if label else ViewSpec()
        self.model.set_view(spec)
        self.query_one("#log-lines", VirtualTable).reload()
        self._title()
        self._status(f"{self.model.row_count:,} lines shown")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.model is None or event.row_key is None:
            return
        self.template = int(event.row_key.value)
        self._show_lines()

    def action_filter(self, error: str = "", value: str | None = None) -> None:
        if self.result is None:
            self.notify("still reading the log…", timeout=2)
            return
        from fieldkit.tui.logfilter import HINT

        fields = [c for c in ("host", "process", "pid", "component") if c in self.result.lines.columns]
        help_text = HINT + "\nfields here: level, from, to, template, param" + "".join(f", {f}" for f in fields)
        self.app.push_screen(PromptModal("Filter log lines", self.filter_text if value is None else value,
                                         "level:ERROR failed", help_text, error=error), self._filter_entered)

    def _filter_entered(self, value: str | None) -> None:
        if value is None:
            return
        before = self.filter_text
        self.filter_text = value.strip()
        try:
            self._show_lines()
        except (FieldkitError, pl.exceptions.PolarsError) as exc:
            self.filter_text = before
            message = exc.message if isinstance(exc, FieldkitError) else str(exc).splitlines()[0]
            self.action_filter(error=message, value=value)

    def action_all_lines(self) -> None:
        self.template = None
        self.filter_text = ""
        self._show_lines()

    # ---- save, digest, summary ----

    def action_save(self) -> None:
        if self.result is None:
            self.notify("still reading the log…", timeout=2)
            return
        default = self.path.with_name(self.path.name.split(".")[0] + ".fieldkit.parquet")
        self.app.push_screen(PromptModal("Save log lines to Parquet", str(default), "path.parquet"), self._save_entered)

    def _save_entered(self, value: str | None) -> None:
        if value:
            self.save_to(Path(value).expanduser())

    def save_to(self, target: Path) -> None:
        from fieldkit.store import file_sha256, make_provenance, write_frame

        if target.suffix.lower() != ".parquet":
            self.app.show_error(UsageError(f"{target.name} does not end in .parquet", "give a name like lines.parquet"))
            return
        t = self.result.templates
        lines = self.result.lines.with_columns(pl.col("template_id").replace_strict(
            t["template_id"], t["template"], default=None, return_dtype=pl.String).alias("template"))
        first = ["line_no", "timestamp", "level", "message", "template_id", "template"]
        lines = lines.select(first + [c for c in lines.columns if c not in first])

        def job(reporter):
            source = {"path": str(self.path), "sha256": file_sha256(self.path), "format": "log", "encoding": "utf-8"}
            steps = [{"operation": "logs", "parameters": {"templates": t.height}}]
            return write_frame(lines, target, make_provenance(source, steps), reporter=reporter.child("saving"))

        self.start_job("save", f"saving {target.name}", job,
                       lambda path, elapsed: self.notify(f"saved {Path(path).name}", timeout=4))

    def action_digest(self) -> None:
        from fieldkit.tui.screens.modals import TextModal

        if self.result is not None:
            body = self.result.digest_md
            if self.summary_text:
                body = "## Summary\n\n" + self.summary_text + "\n\n" + body
            self.app.push_screen(TextModal(f"digest of {self.path.name}", _markdown(body)))

    def action_summarize(self) -> None:
        if self.result is None:
            self.notify("still reading the log…", timeout=2)
            return
        backend = self.app.backend
        self.summary_text = ""
        self.query_one("#log-side-title", Static).update(Text.assemble(("summary", "bold"), (" (D: digest)", "dim")))
        self.query_one("#log-digest", Static).update(Text("summarizing…", "dim"))
        result = self.result
        self.start_job("log summary", "summarizing the log",
                       lambda rep: backend.summarize_log(result, rep, self.token_callback("log summary", rep)),
                       self._summary_done, on_token=self._summary_token)

    def _summary_token(self, text: str) -> None:
        self.summary_text += text
        self.query_one("#log-digest", Static).update(Text.assemble(
            ("draft (checked against the digest when done):\n", "dim"), self.summary_text))

    def _summary_done(self, text: str, elapsed: float) -> None:
        self.summary_text = text
        self.query_one("#log-digest", Static).update(
            Text.assemble(text, (f"\n\n{elapsed:.1f} s · D shows the digest", "dim")))


def _markdown(text: str):
    """Markdown from the digest (its text comes from the log: Rich Markdown never parses markup)."""
    from rich.markdown import Markdown

    return Markdown(text)
