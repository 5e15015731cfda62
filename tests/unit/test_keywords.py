"""Theme keywords drop the stop words of whichever languages the answers are written in."""

from __future__ import annotations

import polars as pl

from fieldkit.analysis.keywords import _stop_words, class_tfidf
from fieldkit.io import load_dataset
from tests.conftest import SAMPLE_DATA, shared

FILLER = {"est", "pas", "une", "les", "des", "para", "una", "hay", "los", "las", "por", "في"}


def _sample_answers() -> pl.DataFrame:
    frame = load_dataset(SAMPLE_DATA / "kobo_water_survey.csv").frame
    return frame.select("feedback/comment", "feedback/language").collect().drop_nulls()


def test_mixed_language_answers_get_keywords_without_filler_words():
    # Bug found on the sample survey: French and Spanish themes were labelled "est", "para", "una".
    df = _sample_answers()
    texts = df["feedback/comment"].to_list()
    keywords = class_tfidf(texts, df["feedback/language"].to_list(), top_n=8)
    assert set(keywords) == {"en", "fr", "es", "ar"}
    for lang, terms in keywords.items():
        words = {w for term, _ in terms for w in term.split()}
        assert not words & FILLER, (lang, terms)
        assert len(terms) == 8
    french = {w for term, _ in keywords["fr"] for w in term.split()}
    assert french & {"eau", "enfants", "route", "camion", "pompe", "santé", "médicaments"}


def test_english_answers_keep_the_english_list_only():
    tsv = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    ds = load_dataset(tsv)
    col = next(c for c in ds.columns if "like best" in c)
    texts = ds.text_column(col).drop_nulls().to_list()
    english_only = _stop_words([])
    assert _stop_words(texts) == english_only
    # answers in French alone add French stop words but keep the English ones
    french = _sample_answers().filter(pl.col("feedback/language") == "fr")["feedback/comment"]
    words = _stop_words(french.to_list())
    assert english_only < words and {"est", "pas", "les"} <= words
    assert "nothing" not in words  # a real answer to "what do you like least?"
