"""Issue 10: the TUI runs the CLI's pipelines, so the same job saves the same Parquet from both."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fieldkit.cli import main
from fieldkit.store import read_provenance
from fieldkit.tui.app import FieldkitApp
from tests.tui.conftest import wait_for_workers
from tests.tui.test_app import LIKE_BEST, answer, select_column

TIMES = ("started", "seconds")


def cli(capsys, *args: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    assert e.value.code == 0, err


async def tui_session(path, keys: tuple[str, ...], out) -> None:
    """Open `path`, run themes on the answers, press `keys` in the table, save to `out`."""
    app = FieldkitApp(str(path))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        select_column(app.screen, LIKE_BEST)
        await pilot.press("t")
        await wait_for_workers(pilot)
        app.screen.table.focus()
        await pilot.press(*keys)
        await wait_for_workers(pilot)
        await pilot.press("ctrl+s")
        await answer(pilot, str(out))
        await wait_for_workers(pilot)


def without_times(step: dict) -> dict:
    return {k: v for k, v in step.items() if k not in TIMES}


async def test_themes_and_dupes_saved_from_the_tui_equal_the_cli_outputs(survey_tsv, tmp_path, capsys,
                                                                        embedder_ready):
    themes_out, dupes_out, tui_out = (tmp_path / f"{n}.parquet" for n in ("cli_themes", "cli_dupes", "tui"))
    cli(capsys, "themes", str(survey_tsv), "--column", LIKE_BEST, "-o", str(themes_out))
    cli(capsys, "dupes", str(survey_tsv), "--column", LIKE_BEST, "-o", str(dupes_out))

    await tui_session(survey_tsv, ("d",), tui_out)

    tui = pl.read_parquet(tui_out)
    by_cli = pl.read_parquet(themes_out).with_columns(pl.read_parquet(dupes_out).select("dup_group", "dup_size"))
    # the same columns, in the same order, with the same dtypes and values (no annotation columns:
    # nothing was tagged, noted, renamed or reviewed)
    assert tui.columns == by_cli.columns
    assert_frame_equal(tui, by_cli)
    assert tui["theme_id"].n_unique() >= 3 and tui["dup_group"].drop_nulls().len() > 0

    tui_prov = read_provenance(tui_out)
    cli_steps = [read_provenance(themes_out)["steps"][-1], read_provenance(dupes_out)["steps"][-1]]
    assert [without_times(s) for s in tui_prov["steps"]] == [without_times(s) for s in cli_steps]
    assert [list(s) for s in tui_prov["steps"]] == [list(s) for s in cli_steps]  # one shape, same key order
    assert tui_prov["source"] == read_provenance(themes_out)["source"]


async def test_a_tag_adds_the_annotation_columns_and_step_after_the_jobs(survey_tsv, tmp_path, capsys,
                                                                        embedder_ready):
    """Annotations are the analyst's layer on top: the job's columns stay as the CLI writes them."""
    themes_out, tui_out = tmp_path / "cli.parquet", tmp_path / "tui.parquet"
    cli(capsys, "themes", str(survey_tsv), "--column", LIKE_BEST, "-o", str(themes_out))
    await tui_session(survey_tsv, ("down", "1"), tui_out)
    tui, by_cli = pl.read_parquet(tui_out), pl.read_parquet(themes_out)
    assert [c for c in tui.columns if c not in by_cli.columns] == ["tags", "annotated_at"]
    assert_frame_equal(tui.drop("tags", "annotated_at"), by_cli)
    assert tui.with_row_index().filter(pl.col("tags").list.len() > 0)["index"].to_list() == [1]
    # when the tag was made: `fieldkit merge` lets the latest edit win between laptops' files
    assert tui.with_row_index().filter(pl.col("annotated_at").is_not_null())["index"].to_list() == [1]
    steps = read_provenance(tui_out)["steps"]
    assert [s["operation"] for s in steps] == ["themes", "annotate"]
    assert list(steps[1]) == ["operation", "parameters", "started", "seconds"]
