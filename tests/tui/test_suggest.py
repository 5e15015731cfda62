"""The "suggest tags" job in the dataset screen, driven by keys on the R community survey."""

from __future__ import annotations

from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.model import ROW
from fieldkit.tui.screens.modals import ErrorModal
from fieldkit.tui.widgets.vtable import VirtualTable
from tests.tui.conftest import wait_for_workers

LIKE_BEST = "What do you like best about using R?"
# two things R users like, told apart by their words
WORDS = {"1": ("ggplot", "visuali", "plot"), "2": ("free", "open source", "open-source")}


def rows_about(texts: list, key: str, n: int) -> list[int]:
    """The first n answers that speak of one topic and not the other."""
    other = "2" if key == "1" else "1"
    out = [i for i, t in enumerate(texts)
           if t and any(w in t.lower() for w in WORDS[key]) and not any(w in t.lower() for w in WORDS[other])]
    return out[:n]


async def tag_rows(pilot, screen, rows: list[int], key: str) -> None:
    table = screen.query_one(VirtualTable)
    for r in rows:
        table.move_to(screen.model.index_of_row_id(r))
        await pilot.press(key)


async def test_suggest_tags_shows_rows_that_teach_most_and_accepting_one_tags_it(survey_tsv, embedder_ready):
    app = FieldkitApp(str(survey_tsv))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        texts = screen.dataset.text_column(LIKE_BEST).to_list()
        screen.query_one(VirtualTable).move_to(col=screen.model.columns.index(LIKE_BEST))
        plots, free = rows_about(texts, "1", 3), rows_about(texts, "2", 3)
        await tag_rows(pilot, screen, plots[:1], "1")
        await pilot.press("S")  # one row per tag teaches nothing yet: said in an error, nothing runs
        await wait_for_workers(pilot)
        assert isinstance(app.screen, ErrorModal)
        await pilot.press("escape")
        await tag_rows(pilot, screen, plots[1:], "1")
        await tag_rows(pilot, screen, free, "2")
        await pilot.press("S")
        await wait_for_workers(pilot)
        view = screen.model.view
        tagged = set(plots + free)
        rows = [screen.model.row_id(i) for i in range(screen.model.row_count)]
        assert screen.model.row_count == 20 and not tagged & set(rows)
        assert set(view["suggested_tag"]) <= {"tag1", "tag2"}
        assert all(0 <= s <= 1 for s in view["suggest_score"])
        # the rows offered are ones the coder hesitates on: scores well below the sure ones
        assert sum(view["suggest_score"]) / 20 < 0.9
        assert len(set(rows)) == 20 and rows == view[ROW].to_list()
        panel = str(screen.query_one("#results").content)
        assert "learnt from tag1 (3), tag2 (3)" in panel
        assert f"row {rows[0] + 1:>6}  {view['suggested_tag'][0]}" in panel  # each row's suggestion listed
        # a accepts: the row gets the suggested tag (journaled, undoable) and the cursor moves on
        first, proposed = rows[0], view["suggested_tag"][0]
        await pilot.press("a")
        assert proposed in screen.annotations.tags.get(first, set())
        assert screen.query_one(VirtualTable).cursor_row == 1
        await pilot.press("b")  # pass over the second
        assert screen.annotations.tags.get(rows[1]) in (None, set())
        assert screen.query_one(VirtualTable).cursor_row == 2
        await pilot.press("u")
        assert proposed not in screen.annotations.tags.get(first, set())
        await pilot.press("x")
        assert screen.model.row_count == screen.model.total_rows == len(texts)
