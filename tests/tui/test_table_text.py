"""The table on screen: header cells over value cells, whole numbers, wide and right-to-left text."""

from __future__ import annotations

import random

import polars as pl
from rich.cells import cell_len

from fieldkit.display import visual
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.widgets.vtable import VirtualTable
from tests.conftest import shared
from tests.tui.conftest import wait_for_workers


def _cell_edges(strip) -> list[int]:
    """Where each drawn segment ends, in terminal cells."""
    edges, x = [], 0
    for seg in strip:
        x += cell_len(seg.text)
        edges.append(x)
    return edges


async def test_gbk_chinese_headers_line_up_and_a_year_column_shows_whole_years(tmp_path):
    reviews = pl.read_csv(shared("coding", "online_shopping_9cats_zh.csv")).head(400)
    rng = random.Random(1)
    years = [None] * 250 + [rng.choice([2008, 2012, 2019, 2023]) for _ in range(150)]  # empty first answers
    frame = reviews.with_columns(pl.Series("年", years, dtype=pl.Int64)).rename(
        {"cat": "类别", "label": "标签", "review": "评论内容"}).select("年", "类别", "标签", "评论内容")
    path = tmp_path / "gbk_reviews.csv"
    path.write_bytes(frame.write_csv().encode("gbk", errors="replace"))
    app = FieldkitApp(str(path))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        table = app.screen.query_one(VirtualTable)
        table.move_to(300)
        await pilot.pause()
        header = table.render_line(0)
        edges = _cell_edges(header)
        for y in range(2, table.size.height - 1):
            strip = table.render_line(y)
            # as wide as what is visible beside the scrollbar: a line as wide as the widget lost its
            # last two cells, and with them the … of a cut answer
            assert strip.cell_length == table.scrollable_content_region.width < table.size.width
            assert _cell_edges(strip)[2:] == edges  # the gutter bar and every value cell end where the header's do
        top = int(table.scroll_offset.y)
        shown = [table.render_line(2 + i).text.split("│", 1)[1].split()[0] for i in range(10)]
        expected = [str(v) for v in frame["年"][top:top + 10].to_list()]
        assert shown == expected and all(len(s) == 4 for s in shown)


async def test_arabic_answers_reach_the_screen_in_visual_order(tmp_path):
    from fieldkit.io import load_dataset

    ds = load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx"))
    col = "access_water_enough_why_not_other"
    answers = ds.frame.select(col).collect().to_series()
    row = answers.is_not_null().arg_true()[0]
    app = FieldkitApp(str(ds.path))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        table = screen.query_one(VirtualTable)
        table.move_to(row, screen.model.columns.index(col))
        await pilot.pause()
        line = next(table.render_line(y).text for y in range(2, table.size.height)
                    if table.render_line(y).text.lstrip().startswith(f"{row + 1} "))
        words = answers[row].split()
        # the first words of the answer are drawn reversed, at the right-hand end of the cell
        assert visual(" ".join(words[:2])) in line
        assert " ".join(words[:2]) not in line
