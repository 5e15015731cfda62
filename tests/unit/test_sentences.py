"""Sentence splitting on real English news, Chinese reviews and Markdown."""

from __future__ import annotations

import json
import re

import polars as pl

from fieldkit.analysis.sentences import is_cjk_text, split_blocks, split_sentences
from tests.conftest import shared


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_english_abbreviations_initials_decimals():
    text = ("Mr. Smith met Dr. Jones at 3.5 p.m. on Jan. 5 in the U.S. Senate. It rained! "
            "J. K. Rowling wrote No. 10 of them. I said no. Then we left.")
    assert split_sentences(text) == [
        "Mr. Smith met Dr. Jones at 3.5 p.m. on Jan. 5 in the U.S. Senate.",
        "It rained!",
        "J. K. Rowling wrote No. 10 of them.",
        "I said no.",
        "Then we left.",
    ]


def test_quotes_and_brackets_stay_with_their_sentence():
    assert split_sentences('"Stop it." She left. (It was late.) Then two came... and went.') == [
        '"Stop it."', "She left.", "(It was late.)", "Then two came... and went."]


def test_chinese_punctuation_splits_without_spaces():
    assert split_sentences("今天天气很好。我们去公园吧！你觉得呢？好的") == [
        "今天天气很好。", "我们去公园吧！", "你觉得呢？", "好的"]
    # full-width terminators in mixed text, and a run of them stays together
    assert split_sentences("味道不错，送餐很快！！下次还来。Good food. 好吃") == [
        "味道不错，送餐很快！！", "下次还来。", "Good food.", "好吃"]


def test_real_chinese_reviews_split_losslessly():
    df = pl.read_csv(shared("nonlatin", "waimai_reviews_600.csv"))
    reviews = [r for r in df["review"].to_list() if r]
    assert is_cjk_text(" ".join(reviews))
    multi = 0
    for r in reviews:
        parts = split_sentences(r)
        assert _squash("".join(parts)) == _squash(r)  # nothing lost, nothing added
        multi += len(parts) > 1
        for p in parts[:-1]:  # every non-final piece ends at a terminator
            assert re.search(r"[。！？!?.…;；~～\"”’）)」』】]$", p), (r, parts)
    assert multi > 50  # many reviews have more than one sentence


def test_real_news_articles_split_into_article_text():
    rows = [json.loads(line) for line in shared("summarization", "cnndm_dev_100.jsonl").open()]
    for row in rows[:40]:
        article = row["article"]
        parts = split_sentences(article)
        assert len(parts) >= 3
        assert _squash(" ".join(parts)) == _squash(article)
        squashed = _squash(article)
        assert all(_squash(p) in squashed for p in parts)
    # a known boundary: the short sentence after an obituary's opening
    freberg = next(r["article"] for r in rows if "Stan Freberg" in r["article"])
    assert "He was 88." in split_sentences(freberg)


def test_markdown_blocks_headings_lists_and_code():
    md = "# Title\nSome text here\nwrapped line. Next one.\n\n```sh\nrm -rf x\n```\n- item one\n- item two"
    assert split_blocks(md) == ["Title", "Some text here wrapped line. Next one.", "item one", "item two"]
    assert split_sentences(md) == ["Title", "Some text here wrapped line.", "Next one.", "item one",
                                   "item two"]


def test_empty_inputs():
    assert split_sentences(None) == [] and split_sentences("  \n ") == []
