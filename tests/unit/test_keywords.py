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


def test_word_forms_name_an_idea_once_in_any_language_present():
    # Review finding (issue 11): a Spanish theme was labelled "visualización / visualizaciones / visualizar".
    from fieldkit.analysis.keywords import class_tfidf

    theme = ["la visualización de los datos es muy clara", "me gustan las visualizaciones y los gráficos",
             "es fácil visualizar los datos con gráficos", "las visualizaciones son bonitas para el informe",
             "visualizar tablas grandes es rápido", "la visualización interactiva ayuda mucho"]
    other = ["la instalación de paquetes es lenta", "los paquetes se instalan con errores",
             "instalar paquetes nuevos cuesta mucho", "la documentación de los paquetes es pobre"] * 2
    kw = class_tfidf(theme + other, [1] * len(theme) + [2] * len(other), top_n=5)
    words = [w for w, _ in kw[1]]
    forms = [w for w in words if w.startswith("visualiz")]
    assert len(forms) == 1, words
    assert sum(w.startswith("paquete") for w, _ in kw[2]) == 1


def test_labels_of_different_themes_differ_even_when_their_keywords_overlap():
    import polars as pl

    from fieldkit.analysis.keywords import class_tfidf, distinct_labels
    from tests.conftest import shared

    # Real Chinese shopping reviews, positive and negative of one category: both talk about
    # the same product, so their top keywords overlap; the labels must still tell them apart.
    df = pl.read_csv(shared("coding", "online_shopping_9cats_zh.csv"))
    cat = df["cat"].value_counts(sort=True)["cat"][0]
    df = df.filter(pl.col("cat") == cat).group_by("label", maintain_order=True).head(300)
    kw = class_tfidf(df["review"].cast(pl.String).to_list(), df["label"].to_list(), top_n=8)
    keywords = [[w for w, _ in kw[c]] for c in sorted(kw)]
    labels = distinct_labels(keywords)
    assert labels[0] != labels[1]
    first = set(labels[0].split(" / "))
    assert not first & set(labels[1].split(" / ")) or len(set(keywords[1]) - first) < 3
    # identical keyword lists still get different labels while a theme has words left
    assert len(set(distinct_labels([["a", "b", "c", "d"], ["a", "b", "c", "d"]]))) == 2
