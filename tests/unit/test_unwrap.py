"""Hard-wrapped prose (a report or transcript typed at 72 columns) is summarized as paragraphs, not as lines."""

from __future__ import annotations

import json
import textwrap

from fieldkit.analysis.summary_genre import detect_shape
from fieldkit.analysis.unwrap import unwrap, unwrap_document
from fieldkit.io import load_dataset
from tests.conftest import shared


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(p, width) if p.strip() else p for p in text.split("\n"))


def _articles(n: int = 30) -> list[str]:
    lines = shared("summarization", "cnndm_dev_100.jsonl").read_text("utf-8").splitlines()[:n]
    return [json.loads(x)["article"] for x in lines]


def test_wrapped_articles_read_as_reports_again():
    """Wrapped at 72 columns, every article read as a list of answers (0 of 30 reports)."""
    wrapped = [_wrap(a, 72) for a in _articles()]
    assert sum(detect_shape(w).genre == "report" for w in wrapped) <= 3  # the bug, as it was
    fixed = [detect_shape(unwrap_document(w)).genre for w in wrapped]
    assert fixed.count("report") >= 26
    # the paragraphs come back with every word, in far fewer lines
    for w, a in zip(wrapped[:10], _articles(10)):
        assert unwrap(w).split() == a.split()
        assert len(unwrap(w).split("\n")) <= len(a.split("\n")) + 0.1 * len(w.split("\n"))


def test_wrapped_transcripts_keep_their_turns(dialogues):
    from fieldkit.analysis.summary_genre import parse_turns

    before = sum(detect_shape(_wrap(text, 60)).genre == "dialogue" for text, _ in dialogues[:40])
    assert before < 30  # wrapped turns leave too few "Name:" lines: read as answers or a report
    for text, _ in dialogues[:40]:
        w = unwrap_document(_wrap(text, 60))
        assert detect_shape(w).genre == "dialogue"
        assert [(t.speaker, t.text.split()) for t in parse_turns(w)] == \
            [(t.speaker, t.text.split()) for t in parse_turns(text)]


def test_answers_and_logs_are_left_as_they_are():
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    answers = [t.replace("\n", " ").strip() for t in ds.text_column("What do you like best about using R?").to_list()
               if t and t.strip()]
    for i in range(0, 500, 100):
        block = "\n".join(answers[i:i + 100])
        assert unwrap(block) == block
    log = "\n".join(shared("logs", "HDFS_2k.log").read_text("utf-8").splitlines()[:200])
    assert unwrap_document(log) == log


def test_a_readme_without_an_extension_is_text_not_a_csv(tmp_path):
    """Commas in its sentences made a README a two-column CSV: `summarize` asked which column."""
    from fieldkit import pipelines

    p = tmp_path / "README"
    article = _articles(1)[0]
    p.write_text(_wrap(article, 72) + "\n", encoding="utf-8")
    assert load_dataset(p).format == "text"
    s = pipelines.summarize(p).outcome.groups[0].summary
    assert s.genre == "report"
    assert all(u in article for u in s.units)  # whole sentences of the article, not cut lines
