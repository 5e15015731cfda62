"""Label statistics in saved coders: pooled exactly across laptops, few answers kept home, format /2 still read."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fieldkit.analysis.coding import Coder, fit_coder
from fieldkit.analysis.coding_stats import MIN_ANSWERS, lda_head, label_stats, pool
from fieldkit.analysis.merge_models import fedavg, pooled
from fieldkit.errors import InputError
from tests.conftest import shared

CODES = ["card_arrival", "exchange_rate", "pin_blocked", "top_up_failed"]


@pytest.fixture(scope="module")
def answers():
    """8 Banking77 answers of each of 4 codes (real embeddings), and their codes."""
    from fieldkit.inference.embedder import get_embedder

    df = (pl.read_csv(shared("coding", "banking77_train.csv")).filter(pl.col("category").is_in(CODES))
          .group_by("category", maintain_order=True).head(8).sort("category", maintain_order=True))
    return get_embedder(None).embed_all(df["text"].to_list()), df["category"].to_list()


def _coder(vecs, codes, rows):
    return fit_coder(vecs[rows], [[codes[i]] for i in rows], "all-minilm-l6-v2")


def test_pooled_statistics_give_the_coder_one_holder_of_every_label_would_get(answers, tmp_path):
    vecs, codes = answers
    halves = [np.arange(0, 32, 2), np.arange(1, 32, 2)]  # 4 answers of each code on each laptop
    coders = [_coder(vecs, codes, h) for h in halves]
    for c in coders:
        assert c.stats.withheld == 0 and c.stats.answers == 16
    # saved and read back (format /3), then merged: the office never sees an answer
    back = [Coder.load(c.save(tmp_path / f"laptop{i}")) for i, c in enumerate(coders)]
    assert json.loads((tmp_path / "laptop0" / "coder.json").read_text())["format"] == "fieldkit-coder/3"
    merged = pooled(back, ["laptop0", "laptop1"]).coder
    assert merged.info["federated"]["method"] == "pooled statistics (LDA)"
    labels = merged.labels
    y = np.array([labels.index(c) for c in codes])
    central = label_stats(vecs, y, len(labels))
    np.testing.assert_allclose(merged.stats.class_sum, central.class_sum, atol=1e-4)
    np.testing.assert_allclose(merged.stats.moment, central.moment, atol=1e-4)
    assert merged.stats.class_count.tolist() == [8.0] * 4
    weight, bias, has, _ = lda_head(central)
    assert has.all()
    np.testing.assert_allclose(merged.weight, weight, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(merged.bias, bias, rtol=1e-3, atol=1e-3)
    # any order of the laptops gives the same coder, and it codes the answers
    again = pooled(back[::-1], ["laptop1", "laptop0"]).coder
    np.testing.assert_allclose(again.weight, merged.weight, atol=1e-6)
    assert (np.asarray(labels)[merged.predict(vecs).proba.argmax(axis=1)] == np.asarray(codes)).mean() >= 0.9


def test_a_code_with_one_answer_on_a_laptop_stays_on_that_laptop(answers, tmp_path):
    vecs, codes = answers
    lone = codes.index("pin_blocked")  # the only pin_blocked answer on this laptop
    rows = [i for i in range(32) if codes[i] != "pin_blocked" and i % 2 == 0] + [lone]
    coder = _coder(vecs, codes, np.array(rows))
    j = coder.labels.index("pin_blocked")
    assert MIN_ANSWERS >= 2 and coder.stats.withheld == 1
    assert coder.stats.class_count[j] == 0 and not coder.stats.class_sum[j].any()
    folder = coder.save(tmp_path / "coder")
    saved_sum = np.load(folder / "class_sum.npy")
    moment = np.load(folder / "moment.npy")
    # neither the per-code sums nor the moment hold that answer: the moment is the others' alone
    others = vecs[[i for i in rows if i != lone]]
    assert not np.isclose(saved_sum @ vecs[lone], 1.0, atol=1e-3).any()
    np.testing.assert_allclose(moment, others.T @ others, atol=1e-4)
    assert json.loads((folder / "coder.json").read_text())["stats"]["withheld"] == 1
    # merged with a laptop that has pin_blocked answers to share, the code is learned from those
    other = _coder(vecs, codes, np.arange(1, 32, 2))
    merged = pooled([Coder.load(folder), other], ["a", "b"]).coder
    assert merged.stats.class_count[merged.labels.index("pin_blocked")] == 4
    assert merged.info["federated"]["codes_from_average"] == 0


def test_a_code_no_laptop_shares_statistics_for_takes_its_averaged_row(answers):
    vecs, codes = answers
    lone = [codes.index("pin_blocked"), codes.index("pin_blocked") + 1]
    a = _coder(vecs, codes, np.array([i for i in range(0, 32, 2) if codes[i] != "pin_blocked"] + lone[:1]))
    b = _coder(vecs, codes, np.array([i for i in range(1, 32, 2) if codes[i] != "pin_blocked"] + lone[1:]))
    merged = pooled([a, b], ["a", "b"]).coder
    j = merged.labels.index("pin_blocked")
    assert merged.info["federated"]["codes_from_average"] == 1 and merged.stats.class_count[j] == 0
    assert merged.bias[j] > -1e3 and np.abs(merged.weight[j]).sum() > 0  # still a code it can give
    # its row points where the averaged coders' row points
    avg = fedavg([a, b], ["a", "b"]).coder
    cos = merged.weight[j] @ avg.weight[j] / np.linalg.norm(merged.weight[j]) / np.linalg.norm(avg.weight[j])
    assert cos > 0.999


def test_format_2_coders_still_load_and_merge_by_averaging(answers, tmp_path):
    vecs, codes = answers
    coders = [_coder(vecs, codes, np.arange(k, 32, 2)) for k in (0, 1)]
    folders = [c.save(tmp_path / f"c{k}") for k, c in enumerate(coders)]
    for f in folders:  # what fieldkit wrote before label statistics
        meta = json.loads((f / "coder.json").read_text())
        meta["format"] = "fieldkit-coder/2"
        del meta["stats"]
        (f / "coder.json").write_text(json.dumps(meta))
        for name in ("class_sum.npy", "class_count.npy", "moment.npy"):
            (f / name).unlink()
    old = [Coder.load(f) for f in folders]
    assert all(c.stats is None for c in old)
    np.testing.assert_allclose(old[0].predict(vecs).proba, coders[0].predict(vecs).proba, atol=1e-6)
    merged = pooled(old, ["c0", "c1"]).coder
    assert merged.info["federated"]["method"] == "FedAvg"
    np.testing.assert_array_equal(merged.weight, fedavg(old, ["c0", "c1"]).coder.weight)


@pytest.mark.parametrize("case", ["counts above the coded answers", "moment of the wrong shape",
                                  "pickled sums", "statistics missing", "statistics on a several-codes coder"])
def test_hostile_statistics_are_refused(answers, tmp_path, case):
    vecs, codes = answers
    folder = _coder(vecs, codes, np.arange(0, 32, 2)).save(tmp_path / "coder")
    meta = json.loads((folder / "coder.json").read_text())
    if case == "counts above the coded answers":
        np.save(folder / "class_count.npy", np.full(4, 99.0, dtype=np.float32))
    elif case == "moment of the wrong shape":
        np.save(folder / "moment.npy", np.zeros((3, 3), dtype=np.float32))
    elif case == "pickled sums":
        np.save(folder / "class_sum.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif case == "statistics missing":
        (folder / "moment.npy").unlink()
    else:
        meta["multi_code"] = True
        (folder / "coder.json").write_text(json.dumps(meta))
    with pytest.raises(InputError) as e:
        Coder.load(folder)
    assert e.value.hint


def test_pooling_adds_statistics_up():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    y = np.repeat(np.arange(4), 10)
    parts = [label_stats(x[k::2], y[k::2], 4) for k in (0, 1)]
    whole = label_stats(x, y, 4)
    total = pool(parts)
    np.testing.assert_allclose(total.class_sum, whole.class_sum)
    np.testing.assert_allclose(total.moment, whole.moment)
    assert total.class_count.tolist() == [10.0] * 4
