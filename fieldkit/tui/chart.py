"""A chart of the current view drawn in the terminal (plotext), and the report export.

`C` charts what the screen shows: the themes list's shares when themes are listed, else the
selected column (histogram, rows per day, or most common values); on the log screen, the
highlighted template's timeline. `ctrl+e` writes the HTML report of the data in hand
(annotations and themes included) through `fieldkit.pipelines.report`.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from fieldkit.display import escape_controls
from fieldkit.report.model import Chart

LABEL_CELLS = 28


def _label(value) -> str:
    """A data label for the terminal: control characters escaped, cut to a few cells."""
    from fieldkit.display import clip

    return clip(escape_controls(" ".join(str(value).split())), LABEL_CELLS)


def render_text(chart: Chart, width: int, height: int) -> str:
    """The chart as plain text (no colour codes), `width` x `height` cells, drawn by plotext."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(width, 30), max(height, 8))
    plt.theme("clear")
    if chart.kind in ("barh", "stacked") and chart.categories:
        values = chart.values if chart.kind == "barh" else [sum(v) for v in zip(*chart.series.values())]
        values = [v * 100 for v in values] if chart.percent else list(values)
        plt.bar([_label(c) for c in chart.categories][::-1], values[::-1], orientation="horizontal")
        if chart.percent:
            plt.xlabel("% of rows")
    elif chart.kind == "hist" and len(chart.values):
        plt.hist(list(map(float, chart.values)), bins=20)
    elif chart.kind in ("lines", "timebars") and chart.x:
        plt.date_form("Y-m-d H:M:S")
        xs = [x.strftime("%Y-%m-%d %H:%M:%S") if hasattr(x, "strftime") else str(x) for x in chart.x]
        if chart.kind == "timebars" and not hasattr(chart.x[0], "hour"):
            xs = [f"{x} 00:00:00" for x in xs]
        if chart.kind == "timebars":
            plt.bar(xs, list(chart.values))
        else:
            for name, vals in chart.series.items():
                plt.plot(xs, list(vals), label=_label(name))
    else:
        return f"{chart.title}\n\n(nothing to draw)"
    return plt.uncolorize(plt.build())


class ChartScreen(ModalScreen[None]):
    """One chart, redrawn to the window's size; Esc, q or C closes it."""

    BINDINGS = [Binding("escape,q,C", "close", "Close")]
    DEFAULT_CSS = """
    ChartScreen { align: center middle; }
    ChartScreen .chart-box { width: 96%; height: 92%; background: $surface; border: thick $primary;
                             padding: 0 1; }
    """

    def __init__(self, chart: Chart) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        with Vertical(classes="chart-box"):
            yield Static(Text(escape_controls(self.chart.title), style="bold"), id="chart-title")
            yield Static("", id="chart-body")
            yield Static(Text("Esc closes · drawn with plotext", style="dim"))

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        # the box is 96% x 92% of the window; border, padding, title and key line take the rest
        w = int(self.app.size.width * 0.96) - 6
        h = int(self.app.size.height * 0.92) - 5
        # plain Text, never wrapped: labels from data are never read as markup, lines never fold
        body = Text(render_text(self.chart, w, h), no_wrap=True, overflow="crop")
        self.query_one("#chart-body", Static).update(body)

    def action_close(self) -> None:
        self.dismiss(None)


