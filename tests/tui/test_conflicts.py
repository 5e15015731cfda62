"""Pilot: a file made by `fieldkit merge` opens with a conflicts filter; picking a side is journaled and saved."""

from __future__ import annotations

import polars as pl

from fieldkit import pipelines
from fieldkit.annotate import journal_path_for, read_journal
from fieldkit.io import load_dataset
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.dataset import DatasetScreen
from fieldkit.tui.screens.dataset_conflicts import ConflictPicker
from tests.conftest import shared
from tests.tui.conftest import wait_for_workers
from tests.tui.test_app import answer


def laptop(df: pl.DataFrame, notes: dict[int, str], codes: dict[int, str]) -> pl.DataFrame:
    n = df.height
    return df.with_columns(pl.Series("note", [notes.get(i) for i in range(n)], dtype=pl.String),
                           pl.Series("code", [codes.get(i) for i in range(n)], dtype=pl.String),
                           pl.Series("tags", [["water"] if i == 1 else [] for i in range(n)],
                                     dtype=pl.List(pl.String)))


def make_merged(tmp_path) -> tuple[pl.DataFrame, object]:
    """Two laptops' copies of the REACH Bangladesh export (rows with a uuid), merged."""
    bgd = load_dataset(shared("survey", "reach_bgd_hfc_sample_dataset.csv")).read().filter(
        pl.col("X_uuid").is_not_null()).select(["X_uuid", "enumerator_id", "upazilla_name", "union_name"])
    a = laptop(bgd, {2: "latrine full", 5: "tank dry"}, {7: "wash"})
    b = laptop(bgd, {2: "latrine fixed", 5: "tank dry (fixed \x1b[31m)"}, {7: "shelter"})
    a.write_parquet(tmp_path / "a.parquet")
    b.write_parquet(tmp_path / "b.parquet")
    data = tmp_path / "data"
    data.mkdir()
    out = data / "merged.parquet"
    pipelines.merge([tmp_path / "a.parquet", tmp_path / "b.parquet"], out)
    return bgd, out


async def test_conflicts_filter_and_picking_a_side(tmp_path):
    bgd, merged = make_merged(tmp_path)
    app = FieldkitApp(str(merged))
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        await pilot.press("K")
        await wait_for_workers(pilot)
        assert screen.model.row_count == 3 and "conflicts" in screen.view_label()
        assert [screen.model.row_id(i) for i in range(3)] == [2, 5, 7]
        # row 3 (id 2): two notes; pick the second side
        await pilot.press("k")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ConflictPicker)
        assert sorted(picker.sides) == [("note", "latrine fixed", "b.parquet"), ("note", "latrine full", "a.parquet")]
        chosen = picker.sides[1][1]
        await pilot.press("2")
        await wait_for_workers(pilot)
        ann = screen.annotations
        assert ann.resolved == {2: {"note": chosen}} and ann.notes[2] == chosen
        assert screen.model.row_count == 2  # the row's only conflict is closed: it leaves the filter
        op = read_journal(journal_path_for(merged))[-1]
        assert (op["op"], op["field"], op["value"]) == ("resolve", "note", chosen) and op["key"] and op["at"]
        await pilot.press("u")  # undo: the conflict is open again, the note is the merge's winner again
        assert ann.resolved == {} and ann.notes[2] == pl.read_parquet(merged)["note"][2]
        ann.resolve(2, "note", chosen)
        # the code conflict on row 8 (id 7): Enter on the highlighted side keeps it
        await pilot.press("K", "K")
        await wait_for_workers(pilot)
        screen.table.move_to(screen.model.index_of_row_id(7))
        await pilot.press("k")
        await pilot.pause()
        code_pick = app.screen.sides[0][1]
        await pilot.press("enter")
        await wait_for_workers(pilot)
        assert ann.resolved[7] == {"code": code_pick}
        await pilot.press("ctrl+s")
        target = tmp_path / "resolved.parquet"
        await answer(pilot, str(target))
    saved = pl.read_parquet(target)
    assert saved["note"][2] == chosen and saved["merge_conflicts"][2].to_list() == []
    assert saved["code"][7] == code_pick and saved["merge_conflicts"][7].to_list() == []
    assert len(saved["merge_conflicts"][5]) == 2  # not decided: still listed
    assert saved["tags"][1].to_list() == ["water"] and saved.height == bgd.height
    # the laptop hands over its journal instead: the side picked wins there too (it is the latest change)
    again = pipelines.merge([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "again.parquet",
                            journals=[journal_path_for(merged)]).outcome
    assert pl.read_parquet(tmp_path / "again.parquet")["note"][2] == chosen and again.sources[-1].kind == "journal"
