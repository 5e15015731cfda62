"""Text on a terminal: widths in cells, cuts on grapheme boundaries, bidi visual order, escaped controls."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest
import wcwidth

from fieldkit.display import (cell_width, clip, display_lines, display_text, escape_controls,
                              has_rtl, is_rtl, visual)
from tests.conftest import shared

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one grapheme, two cells


def _graphemes(text: str) -> list[str]:
    return list(wcwidth.iter_graphemes(text))


@pytest.fixture(scope="module")
def chinese_reviews() -> list[str]:
    return pl.read_csv(shared("nonlatin", "waimai_reviews_600.csv"))["review"].drop_nulls().to_list()


@pytest.fixture(scope="module")
def arabic_other_answers() -> list[str]:
    """Free-text `*_other` answers of the REACH Iraq (Tal Afar) water survey, in Arabic."""
    from fieldkit.io import load_dataset

    ds = load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx"))
    frame = ds.frame.collect()
    cols = [c for c in frame.columns if c.endswith("_other") and frame.schema[c] == pl.String]
    answers = [v for c in cols for v in frame[c].drop_nulls().to_list() if has_rtl(v)]
    assert len(answers) >= 30
    return answers


def test_cjk_counts_two_cells_and_a_cut_never_splits_a_character(chinese_reviews):
    checked = 0
    for review in chinese_reviews[:200]:
        text = escape_controls(review)
        assert cell_width(text) == sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
        for width in (1, 2, 5, 8, 13):
            cut = clip(text, width)
            assert cell_width(cut) <= width
            body = cut[:-1] if cut.endswith("…") else cut
            assert text.startswith(body)  # a prefix, so no character was split or dropped
            if cell_width(text) > width and width >= 3:
                assert cell_width(cut) >= width - 1  # at most the one cell a wide character leaves
            checked += 1
    assert checked > 500


def test_emoji_sequences_and_combining_marks_stay_whole():
    text = "ok " + FAMILY + " cafe\u0301 \U0001F1F0\U0001F1EA done"  # family, e + combining acute, flag
    assert cell_width(FAMILY) == 2 and cell_width("cafe\u0301") == 4
    whole = _graphemes(text)
    for width in range(1, cell_width(text) + 1):
        cut = clip(text, width)
        assert cell_width(cut) <= width
        body = cut[:-1] if cut.endswith("…") and cell_width(text) > width else cut
        assert _graphemes(body) == whole[:len(_graphemes(body))]  # whole graphemes only
    assert clip("cafe\u0301s", 5) == "cafe\u0301s" and clip("cafe\u0301ss", 5) == "cafe\u0301…"


def test_middle_cut_keeps_both_ends():
    name = "J_27_income_sources/salaried_work"
    cut = clip(name, 16, middle=True)
    assert cell_width(cut) == 16 and cut.startswith("J_27_in") and cut.endswith("ed_work") and "…" in cut


def test_control_characters_are_shown_escaped():
    raw = "a\x1b[2Jb\x07c\x00d\x7fe\u0085f\u202eg\x9bh\r\ni\tj"
    shown = display_text(raw)
    assert not any(unicodedata.category(c) == "Cc" for c in shown)
    assert "\u202e" not in shown and "\\u202e" in shown  # a bidi override cannot reorder the screen
    assert "␛[2J" in shown and "␇" in shown and "\\x9b" in shown and "h⏎i j" in shown
    assert escape_controls("plain text") == "plain text"


def test_arabic_answers_are_shown_in_visual_order(arabic_other_answers):
    checked_letters: list[str] = []
    for answer in arabic_other_answers:
        line = escape_controls(answer)
        shown = visual(line)
        assert is_rtl(line)
        assert sorted(shown) == sorted(line.translate({0x200E: None, 0x200F: None, 0x061C: None}))
        letters_only = all(unicodedata.bidirectional(c) in ("AL", "R", "WS", "NSM") for c in line)
        if letters_only:  # pure right-to-left text: the screen shows it reversed, marks kept on their letter
            assert [sorted(g) for g in _graphemes(shown)] == [sorted(g) for g in _graphemes(line)[::-1]]
            checked_letters.append(line)
        first = line.split()[0]
        # the first word read is at the right-hand end of the screen line, letters reversed
        assert shown.rstrip().endswith(first[::-1]) or not first.isalpha()
    assert len(checked_letters) >= 5
    with_digits = [a for a in arabic_other_answers if "33" in a or "٥٠" in a]
    assert with_digits
    for a in with_digits:  # numbers keep their own left-to-right order inside the Arabic run
        shown = visual(escape_controls(a))
        assert ("33" in shown) if "33" in a else ("٥٠" in shown)


def test_arabic_is_cut_at_its_start_and_wrapped_before_reordering(arabic_other_answers):
    answer = max(arabic_other_answers, key=len)
    line = escape_controls(answer)
    cut = display_text(answer, 20)
    assert cell_width(cut) <= 20 and cut.startswith("…")  # the ellipsis sits at the end read last: the left
    assert cut[1:] == visual(clip(line, 20)[:-1])
    lines = display_lines(answer, 30)
    assert all(cell_width(x) <= 30 for x in lines) and len(lines) > 3
    # each screen line is one logical piece reordered: read right to left they give the answer back
    logical = " ".join(visual(x) for x in lines)  # visual() is its own inverse on pure RTL lines
    assert logical.split()[:3] == line.split()[:3]


def test_combining_marks_stay_on_their_letter_after_reordering():
    word = "مَرْحَبًا"  # marhaban with harakat: each mark follows its letter in logical order
    shown = visual(word)
    assert [sorted(g) for g in _graphemes(shown)] == [sorted(g) for g in _graphemes(word)[::-1]]
    assert shown.index("\u064b") == shown.index("\u0628") + 1  # tanwin stays on beh


def test_display_lines_wraps_left_to_right_text_at_word_boundaries():
    lines = display_lines("hello world this is a verylongwordthatdoesnotfit here\nnext", 10)
    assert lines == ["hello", "world this", "is a", "verylongwo", "rdthatdoes", "notfit", "here", "next"]
