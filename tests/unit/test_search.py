"""Exact cosine search and the per-file embedding cache, on the real R survey export."""

from __future__ import annotations

import numpy as np
import pytest

from fieldkit.analysis import embeddings as emb_mod
from fieldkit.analysis.embeddings import embed_column
from fieldkit.analysis.search import top_k
from fieldkit.errors import UsageError
from fieldkit import files
from fieldkit.inference.embedder import Embedder, get_embedder
from fieldkit.io import load_dataset
from fieldkit.pipelines import search as search_job
from tests.conftest import shared

LIKE_BEST = "What do you like best about using R?"


def search(ds, column, query, top=10):
    return search_job(ds, column, query, top=top).outcome


def test_top_k_matches_brute_force_and_skips_empty_rows():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(500, 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    m[[3, 77, 400]] = 0.0  # empty texts
    q = m[10]
    rows, scores = top_k(m, q, 5)
    expected = [i for i in np.argsort(-(m @ q), kind="stable") if i not in (3, 77, 400)][:5]
    assert rows.tolist() == expected
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and list(scores) == sorted(scores, reverse=True)
    rows, _ = top_k(m, q, 10_000)
    assert len(rows) == 497 and not {3, 77, 400} & set(rows.tolist())
    assert top_k(np.zeros((4, 16), np.float32), q, 3)[0].size == 0


@pytest.fixture
def survey(fk_home, tmp_path):
    """The header and first 500 rows of the real export (CRLF kept), to keep the test quick."""
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    dst = tmp_path / src.name
    with open(src, newline="", encoding="utf-8") as f:
        lines = f.readlines()[:501]
    dst.write_text("".join(lines), encoding="utf-8", newline="")
    return dst


def test_search_finds_answers_by_meaning_and_caches(survey, monkeypatch):
    ds = load_dataset(survey)
    hits = search(ds, LIKE_BEST, "friendly and helpful people", top=5)
    assert len(hits) == 5
    assert sum("communit" in h.text.lower() for h in hits) >= 3
    assert hits[0].score >= hits[-1].score
    texts = ds.text_column(LIKE_BEST).to_list()
    assert all(texts[h.row] == h.text for h in hits)  # rows are 0-based dataset rows
    assert list(emb_mod.cache_dir().glob("*.npy"))

    hashed = []
    real_hash = files._read_hash
    monkeypatch.setattr(files, "_read_hash", lambda p, *a, **k: hashed.append(p) or real_hash(p, *a, **k))
    calls = []
    real = Embedder.embed_all
    monkeypatch.setattr(Embedder, "embed_all",
                        lambda self, t, **k: calls.append(len(t)) or real(self, t, **k))
    again = search(load_dataset(survey), LIKE_BEST, "friendly and helpful people", top=5)
    assert [h.row for h in again] == [h.row for h in hits]
    assert calls == [1]  # only the query was embedded; the column came from the cache
    assert survey not in hashed  # the unchanged file was not rehashed (stamp)


def test_cache_is_keyed_by_file_content(survey):
    ds = load_dataset(survey)
    first = embed_column(ds, LIKE_BEST)
    assert first.shape == (ds.text_column(LIKE_BEST).len(), 384)
    empty_rows = ds.text_column(LIKE_BEST).is_null().to_numpy()
    assert np.all(np.linalg.norm(first[empty_rows], axis=1) == 0)
    with open(survey, "a", encoding="utf-8", newline="") as f:
        f.write("\t" * 22 + "An entirely new answer about ggplot2" + "\t" * 29 + "\r\n")
    changed = load_dataset(survey)
    second = embed_column(changed, LIKE_BEST)
    assert second.shape[0] == first.shape[0] + 1
    assert len(list(emb_mod.cache_dir().glob("*.npy"))) == 2


def test_bad_queries_and_columns(survey):
    ds = load_dataset(survey)
    with pytest.raises(UsageError):
        search(ds, LIKE_BEST, "   ")
    with pytest.raises(UsageError) as e:
        search(ds, "like best", "community")
    assert LIKE_BEST in (e.value.hint or "")


def test_get_embedder_is_loaded_once():
    assert get_embedder() is get_embedder("all-MiniLM-L6-v2")
