"""The coder (analysis.coding), codebooks and the language-aware model choice, on real data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fieldkit.analysis.codebook import read_codebook, split_codes
from fieldkit.analysis.coding import (
    Coder, code_rows, expected_calibration_error, fit_coder, suggest_rows,
)
from fieldkit.analysis.language import PREPARE_HINT, choose_model, detect_languages
from fieldkit.errors import InputError, UsageError
from tests.conftest import SAMPLE_DATA, shared

KOBO = SAMPLE_DATA / "kobo_water_survey.csv"


def test_split_codes_reads_separated_strings_and_lists():
    assert split_codes(" water ;health; water;") == ["water", "health"]
    assert split_codes(["food", " food", None, "safety"]) == ["food", "safety"]
    assert split_codes(None) == [] and split_codes(float("nan")) == [] and split_codes("  ") == []


def test_codebook_reads_examples_and_refuses_a_file_without_code(tmp_path):
    good = tmp_path / "book.csv"
    good.write_text("Code,Description,Examples\nwater,water is far,pump broken; long queue\n"
                    "health,,\n", encoding="utf-8")
    book = read_codebook(good)
    assert book.codes == ["water", "health"]
    assert book.seed_texts("water") == ["water", "water is far", "pump broken", "long queue"]
    assert book.seed_texts("health") == ["health"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,description\nwater,far\n", encoding="utf-8")
    with pytest.raises(InputError, match="no `code` column"):
        read_codebook(bad)


@pytest.fixture(scope="module")
def banking():
    """20 Banking77 codes: 10 coded answers each, the rest held out (texts and labels unseen)."""
    from fieldkit.inference.embedder import get_embedder

    df = pl.read_csv(shared("coding", "banking77_train.csv"))
    keep = df["category"].value_counts().sort("count", descending=True)["category"][:20]
    df = df.filter(pl.col("category").is_in(keep.implode())).sample(fraction=1.0, seed=0)
    df = df.head(1400)
    vecs = get_embedder(None).embed_all(df["text"].to_list())
    y = np.asarray(df["category"].to_list())
    lab = np.concatenate([np.flatnonzero(y == c)[:10] for c in np.unique(y)])
    rest = np.setdiff1d(np.arange(len(y)), lab)
    return vecs, y, lab, rest[: len(rest) // 2], rest[len(rest) // 2:]


@pytest.mark.slow
def test_scores_are_calibrated_on_held_out_answers(banking, tmp_path):
    vecs, y, lab, pool, test = banking
    rows = np.concatenate([lab, pool])
    row_codes = [[y[i]] for i in lab] + [[] for _ in pool]
    coder = fit_coder(vecs[rows], row_codes, "all-minilm-l6-v2")
    res = code_rows(vecs[test], [[] for _ in test], coder)
    right = np.asarray(res.code) == y[test]
    assert right.mean() >= 0.85
    assert expected_calibration_error(res.score, right) <= 0.08
    # answers flagged for review are the ones more often wrong
    assert right[res.needs_review].mean() < right[~res.needs_review].mean()
    # a saved coder is the same coder
    again = Coder.load(coder.save(tmp_path / "coder.npz"))
    assert again.labels == coder.labels and again.temperature == coder.temperature
    np.testing.assert_allclose(again.predict(vecs[test]).proba, res.prediction.proba, atol=1e-6)
    # the answers suggested for coding next are ones the coder hesitates on
    picks = suggest_rows(res, 20)
    assert np.median(res.prediction.margin()[picks]) < np.median(res.prediction.margin())


def test_all_one_code_is_refused_and_a_damaged_coder_file_too(tmp_path):
    vecs = np.eye(4, 8, dtype=np.float32)
    with pytest.raises(UsageError, match="at least two codes"):
        fit_coder(vecs, [["a"], ["a"], [], []], "all-minilm-l6-v2")
    bad = tmp_path / "coder.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a fieldkit coder"):
        Coder.load(bad)
    obj = tmp_path / "pickled.npz"
    np.savez(obj, meta=np.array([{"format": "fieldkit-coder/1"}], dtype=object))
    with pytest.raises(InputError):
        Coder.load(obj)  # object arrays need pickle: refused


def test_languages_of_a_mixed_survey_column_and_an_english_one():
    df = pl.read_csv(KOBO, infer_schema=False)
    mix = detect_languages(df["feedback/comment"].to_list())
    truth = df.filter(pl.col("feedback/comment").is_not_null())["feedback/language"]
    assert abs(mix.non_english_share - float((truth != "en").mean())) <= 0.05
    assert {"en", "fr", "es", "ar"} <= set(mix.counts)
    english = pl.read_csv(shared("coding", "banking77_train.csv"))["text"].to_list()[:1000]
    assert detect_languages(english).non_english_share <= 0.02


def test_auto_model_choice_names_the_install_command_when_no_multilingual_model(fk_home):
    texts = pl.read_csv(KOBO, infer_schema=False)["feedback/comment"].to_list()
    choice = choose_model(texts)
    assert choice.model_id == "all-minilm-l6-v2" and choice.missing == PREPARE_HINT
    assert any(PREPARE_HINT in n for n in choice.notes())
    assert choice.provenance()["model_choice"] == "auto"
    asked = choose_model(texts, "all-minilm-l6-v2")
    assert not asked.auto and asked.missing is None
    english = choose_model(["The pump is broken", "Queue at the tap is long"] * 20)
    assert english.model_id == "all-minilm-l6-v2" and english.missing is None
