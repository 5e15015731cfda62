"""A file over the paging threshold: converted once to a Parquet cache, browsed, sorted and filtered from disk."""

from __future__ import annotations

import threading

import polars as pl
import pytest
from textual.widgets import Input

from fieldkit.errors import Cancelled
from fieldkit.io import load_dataset
from fieldkit.progress import Reporter
from fieldkit.tui import paging
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.model import ROW, ViewSpec
from fieldkit.tui.paging import PagedTableModel
from fieldkit.tui.screens.modals import PromptModal
from fieldkit.tui.widgets.vtable import VirtualTable
from tests.conftest import shared
from tests.tui.conftest import wait_for_workers

GROUP = 1_000


@pytest.fixture
def small_pages(monkeypatch, fk_home):
    """Thresholds scaled down so a 3 MB file pages from disk in many row groups and view buckets."""
    monkeypatch.setattr(paging, "PAGE_BYTES", 1 << 20)
    monkeypatch.setattr(paging, "GROUP_ROWS", GROUP)
    monkeypatch.setattr(paging, "KEEP_GROUPS", 3)
    monkeypatch.setattr(paging, "BUCKET_ROWS", 4_000)
    return fk_home


@pytest.fixture
def big_csv(tmp_path) -> tuple:
    """Real Chinese reviews repeated to 24,000 rows with an id, a score and a district: about 3 MB."""
    reviews = pl.read_csv(shared("nonlatin", "waimai_reviews_600.csv"))
    n = 24_000
    frame = pl.DataFrame({
        "id": pl.int_range(n, eager=True),
        "score": (pl.int_range(n, eager=True) * 7919 % 1000).cast(pl.Float64) / 10,
        "district": pl.Series([f"d{i % 37:02d}" for i in range(n)]),
        "review": pl.concat([reviews["review"]] * (n // reviews.height + 1)).head(n),
        "label": pl.concat([reviews["label"]] * (n // reviews.height + 1)).head(n),
    })
    path = tmp_path / "data" / "reviews_big.csv"
    path.parent.mkdir()
    frame.write_csv(path)
    return path, frame


async def _answer(pilot, text: str) -> None:
    assert isinstance(pilot.app.screen, PromptModal)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await wait_for_workers(pilot)


async def _opened(pilot):
    """The dataset screen, its (paged) model and its table, once loading and paging are done."""
    await wait_for_workers(pilot)
    screen = pilot.app.screen
    table = screen.query_one(VirtualTable)
    table.focus()
    return screen, screen.model, table


async def test_big_file_pages_from_disk_to_its_last_row_and_sorts_and_filters(small_pages, big_csv):
    path, frame = big_csv
    assert path.stat().st_size > paging.PAGE_BYTES
    app = FieldkitApp(str(path))
    async with app.run_test(size=(130, 40)) as pilot:
        screen, model, table = await _opened(pilot)
        assert isinstance(model, PagedTableModel) and screen.loaded
        assert model.row_count == frame.height and model.base.starts[1] == GROUP
        assert f"{frame.height:,} rows" in str(screen.query_one("#title").content)
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == frame.height - 1
        lines = [table.render_line(y).text for y in range(2, table.size.height)]
        cells = next(line.split("│", 1)[1].split() for line in lines if line.split()[:1] == [str(frame.height)])
        last = frame.row(frame.height - 1, named=True)
        assert cells[0] == str(last["id"])
        assert cells[2] == last["district"] and model.full_record(frame.height - 1)["review"] == last["review"]
        # sort by score, descending: a lazy query on the cache, written to a view file
        table.move_to(col=model.columns.index("score"))
        await pilot.press("s")
        await wait_for_workers(pilot)
        await pilot.press("s")
        await wait_for_workers(pilot)
        want = frame.sort("score", descending=True, maintain_order=True)
        assert [model.row(i)[1][:2] for i in range(5)] == [[str(v), f"{s:.6g}"] for v, s in want.select("id", "score").head(5).iter_rows()]
        assert model.full_record(frame.height - 1)["id"] == want["id"][-1]
        # filter on top of the sort
        await pilot.press("f")
        await _answer(pilot, "\"district\" = 'd05' AND \"label\" = 1")
        want = want.filter((pl.col("district") == "d05") & (pl.col("label") == 1))
        assert model.row_count == want.height > 0
        assert [model.row_id(i) for i in range(model.row_count)] == want["id"].to_list()
        # find walks the view file
        table.move_to(0, model.columns.index("review"))
        needle = want["review"][want.height // 2][:6]
        await pilot.press("slash")
        await _answer(pilot, needle)
        hit = table.cursor_row
        assert needle in want["review"][hit] and all(needle not in r for r in want["review"][:hit])


async def test_paging_holds_a_bounded_number_of_row_groups(small_pages, big_csv):
    """The memory shape, independent of timing: browsing, End, sort and filter never hold more than KEEP_GROUPS groups."""
    path, frame = big_csv
    app = FieldkitApp(str(path))
    async with app.run_test(size=(130, 40)) as pilot:
        screen, model, table = await _opened(pilot)
        for row in range(0, frame.height, 700):  # through every row group, drawing each screen
            table.move_to(row)
            for y in range(table.size.height):
                table.render_line(y)
        await pilot.press("pagedown", "pagedown", "end", "home", "end")
        await pilot.pause()
        groups = len(model.base.starts) - 1
        assert groups == -(-frame.height // GROUP) >= 20
        assert model.base.most_held <= paging.KEEP_GROUPS < groups
        assert model.base.held() <= paging.KEEP_GROUPS
        table.move_to(col=model.columns.index("review"))
        await pilot.press("s")  # sort by the longest text column
        await wait_for_workers(pilot)
        await pilot.press("end")
        await pilot.pause()
        assert model.view is not model.base
        assert model.view.most_held <= paging.KEEP_GROUPS and model.base.held() <= paging.KEEP_GROUPS
        # text sorts by its first SORT_PREFIX characters
        last = frame.sort("review", maintain_order=True)["review"][-1]
        assert model.full_record(model.row_count - 1)["review"][:paging.SORT_PREFIX] == last[:paging.SORT_PREFIX]
        sorted_view = model.view
        await pilot.press("f")
        await _answer(pilot, "\"label\" = 0")
        assert model.view is not sorted_view and model.row_count == frame.filter(pl.col("label") == 0).height
        await pilot.press("end")
        await pilot.pause()
        assert model.view.most_held <= paging.KEEP_GROUPS and model.base.held() <= paging.KEEP_GROUPS
        assert len(model._pages) <= 64  # formatted rows: a bounded cache of 128-row pages


async def test_tags_follow_their_rows_through_sort_filter_and_save(small_pages, big_csv, tmp_path):
    path, frame = big_csv
    app = FieldkitApp(str(path))
    async with app.run_test(size=(130, 40)) as pilot:
        screen, model, table = await _opened(pilot)
        table.move_to(col=model.columns.index("score"))
        await pilot.press("s")
        await wait_for_workers(pilot)
        await pilot.press("f")
        await _answer(pilot, "\"district\" = 'd07'")
        table.move_to(3)
        expected_id = frame.filter(pl.col("district") == "d07").sort("score", maintain_order=True)["id"][3]
        await pilot.press("1")
        assert screen.annotations.tags == {expected_id: {"tag1"}}  # keyed by the row's place in the file
        await pilot.press("x")  # all rows, original order
        await wait_for_workers(pilot)
        assert model.row_id(expected_id) == expected_id
        table.move_to(expected_id)
        await pilot.pause()
        line = next(table.render_line(y).text for y in range(2, table.size.height)
                    if table.render_line(y).text.split()[0] == str(expected_id + 1))
        assert "1" in line.split("│")[0].split()[1:]
        target = tmp_path / "saved.parquet"
        await pilot.press("ctrl+s")
        await _answer(pilot, str(target))
        await wait_for_workers(pilot)
    saved = pl.read_parquet(target)
    assert saved.height == frame.height
    assert saved.filter(pl.col("tags").list.len() > 0)["id"].to_list() == [expected_id]


def test_conversion_is_cached_by_content_and_cancel_leaves_nothing(small_pages, big_csv):
    path, frame = big_csv
    ds = load_dataset(path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        paging.convert(ds, Reporter("paging", cancel=cancel))
    assert not list(paging.cache_dir().iterdir())  # no half-written cache, no temporary file
    seen = []
    cache = paging.convert(ds, Reporter("paging", callback=seen.append))
    assert seen and seen[-1].done == seen[-1].total  # the bar ends full
    again = paging.convert(load_dataset(path))
    assert again == cache and len(list(paging.cache_dir().iterdir())) == 1
    path.write_text(path.read_text().replace("d05", "d99", 1))  # an edited file gets its own copy
    assert paging.convert(load_dataset(path)) != cache


def test_a_ranked_restriction_keeps_its_order_and_extra_columns(small_pages, big_csv):
    path, frame = big_csv
    model = PagedTableModel(paging.convert(load_dataset(path)))
    picks = [23_999, 5, 17_000, 4_321, 0, 9_999]
    restrict = pl.DataFrame({ROW: pl.Series(picks, dtype=pl.Int64), "rank_score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]})
    model.set_view(ViewSpec(restrict=restrict))
    assert model.columns[0] == "rank_score" and model.row_count == len(picks)
    assert [model.row_id(i) for i in range(len(picks))] == picks
    assert [model.full_record(i)["id"] for i in range(len(picks))] == picks
    assert model.index_of_row_id(17_000) == 2
    model.set_view(ViewSpec(where="\"id\" < 0"))
    assert model.row_count == 0
    with pytest.raises(Exception, match="filter"):
        model.build_view(ViewSpec(where="\"no such\" > 1"))
