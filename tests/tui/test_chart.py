"""Pilot tests of the terminal chart (`C`) and the report export (`ctrl+e`) on real files."""

from __future__ import annotations

import polars as pl

from fieldkit.report.model import Chart
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.chart import ChartScreen, render_text
from fieldkit.tui.screens.logs import LogScreen
from fieldkit.tui.screens.modals import PromptModal
from tests.conftest import SAMPLE_DATA, shared
from tests.tui.conftest import copy_to, wait_for_workers
from tests.tui.test_app import answer, select_column, text_of


async def test_chart_of_a_column_and_of_theme_shares_then_export(tmp_path):
    src = copy_to(tmp_path, SAMPLE_DATA / "kobo_water_survey.csv")
    data = pl.read_csv(src)
    app = FieldkitApp(str(src))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        # a number column: its histogram holds every non-null value
        select_column(screen, "water/minutes_to_source")
        await wait_for_workers(pilot)
        await pilot.press("C")
        chart_screen = app.screen
        assert isinstance(chart_screen, ChartScreen) and chart_screen.chart.kind == "hist"
        assert len(chart_screen.chart.values) == data["water/minutes_to_source"].drop_nulls().len()
        body = chart_screen.query_one("#chart-body")
        assert "┤" in text_of(body)
        # the drawing fits the box: no line folds (a real tmux run once showed every line wrapped)
        lines = body.content.plain.splitlines()
        assert lines and max(len(line) for line in lines) <= body.content_size.width
        assert len(lines) <= body.parent.content_size.height
        await pilot.press("escape")
        assert not isinstance(app.screen, ChartScreen)
        # a text column in a filtered view: its most common values in that view
        await pilot.press("f")
        await answer(pilot, "\"respondent/gender\" = 'female'")
        select_column(screen, "water/main_source")
        await wait_for_workers(pilot)
        await pilot.press("C")
        chart = app.screen.chart
        view = data.filter(pl.col("respondent/gender") == "female")
        top = view.group_by("water/main_source").len().sort(["len", "water/main_source"],
                                                            descending=[True, False])
        assert chart.kind == "barh" and chart.categories[0] == top["water/main_source"][0]
        assert chart.values == top["len"].head(len(chart.values)).to_list()
        body = text_of(app.screen.query_one("#chart-body"))
        assert top["water/main_source"][0][:20] in body
        await pilot.press("escape")
        # themes in the panel: the chart is their shares over the rows in view
        await pilot.press("x")
        await wait_for_workers(pilot)
        rows = {i: (0 if i % 3 else 1) for i in range(data.height)}
        screen.annotations.set_themes("feedback/comment", rows, {0: "water <b>[red]", 1: "queue"})
        screen.show_themes()
        await wait_for_workers(pilot)
        await pilot.press("C")
        chart = app.screen.chart
        assert chart.categories == ["water <b>[red]", "queue"]
        assert abs(chart.values[1] - sum(1 for t in rows.values() if t == 1) / data.height) < 1e-9
        assert "water <b>[red]" in text_of(app.screen.query_one("#chart-body"))  # shown, not markup
        await pilot.press("escape")
        # export: the report of the rows in hand, with the session's themes
        await pilot.press("ctrl+e")
        assert isinstance(app.screen, PromptModal)
        await answer(pilot, str(tmp_path / "kobo.html"))
        await wait_for_workers(pilot)
    page = (tmp_path / "kobo.html").read_text(encoding="utf-8")
    assert 'data-kind="themes"' in page and 'data-kind="survey"' in page
    assert "water &lt;b&gt;[red]" in page and "<b>[red]" not in page
    assert "http://" not in page and "https://" not in page and page.count("<svg ") >= 3


async def test_log_template_timeline_and_log_report(tmp_path):
    src = copy_to(tmp_path, shared("logs", "Apache_2k.log"))
    app = FieldkitApp(str(src))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, LogScreen)
        from textual.widgets import DataTable

        templates = screen.result.templates
        table = screen.query_one("#templates", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("C")
        chart = app.screen.chart
        tid = templates["template_id"][1]
        assert chart.kind == "lines" and sum(chart.series["lines"]) == int(templates["count"][1])
        assert f"template {tid}" in chart.title
        await pilot.press("escape")
        await pilot.press("ctrl+e")
        await answer(pilot, str(tmp_path / "log.html"))
        await wait_for_workers(pilot)
    page = (tmp_path / "log.html").read_text(encoding="utf-8")
    assert 'data-kind="logs"' in page and "Lines per level over time" in page


def test_render_text_is_plain_and_sized():
    chart = Chart("t", "barh", categories=["a\x1b[31mred", "b"], values=[3, 1])
    text = render_text(chart, 60, 12)
    assert "\x1b" not in text and len(text.splitlines()) <= 12
    assert "\\x1b" in text or "red" in text
