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
    got = 0
    for q in queries:
        exact, _ = top_k(matrix, q, k)
        approx, scores = ann.top_k_indexed(index, matrix, q, k)
        assert np.allclose(scores, matrix[approx] @ q, atol=1e-6)  # scores are exact
        got += len(set(exact.tolist()) & set(approx.tolist()))
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