class ChartActions:
    """Part of DatasetScreen: `C` a chart of the view, `ctrl+e` the HTML report of the data."""

    def action_chart(self) -> None:
        from fieldkit.report.quick import column_chart, theme_chart
        from fieldkit.tui.model import ROW

        if not self._ready():
            return
        themes = self.annotations.themes if self.annotations is not None else None
        try:
            if themes is not None and getattr(self.side, "pane", "") == "themes":
                rows = self.model.view_lazy().select(ROW).collect()[ROW].to_list()
                chart = theme_chart(themes.labels, [themes.row_ids.get(r, -1) for r in rows])
            elif self.current_column is not None:
                chart = column_chart(self.model.view_lazy(), self.current_column)
            else:
                self.notify("select a column first", timeout=2)
                return
        except Exception as exc:  # an odd dtype: say so, never crash the screen
            self.notify(f"cannot chart this: {escape_controls(str(exc))[:120]}", severity="warning",
                        timeout=4)
            return
        self.app.push_screen(ChartScreen(chart))

    def action_export_report(self) -> None:
        from fieldkit.tui.screens.modals import PromptModal

        if self._ready():
            default = self.path.with_name(self.path.name.split(".")[0] + ".report.html")
            self.app.push_screen(PromptModal("Export the HTML report (charts, tables, provenance)",
                                             str(default), "report.html"), self._export_entered)

    def _export_entered(self, value: str | None) -> None:
        if value:
            self.export_report(Path(value).expanduser())

    def export_report(self, target: Path) -> None:
        """The rows in hand with their annotations (themes too) and the session's steps, as a report."""
        from fieldkit.tui.model import ROW

        frame = self.model.base_lazy().drop(ROW)
        if self.annotations is not None:
            frame = self.annotations.apply(frame)
        item = _loaded(self.path, self.dataset, frame, list(self.steps))
        self.start_job("report", f"report of {self.path.name}",
                       lambda rep: _write_report(item, target, rep), self._exported)

    def _exported(self, result, elapsed: float) -> None:
        self.notify(f"wrote {escape_controls(str(result.outcome.html))} "
                    f"({len(result.outcome.report.charts)} charts, {elapsed:.1f} s)", timeout=6)


class LogChartActions:
    """Part of LogScreen: `C` the highlighted template's timeline, `ctrl+e` the report of the lines."""

    def action_chart(self) -> None:
        from textual.widgets import DataTable

        from fieldkit.report.quick import template_timeline

        if self.result is None:
            self.notify("still reading…", timeout=2)
            return
        table = self.query_one("#templates", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        tid = int(key)
        text = dict(self.result.templates.select("template_id", "template").iter_rows()).get(tid)
        self.app.push_screen(ChartScreen(template_timeline(self.result.lines, tid, text)))

    def action_export_report(self) -> None:
        from fieldkit.tui.screens.modals import PromptModal

        if self.result is None:
            return
        default = self.path.with_name(self.path.name.split(".")[0] + ".report.html")
        self.app.push_screen(PromptModal("Export the HTML report of the log", str(default), "report.html"),
                             self._export_entered)

    def _export_entered(self, value: str | None) -> None:
        if not value:
            return
        from fieldkit.tui.model import ROW

        lines = self.result.lines
        frame = lines.drop(ROW).lazy() if ROW in lines.columns else lines.lazy()
        if "template" not in lines.columns:  # the screen keeps template texts in their own table
            frame = frame.join(self.result.templates.lazy().select("template_id", "template"),
                               on="template_id", how="left", maintain_order="left")
        item = _loaded(self.path, None, frame, [{"operation": "logs", "parameters": {"files": [str(self.path)]}}])
        self.start_job("report", f"report of {self.path.name}",
                       lambda rep: _write_report(item, Path(value).expanduser(), rep),
                       lambda res, el: self.notify(f"wrote {escape_controls(str(res.outcome.html))}", timeout=6))


def _loaded(path: Path, ds, frame, steps: list):
    from fieldkit.report import Loaded

    source = ds.source_info() if ds is not None else {"path": str(path), "format": "log"}
    prov = {"source": source, "steps": steps}
    if ds is not None and ds.format == "parquet":
        from fieldkit.store import read_provenance

        try:
            old = read_provenance(path) or {}
        except Exception:
            old = {}
        prov = {"source": old.get("source") or source, "steps": list(old.get("steps") or []) + steps}
    return Loaded(path, frame, prov, source.get("sha256"), 0)


def _write_report(item, target: Path, reporter):
    import polars as pl

    from fieldkit.pipelines.report import report

    item.rows = int(item.frame.select(pl.len()).collect().item())
    return report([item], target, reporter=reporter)
