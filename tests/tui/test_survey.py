"""Issue 20 in the TUI, on the REACH Iraq export and its XLSForm (Arabic/English): labels as a
view, the check findings as a filter, and cell fixes written to the cleaning log that
`fieldkit clean --log` applies."""

from __future__ import annotations

import csv

import openpyxl
import polars as pl
import pytest
from textual.widgets import OptionList

from fieldkit.cli import main
from fieldkit.io import load_dataset
from fieldkit.store import read_provenance
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.model import ROW
from fieldkit.tui.screens.modals import ChoiceModal, ErrorModal, PromptModal
from tests.conftest import shared
from tests.tui.conftest import copy_to, wait_for_workers
from tests.tui.test_app import answer, select_column

IRQ = ("survey", "reach_irq_talafar_water_raw.xlsx")
FORM = ("survey", "reach_irq_talafar_water_xlsform.xlsx")


@pytest.fixture
def irq(tmp_path):
    return copy_to(tmp_path, shared(*IRQ))


@pytest.fixture
def no_other(tmp_path):
    """The "other (specify)" grouping needs the embedding model; these tests do not."""
    cfg = tmp_path / "checks.toml"
    cfg.write_text("[other]\nenabled = false\n")
    return cfg


def sheet(name: str) -> list[dict]:
    """A sheet of the form as dicts, read with openpyxl (not with fieldkit's reader)."""
    rows = list(openpyxl.load_workbook(shared(*FORM), read_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def cli(capsys, *args) -> int:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    capsys.readouterr()
    return e.value.code


async def test_form_labels_in_headers_and_cells_switch_languages_and_back_to_codes(irq):
    survey, choices = sheet("survey"), sheet("choices")
    q = next(r for r in survey if r["name"] == "hhh_r")  # select_one yes_no
    yes = {r["name"]: r for r in choices if r["list_name"] == q["type"].split()[1]}
    multi = next(r for r in survey if r["name"] == "water_sources")  # select_multiple
    sources = {r["name"]: r for r in choices if r["list_name"] == multi["type"].split()[1]}
    data = load_dataset(irq).frame.collect()

    app = FieldkitApp(str(irq), form=shared(*FORM), lang="ar")
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        m = screen.model
        assert screen.label_lang == "Arabic (ar)"
        assert m.header("hhh_r") == q["label::Arabic (ar)"]
        col = m.columns.index("hhh_r")
        assert m.row(0)[1][col] == yes[data["hhh_r"][0]]["label::Arabic (ar)"]
        # select_multiple: each code shown by its label, in order
        wcol, codes = m.columns.index("water_sources"), data["water_sources"][0].split()
        assert m.row(0)[1][wcol] == "; ".join(sources[c]["label::Arabic (ar)"] for c in codes)
        assert m.view["hhh_r"][0] == data["hhh_r"][0]  # the stored values stay codes
        # a column the form does not ask about keeps its name
        assert m.header("deviceid") == "deviceid"
        await pilot.press("L")  # Arabic -> the codes
        assert screen.label_lang is None
        assert m.header("hhh_r") == "hhh_r" and m.row(0)[1][col] == data["hhh_r"][0]
        await pilot.press("L")  # codes -> English
        assert screen.label_lang == "English (en)"
        assert m.header("hhh_r") == q["label::English (en)"]
        assert m.row(0)[1][col] == yes[data["hhh_r"][0]]["label::English (en)"]


async def test_without_a_form_L_says_how_to_give_one(irq):
    app = FieldkitApp(str(irq))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("L")
        assert app.screen.form is None and app.screen.model.header("hhh_r") == "hhh_r"


async def test_findings_filter_shows_the_rows_fieldkit_check_finds(irq, no_other, tmp_path, capsys):
    # a planted duplicate submission id beside the outliers the export really has
    data = load_dataset(irq).frame.collect()
    planted = tmp_path / "irq_planted.csv"
    data.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.col("X_uuid").get(4))
                      .otherwise(pl.col("X_uuid")).alias("X_uuid")).write_csv(planted)
    irq = planted
    findings = tmp_path / "findings.parquet"
    assert cli(capsys, "check", irq, "--form", shared(*FORM), "--config", no_other, "-o", findings) == 0
    by_cli = pl.read_parquet(findings).filter(pl.col("row").is_not_null())
    checks = by_cli["check"].unique().to_list()
    assert "duplicate_id" in checks and len(checks) >= 2
    assert sorted(by_cli.filter(pl.col("check") == "duplicate_id")["row"].to_list()) == [4, 5]

    app = FieldkitApp(str(irq), form=shared(*FORM), checks=no_other)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        for check in checks:
            await pilot.press("exclamation_mark")
            await wait_for_workers(pilot)
            assert isinstance(app.screen, ChoiceModal)
            lst = app.screen.query_one(OptionList)
            ids = [lst.get_option_at_index(i).id for i in range(lst.option_count)]
            assert ids[0] == "*" and sorted(ids[1:]) == sorted(checks)
            lst.highlighted = ids.index(check)
            await pilot.press("enter")
            await wait_for_workers(pilot)
            want = sorted(by_cli.filter(pl.col("check") == check)["row"].unique().to_list())
            assert screen.model.view[ROW].to_list() == want
            assert set(screen.model.view["finding"].to_list()) == {check}
            assert screen.current_column == "finding"  # the cursor starts on why the row is shown
            await pilot.press("x")
            await wait_for_workers(pilot)
        assert screen.model.row_count == 632


