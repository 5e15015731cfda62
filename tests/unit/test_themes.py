"""Themes on real survey answers and Chinese reviews, and on vectors whose answer we know."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fieldkit.analysis.keywords import class_tfidf, distinct_terms
from fieldkit.analysis.themes import OTHER_ID, OTHER_LABEL, find_themes
from fieldkit.errors import Cancelled, UsageError
from fieldkit.io import load_dataset
from fieldkit.progress import Reporter
from tests.conftest import shared

LIKE_LEAST = "What do you like least about using R?"
RECOMMEND = "How likely are you to recommend R to a colleague, friend, or family member?"


def _blobs(seed=0, per=40, dim=24, k=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    vecs = np.vstack([c + 0.15 * rng.normal(size=(per, dim)) for c in centres])
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32), np.repeat(np.arange(k), per)


def test_synthetic_blobs_found_and_empties_go_to_other():
    vecs, truth = _blobs()
    texts = [f"answer number {i}" for i in range(len(vecs))] + ["", None, "x"]
    vecs = np.vstack([vecs, np.zeros((3, vecs.shape[1]), np.float32)])
    r = find_themes(texts, vecs)
    assert r.k == 4 and r.chosen_by == "silhouette"
    assert len(r.theme_id) == len(texts)  # every row has a theme (or "other")
    assert (r.theme_id[-3:] == OTHER_ID).all() and np.isnan(r.theme_score[-3:]).all()
    # each true blob lands in one theme (outliers aside)
    for b in range(4):
        ids = r.theme_id[:-3][truth == b]
        ids = ids[ids != OTHER_ID]
        assert len(set(ids.tolist())) == 1
    assert [t.id for t in r.themes][-1] == OTHER_ID and r.themes[-1].label == OTHER_LABEL
    assert sum(t.size for t in r.themes) == len(texts)


def test_far_answer_goes_to_other_and_k_can_be_forced():
    vecs, _ = _blobs(per=30, k=3)
    rng = np.random.default_rng(5)
    far = rng.normal(size=(1, vecs.shape[1])).astype(np.float32)
    far /= np.linalg.norm(far)
    vecs = np.vstack([vecs, far])
    texts = [f"t{i} words" for i in range(len(vecs))]
    r = find_themes(texts, vecs, k=3)
    assert r.chosen_by == "forced" and r.k == 3
    assert r.theme_id[-1] == OTHER_ID and not np.isnan(r.theme_score[-1])
    assert r.theme_score[-1] < np.nanmin(r.theme_score[:-1])
    with pytest.raises(UsageError):
        find_themes(texts, vecs, k=0)


def test_cancel_stops_theme_finding():
    import threading

    vecs, _ = _blobs()
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        find_themes([f"a{i}" for i in range(len(vecs))], vecs, reporter=Reporter("t", cancel=ev))


@pytest.fixture(scope="module")
def r_least():
    from fieldkit.analysis.embeddings import embed_column

    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    texts = ds.text_column(LIKE_LEAST).to_list()
    groups = ds.frame.select(RECOMMEND).collect().to_series().to_list()
    return texts, embed_column(ds, LIKE_LEAST), groups


def test_real_answers_themes_cover_rows_and_name_known_complaints(r_least):
    texts, vecs, groups = r_least
    r = find_themes(texts, vecs)
    assert 3 <= r.k <= 10 and len(r.theme_id) == len(texts)
    empty = np.array([not (t or "").strip() for t in texts])
    assert (r.theme_id[empty] == OTHER_ID).all()
    other = r.themes[-1]
    assert other.size >= empty.sum() and other.size < 0.45 * len(texts)
    # the complaint every R user knows has its own theme, holding most such answers
    err = [t for t in r.themes if any("error" in k for k in t.keywords[:3])]
    assert len(err) == 1
    mentions = np.array(["error message" in (t or "").lower() for t in texts])
    assert (r.theme_id[mentions] == err[0].id).mean() > 0.6
    for t in r.themes[:-1]:
        assert t.keywords and 1 <= len(t.examples) <= 3
        assert all(e in {(x or "").strip() for x in texts} for e in t.examples)
        assert (r.theme_id == t.id).sum() == t.size
    sizes = [t.size for t in r.themes[:-1]]
    assert sizes == sorted(sizes, reverse=True) and [t.id for t in r.themes[:-1]] == list(range(1, r.k + 1))
    table = r.breakdown(groups)
    shares = table.select(pl.exclude("group", "n")).sum_horizontal()
    assert ((shares - 1).abs() < 1e-9).all()
    assert table["n"].sum() == int((~np.isnan(r.theme_score)).sum())


def test_chinese_themes_get_character_ngram_keywords_that_mark_them():
    from fieldkit.analysis.embeddings import embed_column

    ds = load_dataset(shared("nonlatin", "waimai_reviews_600.csv"))
    texts = ds.text_column("review").to_list()
    r = find_themes(texts, embed_column(ds, "review"), k=3)
    for t in r.themes[:-1]:
        assert t.keywords and all(2 <= len(w) <= 3 for w in t.keywords)
        top = t.keywords[0]
        inside = np.mean([top in (x or "") for x, i in zip(texts, r.theme_id) if i == t.id])
        outside = np.mean([top in (x or "") for x, i in zip(texts, r.theme_id) if i != t.id])
        assert inside > outside  # the label word is typical of its theme


def test_class_tfidf_on_positive_and_negative_words():
    texts = ["送餐很快，好吃", "很快，好吃，量大", "太慢了，凉了", "送餐太慢了", "味道好吃", "慢，菜凉了"]
    kw = class_tfidf(texts, ["pos", "pos", "neg", "neg", "pos", "neg"], top_n=3, min_df=1)
    assert "好吃" in [w for w, _ in kw["pos"]] and "慢了" in [w for w, _ in kw["neg"]]


def test_phrases_replace_their_words_in_keywords():
    terms = [("error", 1.0), ("messages", 0.9), ("error messages", 0.8), ("debugging", 0.5),
             ("cryptic error", 0.45), ("package", 0.4), ("packages", 0.39)]
    assert [t for t, _ in distinct_terms(terms, 4)] == ["error messages", "debugging", "package"]
