"""Issue 11 items 3-13 (the analyst's work kept and shown), on sample_data and shared real files.

Jobs run on `FakeBackend` (no model needed); the real themes path is covered in test_app.
"""

from __future__ import annotations

import json

import polars as pl
from textual.widgets import Input, OptionList

from fieldkit.annotate import journal_path_for
from fieldkit.io import load_dataset
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.columns import ColumnPicker
from fieldkit.tui.screens.modals import PromptModal, RowDetail
from fieldkit.tui.widgets.side import SidePanel, ThemeList
from fieldkit.tui.widgets.vtable import VirtualTable
from tests.conftest import shared
from tests.tui.conftest import copy_to, wait_for_workers
from tests.tui.fakes import FAKE_MODEL, FakeBackend
from tests.tui.test_app import answer, select_column, text_of

COMMENT = "feedback/comment"


async def test_named_tags_are_saved_in_tags_and_shown_in_gutter_and_row_view(kobo_csv, tmp_path):
    # Review finding: after `T` "1 = dificultad" the Parquet still held tag1/tag2 and the gutter showed •.
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("1", "2", "down", "2")
        await pilot.press("T")
        await answer(pilot, "1 = dificultad")
        await pilot.press("T")
        await answer(pilot, "2 = seguimiento")
        assert screen.annotations.tags == {0: {"dificultad", "seguimiento"}, 1: {"seguimiento"}}
        table = screen.query_one(VirtualTable)
        assert table.render_line(2).text.split("│")[0].split()[-1] == "12"  # the gutter shows keys, not •
        await pilot.press("up", "enter")
        assert isinstance(app.screen, RowDetail) and "dificultad, seguimiento" in app.screen.tags
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        target = tmp_path / "named.parquet"
        await answer(pilot, str(target))
        saved = pl.read_parquet(target)
        assert saved["tags"].to_list()[:3] == [["dificultad", "seguimiento"], ["seguimiento"], []]


async def test_undo_says_what_it_undid(kobo_csv):
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("down", "3", "u")
        assert "undone: tag 'tag3' taken off row 2" in text_of(screen.query_one("#status"), 300)
        await pilot.press("T")
        await answer(pilot, "4 = revisar")
        await pilot.press("4", "T")
        await answer(pilot, "4 = check")
        await pilot.press("u")
        assert "tag name 'check' back to 'revisar'" in text_of(screen.query_one("#status"), 300)
        assert screen.annotations.tags == {1: {"revisar"}} and screen.tag_names["4"] == "revisar"