async def test_fixing_a_cell_writes_the_log_that_fieldkit_clean_applies(irq, tmp_path, capsys):
    data = load_dataset(irq).frame.collect()
    app = FieldkitApp(str(irq))
    log = irq.with_name(irq.name + ".cleaning-log.csv")
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        select_column(screen, "neighbourhood")
        await pilot.press("down", "down", "E")
        assert isinstance(app.screen, PromptModal)
        await answer(pilot, "al_noor")
        await answer(pilot, "GPS point is in al_noor")
        assert screen.model.view["neighbourhood"][2] == "al_noor"
        # a number column refuses text, as `fieldkit clean` would: nothing is logged
        select_column(screen, "age_hoh")
        await pilot.press("E")
        await answer(pilot, "forty")
        await answer(pilot, "typo")
        assert isinstance(app.screen, ErrorModal) and "not a valid" in app.screen.message
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        saved = tmp_path / "fixed.parquet"
        await answer(pilot, str(saved))
        await wait_for_workers(pilot)

    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert len(rows) == 1
    uuid = data["X_uuid"][2]
    assert rows[0] | {"who": "", "when": ""} == {
        "uuid": uuid, "question": "neighbourhood", "old_value": data["neighbourhood"][2], "new_value": "al_noor",
        "reason": "GPS point is in al_noor", "who": "", "when": ""}
    assert rows[0]["who"] and rows[0]["when"]

    clean = tmp_path / "clean.parquet"
    assert cli(capsys, "clean", irq, "--log", log, "-o", clean) == 0
    cleaned = pl.read_parquet(clean)
    changed = cleaned.filter(pl.col("X_uuid") == uuid)["neighbourhood"].to_list()
    assert changed == ["al_noor"]
    expected = data.with_columns(pl.when(pl.col("X_uuid") == uuid).then(pl.lit("al_noor"))
                                 .otherwise(pl.col("neighbourhood")).alias("neighbourhood"))
    assert cleaned.select(data.columns).equals(expected)
    # the TUI's own save holds the same fixed values, with a clean step naming the log
    tui = pl.read_parquet(saved)
    assert tui.select(data.columns).equals(expected)
    step = read_provenance(saved)["steps"][-1]
    assert step["operation"] == "clean" and step["parameters"]["applied"] == 1
    assert step["parameters"]["log"] == str(log)


async def test_summary_panel_shows_arabic_answers_in_visual_order(irq, monkeypatch):
    """Seen in tmux on this export: the summary panel showed Arabic in logical (reversed) order."""
    from fieldkit.analysis.summarize import Summary
    from fieldkit.display import visual
    from fieldkit.pipelines.core import Result, make_step, timed
    from fieldkit.pipelines.summarize import GroupSummary, Summaries
    from tests.tui.test_app import text_of

    col = "water_supply_other_neighbourhoods_why"
    answer_ar = next(t for t in load_dataset(irq).text_column(col).to_list() if t and len(t.split()) >= 3)

    def summarize(data, column, reporter, **kw):
        with timed() as clock:
            pass
        s = Summary(text=f"- {answer_ar}", mode="extractive", model=None, units=(), notes=())
        return Result(Summaries(column, None, "auto", [GroupSummary(None, 1, s)]), {},
                      make_step("summarize", {"column": column}, clock))

    app = FieldkitApp(str(irq))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_workers(pilot)
        monkeypatch.setattr(app.backend, "summarize", summarize)
        select_column(app.screen, col)
        await pilot.press("z")
        await wait_for_workers(pilot)
        shown = text_of(app.screen.query_one("#results"), 400)
        words = answer_ar.split()
        assert visual(" ".join(words[:2])) in shown or visual(words[0]) in shown
        assert " ".join(words[:2]) not in shown  # never the logical order on a terminal
