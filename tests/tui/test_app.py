"""Pilot tests of every flow of the terminal interface, on sample_data and real shared files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import polars as pl
import pytest
from rich.cells import cell_len
from textual.widgets import Input, OptionList

from fieldkit.annotate import journal_path_for
from fieldkit.io import load_dataset
from fieldkit.store import read_provenance
from fieldkit.tui import actions as A
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.model import quote_ident
from fieldkit.tui.screens.browser import BrowserScreen, DataTree
from fieldkit.tui.screens.dataset import DatasetScreen
from fieldkit.tui.widgets.side import ThemeList
from fieldkit.tui.screens.logs import LogScreen
from fieldkit.tui.screens.modals import ErrorModal, PromptModal, RowDetail, TextModal
from fieldkit.tui.widgets.vtable import VirtualTable
from tests.conftest import SAMPLE_DATA, shared
from tests.tui.conftest import copy_to, wait_for_workers

LIKE_BEST = "What do you like best about using R?"
EXPERIENCE = "How would you rate your level of experience using R?"


async def answer(pilot, text: str) -> None:
    """Type into the open prompt and submit it."""
    assert isinstance(pilot.app.screen, (PromptModal, RowDetail))
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await wait_for_workers(pilot)


def text_of(widget, width: int = 120) -> str:
    """The plain text a Static shows (markup resolved, tables drawn)."""
    from rich.console import Console
    from rich.text import Text

    content = widget.content
    if isinstance(content, str):
        content = Text.from_markup(content)
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(content)
    return console.export_text()


def select_column(screen: DatasetScreen, name: str) -> None:
    screen.query_one(VirtualTable).move_to(col=screen.model.columns.index(name))


async def test_browser_opens_sample_data_and_remembers_recent(kobo_csv, tui_settings):
    app = FieldkitApp(str(kobo_csv.parent))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        assert isinstance(app.screen, BrowserScreen)
        assert app.screen.folder == kobo_csv.parent.resolve()
        await pilot.press("s")  # jump to the project's sample_data
        assert app.screen.folder.name == "sample_data"
        app.screen.query_one(DataTree).focus()
        app.open_path(kobo_csv)
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        assert screen.model.base.height == pl.read_csv(kobo_csv).height
        await pilot.press("ctrl+o")  # back to the browser: the file is listed as recent
        await wait_for_workers(pilot)
        assert isinstance(app.screen, BrowserScreen)
        assert str(kobo_csv.resolve()) in json.loads(tui_settings.read_text())["recent"]
        recent = app.screen.query_one("#recent", OptionList)
        assert recent.option_count == 1


async def test_open_missing_path_shows_error_with_hint(tmp_path):
    app = FieldkitApp(str(tmp_path))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        app.open_path(tmp_path / "nope.csv")
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert "does not exist" in app.screen.message and app.screen.hint
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)


async def test_survey_profile_sort_filter_jump_find(survey_tsv):
    expected = load_dataset(survey_tsv).frame.collect()
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        assert screen.model.row_count == expected.height == 1838
        # profile of the selected column, computed independently here
        select_column(screen, EXPERIENCE)
        await wait_for_workers(pilot)
        profile = text_of(screen.query_one("#profile"))
        nulls = expected[EXPERIENCE].null_count()
        assert f"{nulls:,}" in profile
        top_value, top_count = expected[EXPERIENCE].drop_nulls().value_counts(sort=True).row(0)
        assert top_value in profile and f"{top_count:,}" in profile
        # sort on a numeric column: first row holds the minimum
        year = "What year were you born?"
        select_column(screen, year)
        await pilot.press("s")
        await wait_for_workers(pilot)
        assert screen.model.view[year][0] == expected[year].min()
        await pilot.press("s")
        assert screen.model.view[year][0] == expected[year].max()
        # filter with SQL: the count matches Polars directly
        await pilot.press("f")
        await answer(pilot, f"\"{EXPERIENCE}\" = 'Expert'")
        n_expert = expected.filter(pl.col(EXPERIENCE) == "Expert").height
        assert screen.model.row_count == n_expert
        assert f"{n_expert:,} of 1,838" in text_of(screen.query_one("#title"), 300)
        # jump and find
        await pilot.press("x")
        await pilot.press("colon")
        await answer(pilot, "1200")
        assert screen.query_one(VirtualTable).cursor_row == 1199
        select_column(screen, LIKE_BEST)
        await pilot.press("slash")
        await answer(pilot, "ggplot")
        row = screen.query_one(VirtualTable).cursor_row
        assert "ggplot" in screen.model.view[LIKE_BEST][row].lower()
        first_hit = expected.with_row_index().filter(
            pl.col(LIKE_BEST).str.to_lowercase().str.contains("ggplot", literal=True) & (pl.col("index") >= 1199)
        )["index"][0]
        assert row == first_hit
        await pilot.press("n")
        assert screen.query_one(VirtualTable).cursor_row > row


async def test_keys_act_on_the_column_under_the_cursor_before_its_move_is_announced(survey_tsv):
    """Keys typed fast, or queued on a busy machine, reach the screen before the table's CursorMoved message:
    in tmux, "Right s" sorted the column left of the cursor. The sort and the filter's example must use the
    column under the cursor now."""
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        year = "What year were you born?"
        select_column(screen, year)  # posts CursorMoved; nothing has handled it yet
        screen.action_sort()
        await wait_for_workers(pilot)
        assert screen.model.spec.sort_by == year
        select_column(screen, EXPERIENCE)
        screen.action_filter()
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)
        assert app.screen.placeholder == f"{quote_ident(EXPERIENCE)} IS NOT NULL"


async def test_bad_filter_is_an_error_modal_and_keeps_the_view(kobo_csv):
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        before = screen.model.row_count
        await pilot.press("f")
        await answer(pilot, '"no such colum" > 3')
        # the prompt comes back with the text as typed and the error in the user's terms
        assert isinstance(app.screen, PromptModal)
        assert app.screen.query_one(Input).value == '"no such colum" > 3'
        error = text_of(app.screen.query_one("#prompt-error"), 300)
        assert "no such colum" in error and "_fk_row" not in error
        await pilot.press("escape")
        assert screen.model.row_count == before and screen.model.spec.where is None
        # markup-like text in a filter is shown as typed (a crash here once came from markup)
        await pilot.press("f")
        await answer(pilot, "\"feedback/comment\" NOT LIKE '%[/]\\%'")
        assert "[/]" in text_of(screen.query_one("#title"), 300)
        assert screen.model.row_count == pl.read_csv(kobo_csv)["feedback/comment"].drop_nulls().len()  # SQL drops nulls


async def test_tags_notes_undo_save_and_reopen(kobo_csv, tmp_path):
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("1", "2", "down", "down", "3", "down", "1")
        await pilot.press("c")
        await answer(pilot, "pump broken — 水泵坏了")
        await pilot.press("4")
        await pilot.press("u")  # undo the tag 4
        ann = screen.annotations
        assert ann.tags == {0: {"tag1", "tag2"}, 2: {"tag3"}, 3: {"tag1"}}
        assert ann.notes == {3: "pump broken — 水泵坏了"}
        await pilot.press("ctrl+s")
        target = tmp_path / "annotated.parquet"
        await answer(pilot, str(target))
        saved = pl.read_parquet(target)
        assert saved.height == 300
        assert saved["tags"].to_list()[:4] == [["tag1", "tag2"], [], ["tag3"], ["tag1"]]
        assert saved["note"][3] == "pump broken — 水泵坏了"
        prov = read_provenance(target)
        assert prov["source"]["path"].endswith("kobo_water_survey.csv")
        assert prov["steps"][-1]["operation"] == "annotate"
        assert prov["steps"][-1]["parameters"]["tagged_rows"] == 3
    # reopen the source: the journal brings the annotations back
    assert journal_path_for(kobo_csv).exists()
    app2 = FieldkitApp(str(kobo_csv))
    async with app2.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        screen = app2.screen
        assert screen.annotations.tags == {0: {"tag1", "tag2"}, 2: {"tag3"}, 3: {"tag1"}}
        table = screen.query_one(VirtualTable)
        assert "12" in table.render_line(2).text  # marks column of row 1
    # opening the saved Parquet shows the same tags from its columns
    app3 = FieldkitApp(str(target))
    async with app3.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        assert app3.screen.annotations.tags[0] == {"tag1", "tag2"}
        assert app3.screen.annotations.notes == {3: "pump broken — 水泵坏了"}


async def test_row_detail_shows_whole_record_and_sets_note(survey_tsv):
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("enter")
        assert isinstance(app.screen, RowDetail)
        assert app.screen.record[EXPERIENCE] == screen.model.view[EXPERIENCE][0]
        # a wide row is read first: focus starts on the fields and the arrows scroll them
        scroll = app.screen.query_one("#detail-scroll")
        assert scroll.has_focus
        await pilot.press("down", "down", "down")
        assert scroll.scroll_y > 0
        await pilot.press("tab")  # then the note
        assert app.screen.query_one(Input).has_focus
        await answer(pilot, "check this one")
        assert screen.annotations.notes == {0: "check this one"}


async def test_help_lists_every_key_and_palette_has_every_action(kobo_csv):
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        titles = {c.title for c in app.get_system_commands(screen)}
        for a in A.DATASET_ACTIONS + A.THEME_LIST_ACTIONS + A.APP_ACTIONS:
            if a.action in ("focus_next", "app.command_palette", "app.quit"):
                continue
            if a.action == "tag":
                assert {f"Toggle tag {k}" for k in range(1, 10)} <= titles
            else:
                assert a.title in titles, a.title
        await pilot.press("f1")
        assert isinstance(app.screen, TextModal)
        text = text_of(app.screen.query_one("#text-body"), 200)
        for a in A.DATASET_ACTIONS + A.LOG_ACTIONS + A.APP_ACTIONS:
            assert (a.display or a.keys) in text and a.help[:30] in text
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, TextModal)
        await pilot.press("escape")
        # a palette command runs the same action as its key
        cmd = next(c for c in app.get_system_commands(screen) if c.title == "Toggle tag 5")
        cmd.callback()
        await pilot.pause()
        assert screen.annotations.tags == {0: {"tag5"}}


async def test_light_and_dark_theme_toggle_is_remembered(kobo_csv, tui_settings):
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        first = app.theme
        table = app.screen.query_one(VirtualTable)
        table.render_line(3)
        before = table._style("base").bgcolor
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme != first
        table.render_line(3)
        assert table._style("base").bgcolor != before  # cached styles follow the theme
        assert json.loads(tui_settings.read_text())["theme"] == app.theme


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_cjk_rows_align_at_any_size(tmp_path, size):
    src = copy_to(tmp_path, shared("nonlatin", "waimai_reviews_600.csv"))
    app = FieldkitApp(str(src))
    async with app.run_test(size=size) as pilot:
        await wait_for_workers(pilot)
        table = app.screen.query_one(VirtualTable)
        width = table.draw_width  # what is visible beside the scrollbar
        seps = set()
        for y in range(table.size.height - 1):
            strip = table.render_line(y)
            assert strip.cell_length == width
            text = strip.text
            seps.add(cell_len(text[: text.index("│")]))
        assert len(seps) == 1  # the gutter separator sits in the same cell on every line
        review = app.screen.model.view["review"][0]
        assert review[:4] in table.render_line(2).text


async def test_arabic_text_renders_at_cell_width(kobo_csv):
    df = pl.read_csv(kobo_csv)
    arabic_rows = df.with_row_index().filter(pl.col("feedback/language") == "ar")["index"].to_list()
    assert arabic_rows, "sample_data should hold Arabic answers"
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, "feedback/comment")
        table = screen.query_one(VirtualTable)
        table.move_to(arabic_rows[0])
        for y in range(table.size.height - 1):
            assert table.render_line(y).cell_length == table.draw_width


async def test_log_screen_templates_lines_and_summary(tmp_path, monkeypatch):
    # the deterministic summary here; the model's path is covered by the analysis tests
    monkeypatch.setattr("fieldkit.inference.generator.is_prepared", lambda model_id: False)
    src = copy_to(tmp_path, shared("logs", "HDFS_2k.log"))
    truth = pl.read_csv(shared("logs", "HDFS_2k.log_structured.csv"))
    app = FieldkitApp(str(src))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, LogScreen)
        templates = screen.result.templates
        assert int(templates["count"].sum()) == truth.height
        warn = templates.filter(pl.col("level") == "WARN")
        assert int(warn["count"].sum()) == truth.filter(pl.col("Level") == "WARN").height
        # choose the WARN template: its lines only
        from textual.widgets import DataTable

        table = screen.query_one("#templates", DataTable)
        table.focus()
        row_index = templates["template_id"].to_list().index(warn["template_id"][0])
        table.move_cursor(row=row_index)
        await pilot.press("enter")
        lines = screen.model.view
        assert lines.height == warn["count"][0]
        assert set(lines["level"].to_list()) == {"WARN"}
        await pilot.press("z")
        await wait_for_workers(pilot)
        summary = screen.summary_text
        assert "2,000" in summary and "WARN" in summary
        # model text streams in as generated: markup-like characters show as text, never crash
        def fake_summary(result, rep, on_token):
            on_token("odd \\[/] [b]text")
            return "final"

        monkeypatch.setattr(app.backend, "summarize_log", fake_summary)
        await pilot.press("z")
        await wait_for_workers(pilot)
        assert screen.summary_text == "final"
        assert "final" in text_of(screen.query_one("#log-digest"))
        await pilot.press("D")
        assert isinstance(app.screen, TextModal)
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await answer(pilot, str(tmp_path / "lines.parquet"))
        saved = pl.read_parquet(tmp_path / "lines.parquet")
        assert saved.height == truth.height
        assert saved.filter(pl.col("level") == "WARN")["template"].n_unique() == 1
        assert read_provenance(tmp_path / "lines.parquet")["steps"][0]["operation"] == "logs"


async def test_cancel_stops_a_running_job_and_ui_stays_responsive(kobo_csv):
    import threading

    from fieldkit.progress import Reporter

    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        started = threading.Event()
        finished = []

        def slow(rep: Reporter):
            started.set()
            for i in range(10_000):
                rep.update(i)
                rep.cancel.wait(0.01)
            return "done"

        screen.start_job("slow", "slow job", slow, lambda r, e: finished.append(r))
        while not started.is_set():  # the worker starts once the event loop runs
            await pilot.pause()
        assert screen.query_one("#jobbar").running
        await pilot.press("down", "down")  # the UI still handles keys
        assert screen.query_one(VirtualTable).cursor_row == 2
        await pilot.press("escape")
        await wait_for_workers(pilot)
        assert finished == []
        assert not screen.query_one("#jobbar").running


async def test_themes_filter_rename_review_and_save(survey_tsv, tmp_path, embedder_ready):
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, LIKE_BEST)
        await pilot.press("t")
        await wait_for_workers(pilot)
        themes = screen.annotations.themes
        assert themes is not None and len(themes.labels) >= 3
        lst = screen.query_one(ThemeList)
        assert lst.has_focus and lst.option_count == len(themes.labels) + 1
        # choose the first real theme: the table shows exactly its rows
        lst.highlighted = 1
        tid = lst.highlighted_theme()
        await pilot.press("enter")
        size = sum(1 for t in themes.row_ids.values() if t == tid)
        assert screen.model.row_count == size
        await pilot.press("r")
        await answer(pilot, "likes: ease of use")
        await pilot.press("v")
        assert themes.labels[tid] == "likes: ease of use" and tid in themes.reviewed
        await pilot.press("tab")  # back to the table, which shows the theme's rows
        assert screen.query_one(VirtualTable).has_focus
        await pilot.press("1", "down", "1", "down", "1")
        tagged = {screen.model.row_id(i) for i in range(3)}
        assert set(screen.annotations.tags) == tagged
        assert all(themes.row_ids[r] == tid for r in tagged)
        await pilot.press("ctrl+s")
        target = tmp_path / "themed.parquet"
        await answer(pilot, str(target))
        saved = pl.read_parquet(target)
        mine = saved.filter(pl.col("theme_id") == tid)
        assert mine.height == size
        assert set(mine["theme_label"]) == {"likes: ease of use"} and mine["theme_reviewed"].all()
        assert saved.with_row_index().filter(pl.col("tags").list.len() > 0)["index"].to_list() == sorted(tagged)


async def test_semantic_search_and_duplicates(survey_tsv, embedder_ready):
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, LIKE_BEST)
        await pilot.press("m")
        await answer(pilot, "beautiful plots and charts")
        view = screen.model.view
        assert 0 < view.height <= 50
        assert view["score"].to_list() == sorted(view["score"].to_list(), reverse=True)
        top = " ".join(view[LIKE_BEST].head(5).to_list()).lower()
        assert any(w in top for w in ("ggplot", "plot", "visual", "graph"))
        # a view that adds columns keeps the cursor on the column searched (it drifted to the next one)
        assert screen.current_column == LIKE_BEST
        await pilot.press("x")
        assert screen.current_column == LIKE_BEST
        await pilot.press("d")
        await wait_for_workers(pilot)
        assert screen.current_column == LIKE_BEST
        view = screen.model.view
        assert view.height > 0
        # every group shown has at least two rows, and exact repeats like "ggplot2" are grouped
        assert view.group_by("dup_group").len()["len"].min() >= 2


async def test_summary_of_filtered_rows_streams_into_the_panel(survey_tsv, embedder_ready):
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("f")
        await answer(pilot, f"\"{EXPERIENCE}\" = 'Beginner'")
        select_column(screen, LIKE_BEST)
        await pilot.press("z")
        await wait_for_workers(pilot)
        text = text_of(screen.query_one("#results"))
        assert "all rows" not in text and "rows in view" in text
        assert screen.last_summary.strip()
        assert "extractive" in text
        # per group, over all rows again; the group column can be given by part of its name
        await pilot.press("x")
        await pilot.press("Z")
        await answer(pilot, "level of experience")
        # the panel wraps its text to its width (hard line breaks), so compare words, not lines
        text = " ".join(text_of(screen.query_one("#results")).split())
        groups = screen.model.view[EXPERIENCE].drop_nulls().unique().to_list()
        for g in ("Expert", "Intermediate", "Beginner"):
            assert g in groups and f"= {g} (" in text
        # embedding is cached: the embed key reports it at once
        await pilot.press("e")
        await wait_for_workers(pilot)
        assert "embedded 1,838 rows" in text_of(screen.query_one("#status"), 300)


def test_first_screen_does_not_import_models_or_onnxruntime(tmp_path):
    src = copy_to(tmp_path, SAMPLE_DATA / "kobo_water_survey.csv")
    code = (
        "import asyncio, sys\n"
        "from fieldkit.tui.app import FieldkitApp\n"
        "async def main():\n"
        f"    app = FieldkitApp({str(src)!r})\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "asyncio.run(main())\n"
        "heavy = [m for m in ('onnxruntime', 'sklearn', 'tokenizers', 'torch') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**__import__('os').environ, "FIELDKIT_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
    assert not journal_path_for(src).exists()  # viewing alone writes nothing beside the data


async def test_large_views_are_built_off_the_ui_thread(kobo_csv, monkeypatch):
    monkeypatch.setattr("fieldkit.tui.screens.dataset.ASYNC_VIEW_ROWS", 0)  # treat 300 rows as "large"
    df = pl.read_csv(kobo_csv)
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, "water/minutes_to_source")
        await pilot.press("s")
        await wait_for_workers(pilot)
        assert screen.model.view["water/minutes_to_source"][0] == df["water/minutes_to_source"].min()
        await pilot.press("f")
        await answer(pilot, '"respondent/household_size" >= 6')
        assert screen.model.row_count == df.filter(pl.col("respondent/household_size") >= 6).height
        select_column(screen, "feedback/comment")
        await pilot.press("slash")
        await answer(pilot, "pump")
        row = screen.query_one(VirtualTable).cursor_row
        assert "pump" in screen.model.view["feedback/comment"][row].lower()
        await pilot.press("f")
        await answer(pilot, "nonsense ((")
        assert isinstance(app.screen, PromptModal) and app.screen.error  # worked out in a thread, same dialog


async def test_workbook_sheets_can_be_switched_and_keep_separate_annotations(tmp_path):
    src = copy_to(tmp_path, shared("messy", "csvkit_sheets_multisheet.xlsx"))
    app = FieldkitApp(str(src))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        first = screen.dataset.sheet
        assert len(screen.dataset.sheets) == 3 and first in screen.dataset.sheets
        await pilot.press("1")
        other = next(s for s in screen.dataset.sheets if s != first)
        await pilot.press("w")
        await answer(pilot, other)
        await wait_for_workers(pilot)
        assert app.screen is not screen and app.screen.dataset.sheet == other
        assert app.screen.annotations.tags == {}
        assert app.screen.default_output().name.startswith("csvkit_sheets_multisheet.")
        await pilot.press("w")
        await answer(pilot, first)
        await wait_for_workers(pilot)
        assert app.screen.annotations.tags == {0: {"tag1"}}


async def test_unreadable_file_shows_the_loaders_error_and_hint(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(bytes(range(256)) * 64)  # not a workbook
    app = FieldkitApp(str(bad))
    async with app.run_test() as pilot:
        await wait_for_workers(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.hint and "internal error" not in app.screen.message
        await pilot.press("escape")
        assert isinstance(app.screen, DatasetScreen)
        assert "could not open" in text_of(app.screen.query_one("#title"))
        await pilot.press("s", "f", "t")  # keys on a failed screen do nothing harmful
        assert isinstance(app.screen, DatasetScreen)


async def test_profile_of_first_column_describes_every_row_after_full_load(kobo_csv):
    # Bug found in tmux: the first column's profile said "rows 256" (the first painted rows)
    # and stayed so after the whole file had loaded.
    expected = load_dataset(kobo_csv).frame.collect()
    assert expected.height > 256
    app = FieldkitApp(str(kobo_csv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert screen.loaded and screen.current_column == expected.columns[0]
        profile = text_of(screen.query_one("#profile"))
        rows = re.search(r"rows\s+([\d,]+)", profile)
        assert rows and rows.group(1) == f"{expected.height:,}"


async def test_tags_made_while_saving_over_the_source_survive(kobo_csv, monkeypatch):
    # Review finding: saving over the source reset the journal after the write, dropping
    # the annotations made while the file was being written.
    import threading

    import fieldkit.store as store
    from fieldkit.annotate import open_annotations, read_journal

    source = kobo_csv.with_suffix(".parquet")
    load_dataset(kobo_csv).frame.collect().write_parquet(source)
    release = threading.Event()
    real_write = store.write_frame

    def held_write(*args, **kwargs):
        assert release.wait(30)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(store, "write_frame", held_write)
    app = FieldkitApp(str(source))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("1")           # row 0: tag1, then save over the source
        screen.save_to(source)
        await pilot.pause()
        await pilot.press("down", "2")   # row 1: tag2 while the write is held
        release.set()
        await wait_for_workers(pilot)
        assert screen.annotations.tags == {0: {"tag1"}, 1: {"tag2"}}
    ops = [o for o in read_journal(journal_path_for(source)) if o["op"] == "tag"]
    assert {"row": 1, "tag": "tag2", "on": True}.items() <= ops[-1].items()
    ann, _ = open_annotations(source, pl.read_parquet(source))
    assert ann.tags == {0: {"tag1"}, 1: {"tag2"}}