async def test_themes_rename_updates_title_and_x_clears_the_panel(kobo_csv):
    backend = FakeBackend()
    app = FieldkitApp(str(kobo_csv), backend=backend)
    async with app.run_test(size=(130, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, COMMENT)
        await pilot.press("t")
        await wait_for_workers(pilot)
        lst = screen.query_one(ThemeList)
        lst.highlighted = 1
        tid = lst.highlighted_theme()
        await pilot.press("enter")
        await wait_for_workers(pilot)
        old = screen.annotations.themes.labels[tid]
        assert f"theme: {old}" in text_of(screen.query_one("#title"), 300)
        await pilot.press("r")
        await answer(pilot, "bombas rotas")
        assert "theme: bombas rotas" in text_of(screen.query_one("#title"), 300)
        # the model that ran is named in the themes title and the status line
        assert FAKE_MODEL in text_of(screen.query_one("#side-title"), 300)
        assert f"model {FAKE_MODEL}" in text_of(screen.query_one("#status"), 400)
        # a search fills the results pane; x brings all rows and the profile back
        await pilot.press("tab")
        await pilot.press("m")
        await answer(pilot, "pump broken")
        await wait_for_workers(pilot)
        side = screen.query_one(SidePanel)
        assert side.pane == "results" and FAKE_MODEL in text_of(screen.query_one("#results"))
        assert "score" in screen.model.columns
        await pilot.press("x")
        await wait_for_workers(pilot)
        assert side.pane == "profile" and text_of(screen.query_one("#results")).strip() == ""
        assert screen.model.row_count == 300


async def test_job_bar_names_the_model_while_it_runs(kobo_csv):
    import threading

    backend = FakeBackend()
    release = threading.Event()
    real = backend.themes
    backend.themes = lambda *a, **k: (release.wait(30), real(*a, **k))[1]
    app = FieldkitApp(str(kobo_csv), backend=backend)
    async with app.run_test(size=(130, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, COMMENT)
        await pilot.press("t")
        bar = screen.query_one("#jobbar")
        while bar.model is None:
            await pilot.pause()
        assert FAKE_MODEL in text_of(bar.query_one("#job-label"))
        release.set()
        await wait_for_workers(pilot)


async def test_filter_prompt_keeps_the_text_after_a_mistake(kobo_csv):
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("f")
        await answer(pilot, '"respondent/householdsize" > 4')
        assert isinstance(app.screen, PromptModal)
        assert app.screen.query_one(Input).value == '"respondent/householdsize" > 4'
        error = text_of(app.screen.query_one("#prompt-error"), 300)
        assert "respondent/household_size" in error and "_fk_row" not in error  # the closest real name
        await answer(pilot, '"respondent/household_size" > 4')
        df = pl.read_csv(kobo_csv)
        assert screen.model.row_count == df.filter(pl.col("respondent/household_size") > 4).height


async def test_journal_is_made_by_the_first_annotation_and_says_where_when_folder_is_read_only(
        kobo_csv, monkeypatch, fk_home):
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        select_column(app.screen, COMMENT)
        await pilot.press("t")
        await wait_for_workers(pilot)
        assert app.screen.annotations.themes is not None
        assert not journal_path_for(kobo_csv).exists()  # a job alone leaves nothing beside the data
        await pilot.press("tab", "1")
        assert journal_path_for(kobo_csv).exists()
    ops = [json.loads(line)["op"] for line in journal_path_for(kobo_csv).read_text().splitlines()]
    assert ops == ["header", "themes", "tag"]  # the themes result is kept once there is a journal
    # a read-only data folder: the journal goes to FIELDKIT_HOME and the user is told where
    folder = str(kobo_csv.parent.resolve())
    real_access = __import__("os").access
    monkeypatch.setattr("fieldkit.annotate.os.access",
                        lambda p, mode: False if str(p) == folder else real_access(p, mode))
    other = kobo_csv.with_name("copy.csv")
    other.write_bytes(kobo_csv.read_bytes())
    notes: list[str] = []
    app = FieldkitApp(str(other), backend=FakeBackend())
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        monkeypatch.setattr(app, "notify", lambda message, **kw: notes.append(message))
        await pilot.press("2")
        where = journal_path_for(other)
        assert where.exists() and str(fk_home) in str(where)
        assert any(str(where) in n for n in notes)
    assert not other.with_name("copy.csv.fieldkit-journal.jsonl").exists()


async def test_find_ignores_case_and_accents(tmp_path):
    src = tmp_path / "es.csv"
    pl.DataFrame({"respuesta": ["me gustan los mapas", "Los GRÁFICOS son buenos", "nada"]}).write_csv(src)
    app = FieldkitApp(str(src), backend=FakeBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("slash")
        await answer(pilot, "grafic")
        assert app.screen.query_one(VirtualTable).cursor_row == 1


async def test_column_picker_shows_types_and_survey_roles_and_searches(kobo_csv):
    ds = load_dataset(kobo_csv)
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("semicolon")
        picker = app.screen
        assert isinstance(picker, ColumnPicker)
        by_name = {e.name: e for e in picker.entries}
        assert all(by_name[c].role == "metadata" for c in ds.survey.metadata if c not in ("start", "end", "today"))
        assert by_name["gps"].role == "GPS" and by_name["_gps_latitude"].role == "GPS latitude"
        assert by_name[COMMENT].role == "free text" and by_name[COMMENT].dtype == "str"
        assert by_name["respondent/site"].role == ""  # a short categorical answer is not free text
        # option columns listed right under their question
        names = [e.name for e in picker.entries]
        q = ds.survey.select_multiple[0]
        at = names.index(q["column"])
        assert names[at + 1: at + 1 + len(q["options"])] == q["options"]
        await pilot.press(*"free text")
        lst = picker.query_one(OptionList)
        shown = [picker.entries[int(lst.get_option_at_index(i).id)].name for i in range(lst.option_count)]
        assert COMMENT in shown and "gps" not in shown
        await pilot.press("enter")
        assert screen.current_column == COMMENT


async def test_select_multiple_question_is_profiled_by_option(kobo_csv):
    df = pl.read_csv(kobo_csv)
    app = FieldkitApp(str(kobo_csv), backend=FakeBackend())
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, "water/problems")
        await wait_for_workers(pilot)
        profile = text_of(screen.query_one("#profile"), 60)
        assert "select_multiple (6 options)" in profile and "options chosen" in profile
        for opt in ("pump_broken", "dirty_water", "too_far"):
            n = int(df[f"water/problems/{opt}"].sum())
            line = next(x for x in profile.splitlines() if opt in x)
            assert line.split()[0] == f"{n:,}"


async def test_end_spaces_are_hinted_and_doubled_quotes_shown_once(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('id,"What is ""Other""?"\n1,Versatilidad\n2,Versatilidad \n3,Precio\n4,Versatilidad\n',
                   encoding="utf-8")
    app = FieldkitApp(str(src), backend=FakeBackend())
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        col = screen.model.data_columns[1]
        select_column(screen, col)
        await wait_for_workers(pilot)
        profile = text_of(screen.query_one("#profile"), 70)
        assert "1 values have spaces at the start or end" in profile
        assert 'What is "Other"?' in profile and '""' not in profile


async def test_log_filter_by_level_text_time_and_template(tmp_path):
    src = copy_to(tmp_path, shared("logs", "HDFS_2k.log"))
    truth = pl.read_csv(shared("logs", "HDFS_2k.log_structured.csv"))
    app = FieldkitApp(str(src))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("f")
        await answer(pilot, "level:warn")
        assert screen.model.row_count == truth.filter(pl.col("Level") == "WARN").height
        block = truth["Content"].str.extract(r"(blk_-?\d+)").drop_nulls()[0]
        await pilot.press("f")
        await answer(pilot, f"param:{block}")
        assert screen.model.row_count == truth.filter(pl.col("Content").str.contains(block + r"\b")).height
        lines = screen.model.view
        ts = lines["timestamp"].sort()
        lo, hi = ts[len(ts) // 4], ts[3 * len(ts) // 4]
        await pilot.press("a", "f")
        await answer(pilot, f"from:{lo:%Y-%m-%dT%H:%M:%S} to:{hi:%Y-%m-%dT%H:%M:%S} PacketResponder")
        base = screen.model.base
        expected = base.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") <= hi)
                               & pl.col("message").str.to_lowercase().str.contains("packetresponder")).height
        assert screen.model.row_count == expected > 0
        assert "filter: from:" in text_of(screen.query_one("#title"), 400)
        # a field the log does not have: the prompt comes back with the text and the fields it has
        await pilot.press("f")
        await answer(pilot, "host:node7")
        assert isinstance(app.screen, PromptModal) and app.screen.query_one(Input).value == "host:node7"
        assert "no host field" in text_of(app.screen.query_one("#prompt-error"), 300)
        await pilot.press("escape")
        assert screen.model.row_count == expected


async def test_log_header_columns_show_and_filter_by_process_and_param(tmp_path):
    # Process names used to vanish from templates; the filter now reaches header fields and params.
    src = copy_to(tmp_path, shared("logs", "formats", "logfile_syslog.0"))
    raw = src.read_text(encoding="utf-8").splitlines()
    app = FieldkitApp(str(src))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        from textual.widgets import DataTable

        table = screen.query_one("#templates", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert "process" in labels
        shown = {str(table.get_row_at(i)[labels.index("process")]) for i in range(table.row_count)}
        assert {"automount", "sudo"} <= shown
        await pilot.press("f")
        await answer(pilot, "process:automount")
        assert screen.model.row_count == sum(" automount[" in line for line in raw)
        await pilot.press("f")
        await answer(pilot, "param:opt")
        assert screen.model.view["message"].to_list() == ["lookup(file): lookup for opt failed"]
