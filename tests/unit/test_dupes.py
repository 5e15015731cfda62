"""Duplicates: planted copies in real survey answers are found, exactly and nearly."""

from __future__ import annotations

import numpy as np
import pytest

from fieldkit.analysis import dupes as D
from fieldkit.errors import UsageError
from fieldkit.io import load_dataset
from tests.conftest import shared

LIKE_BEST = "What do you like best about using R?"


@pytest.fixture(scope="module")
def answers():
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    texts = [t for t in ds.text_column(LIKE_BEST).to_list() if t and len(t) > 60]
    unique = {D.normalise(t): t for t in reversed(texts)}  # a few people answered twice
    return [t for t in texts if unique.get(D.normalise(t)) is t][:300]


def test_exact_duplicates_without_a_model(answers):
    base = list(answers)
    planted = [base[3].upper(), "  " + base[3].replace(",", " ,") + "!!", base[10]]
    texts = base + planted + [None, ""]
    r = D.find_duplicates(texts)
    g3 = r.dup_group[3]
    assert g3 != D.NO_GROUP and r.dup_group[len(base)] == g3 and r.dup_group[len(base) + 1] == g3
    assert r.dup_size[3] == 3 and r.dup_group[10] == r.dup_group[len(base) + 2] != g3
    assert (r.dup_group[-2:] == D.NO_GROUP).all()
    # long real answers are otherwise unique
    assert r.rows_in_groups == 5 and r.groups == 2 and r.exact_groups == 2
    assert sorted(set(r.dup_group[r.dup_group > 0].tolist())) == [1, 2]  # numbered from 1


def test_near_duplicates_with_embeddings(answers):
    from fieldkit.inference.embedder import get_embedder

    base = list(answers[:120])
    i = max(range(len(base)), key=lambda j: len(base[j]))
    words = base[i].split()
    words[len(words) // 2] = "really"
    edited = " ".join(words[:-1])  # an enumerator's copy with two edits
    texts = base + [edited]
    emb = get_embedder().embed_all(texts)
    r = D.find_duplicates(texts, emb, threshold=0.9)
    assert r.dup_group[i] != D.NO_GROUP and r.dup_group[-1] == r.dup_group[i]
    strict = D.find_duplicates(texts, emb, threshold=1.0)
    assert strict.dup_group[-1] == D.NO_GROUP
    # only genuinely similar texts got linked
    sims = emb @ emb.T
    for g in set(r.dup_group[r.dup_group > 0].tolist()):
        rows = np.flatnonzero(r.dup_group == g)
        linked = sims[np.ix_(rows, rows)] - 10 * np.eye(len(rows))
        assert linked.max(axis=1).min() >= 0.9 - 1e-4  # each member is close to another one


def test_blocked_products_match_one_block(monkeypatch):
    rng = np.random.default_rng(1)
    v = rng.normal(size=(500, 16)).astype(np.float32)
    v[250] = v[10] + 0.01
    v[400] = v[10] - 0.01
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    whole = D.near_pairs(v, 0.98)
    monkeypatch.setattr(D, "BLOCK_FLOATS", 500 * 64)  # blocks of 64 rows
    blocked = D.near_pairs(v, 0.98)
    assert sorted(zip(*map(list, whole))) == sorted(zip(*map(list, blocked)))
    assert {(10, 250), (10, 400), (250, 400)} <= set(zip(*map(list, blocked)))


def test_threshold_is_checked():
    with pytest.raises(UsageError):
        D.find_duplicates(["a", "b"], np.eye(2, dtype=np.float32), threshold=1.5)
