"""The approximate index (usearch HNSW) against the exact scan on real message embeddings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fieldkit.analysis import ann
from fieldkit.analysis.search import top_k
from tests.conftest import shared

pytestmark = pytest.mark.skipif(not ann.available(), reason="usearch is not installed")


@pytest.fixture(scope="module")
def bank():
    from fieldkit.inference.embedder import get_embedder

    texts = pl.read_csv(shared("coding", "banking77_train.csv"))["text"].to_list()
    emb = get_embedder()
    return emb.embed_all(texts[:2000]), emb.embed_all(texts[9900:9960])


def _recall(index, matrix, queries, k=10):
    """Recall@k where a row scoring as high as the exact k-th best counts (ties are equal hits)."""
    got = 0
    for q in queries:
        _, exact = top_k(matrix, q, k)
        approx, scores = ann.top_k_indexed(index, matrix, q, k)
        assert np.allclose(scores, matrix[approx] @ q, atol=1e-6)  # scores are exact
        got += int((scores >= exact[-1] - 1e-6).sum())
    return got / (k * len(queries))


def test_index_recall_at_10_against_exact_scan(bank, tmp_path):
    matrix, queries = bank
    matrix = matrix.copy()
    matrix[7] = 0.0  # an empty text: never a hit
    index = ann.load_or_build(matrix, tmp_path / "key")
    assert _recall(index, matrix, queries) >= 0.98
    for q in queries[:5]:
        assert 7 not in ann.top_k_indexed(index, matrix, q, 10)[0]


def test_damaged_index_is_rebuilt_not_trusted(bank, tmp_path):
    matrix, queries = bank
    # one thread: the same graph on every build, so the recall below cannot move with scheduling
    index = ann.load_or_build(matrix, tmp_path / "key", threads=1)
    want = ann.top_k_indexed(index, matrix, queries[0], 10)[0]
    del index
    path = tmp_path / "key.usearch"
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))
    again = ann.load_or_build(matrix, tmp_path / "key", threads=1)
    assert np.array_equal(ann.top_k_indexed(again, matrix, queries[0], 10)[0], want)
    assert _recall(again, matrix, queries[:20]) >= 0.98


def test_search_job_uses_the_index_over_the_threshold(fk_home, tmp_path, monkeypatch):
    from fieldkit.pipelines.search import search

    src = tmp_path / "bank.csv"
    pl.read_csv(shared("coding", "banking77_train.csv")).head(600).write_csv(src)
    exact = search(str(src), "text", "my card has not arrived", top=5)
    assert exact.step["parameters"]["index"] == "exact"
    monkeypatch.setenv("FIELDKIT_INDEX_ROWS", "500")
    approx = search(str(src), "text", "my card has not arrived", top=5)
    assert approx.step["parameters"]["index"] == ann.RECIPE
    assert [h.row for h in approx.outcome] == [h.row for h in exact.outcome]
    assert list((fk_home / "cache" / "embeddings").glob("*.usearch"))


def test_repeated_answers_are_indexed_once_and_all_found(bank, tmp_path):
    """500 copies of each of 4 messages: copies at distance 0 made most of them unreachable."""
    matrix, queries = bank
    copies = np.repeat(matrix[:4], 500, axis=0)
    big = np.concatenate([matrix, copies])
    rng = np.random.default_rng(0)
    big = big[rng.permutation(len(big))]
    index = ann.load_or_build(big, tmp_path / "key", threads=1)
    distinct = len(np.unique(big, axis=0))  # banking77 repeats a few messages itself
    assert len(index.index) + len(index.near) == distinct < len(matrix)  # each distinct vector once
    assert len(index.repeats) == len(big) - distinct
    for row in np.flatnonzero((big == matrix[2]).all(axis=1))[:3]:
        got, scores = ann.top_k_indexed(index, big, big[row], 10)
        assert (big[got] == matrix[2]).all() and np.allclose(scores, scores[0])  # 10 of the 501 copies
    assert _recall(index, big, np.concatenate([queries, matrix[:4]])) >= 0.98
    reloaded = ann.load_or_build(big, tmp_path / "key", threads=1)
    assert np.array_equal(reloaded.repeats, index.repeats)


def test_near_copies_of_one_vector_stay_reachable(bank, tmp_path):
    """A vector with 120 near copies: HNSW linked them all to it and lost most (recall 0.25-0.55)."""
    matrix, _ = bank
    rng = np.random.default_rng(1)

    def near(v, n):
        x = v + rng.normal(0, 0.01, (n, v.size)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    big = np.concatenate([matrix, near(matrix[5], 120), near(matrix[9], 120)])
    index = ann.load_or_build(big, tmp_path / "key", threads=1)
    assert len(index.near) >= 200  # the copies are grouped, not indexed
    queries = np.concatenate([near(matrix[5], 10), near(matrix[9], 10)])
    assert _recall(index, big, queries) >= 0.98
