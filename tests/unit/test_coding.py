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
    again = Coder.load(coder.save(tmp_path / "coder"))
    assert again.labels == coder.labels and again.temperature == coder.temperature
    np.testing.assert_allclose(again.predict(vecs[test]).proba, res.prediction.proba, atol=1e-6)
    # the answers suggested for coding next are ones the coder hesitates on
    picks = suggest_rows(res, 20)
    assert np.median(res.prediction.margin()[picks]) < np.median(res.prediction.margin())


@pytest.mark.slow
def test_with_many_coded_answers_the_coder_is_the_converged_fit_at_the_c_it_picked(banking):
    """The all-labels coder was below plain LR: lbfgs stopped at tol 1e-3 (weights 12% off)."""
    from sklearn.linear_model import LogisticRegression

    vecs, y, *_ = banking
    lab = np.arange(700)  # 35 coded answers per code, nothing to spread over
    coder = fit_coder(vecs[lab], [[c] for c in y[lab]], "all-minilm-l6-v2")
    c_reg = coder.info["C"]
    assert set(coder.info["calibration"]["C_accuracy"]) == {"3", "10", "30", "100"}
    assert coder.info["calibration"]["C_accuracy"][f"{c_reg:g}"] == max(
        coder.info["calibration"]["C_accuracy"].values())
    ref = LogisticRegression(C=c_reg, tol=1e-8, max_iter=5000, class_weight="balanced")
    ref.fit(vecs[lab], y[lab])
    coef = ref.coef_[[list(ref.classes_).index(c) for c in coder.labels]]
    assert np.linalg.norm(coder.weight - coef) / np.linalg.norm(coef) < 0.03


@pytest.mark.slow
def test_the_adapter_pulls_unseen_answers_of_a_code_together_and_folds_into_the_head(banking):
    from fieldkit.analysis.coding_adapter import adapt, fold_into, train_adapter

    vecs, y, lab, _, test = banking
    maps = train_adapter(vecs[lab], y[lab], (0, 30))
    assert not maps[0].any()

    def gap(x):  # mean cosine of same-code pairs minus different-code pairs, held-out answers
        g = x / np.linalg.norm(x, axis=1, keepdims=True)
        s, same = g @ g.T, y[test][:, None] == y[test][None, :]
        np.fill_diagonal(same, False)
        return s[same].mean() - s[~same & ~np.eye(len(test), dtype=bool)].mean()

    assert gap(adapt(vecs[test], maps[30])) > gap(vecs[test]) + 0.01
    weight = np.random.default_rng(0).normal(size=(5, vecs.shape[1])).astype(np.float32)
    np.testing.assert_allclose(adapt(vecs[test], maps[30]) @ weight.T,
                               vecs[test] @ fold_into(weight, maps[30]).T, rtol=1e-4, atol=1e-4)


def test_all_one_code_is_refused(tmp_path):
    vecs = np.eye(4, 8, dtype=np.float32)
    with pytest.raises(UsageError, match="at least two codes"):
        fit_coder(vecs, [["a"], ["a"], [], []], "all-minilm-l6-v2")


@pytest.fixture(scope="module")
def small_coder():
    """A coder taught by 5 answers of each of 4 Banking77 codes (real embeddings)."""
    from fieldkit.inference.embedder import get_embedder

    df = pl.read_csv(shared("coding", "banking77_train.csv"))
    keep = sorted(df["category"].unique().to_list())[:4]
    df = df.filter(pl.col("category").is_in(keep)).group_by("category", maintain_order=True).head(5)
    vecs = get_embedder(None).embed_all(df["text"].to_list())
    return fit_coder(vecs, [[c] for c in df["category"]], "all-minilm-l6-v2"), vecs


def test_saved_coder_folder_round_trips_and_replaces_an_old_coder_only(small_coder, tmp_path):
    import json

    coder, vecs = small_coder
    target = coder.save(tmp_path / "coder")
    meta = json.loads((target / "coder.json").read_text(encoding="utf-8"))
    assert meta["labels"] == coder.labels and meta["n_labelled"] == [5, 5, 5, 5]
    again = Coder.load(target)
    np.testing.assert_allclose(again.predict(vecs).proba, coder.predict(vecs).proba, atol=1e-6)
    coder.save(target)  # an old coder folder is replaced whole, with no temporary left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coder"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not a saved coder"):
        coder.save(other)
    assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"


def _tamper(folder, case: str, tmp_path):
    import json

    meta = json.loads((folder / "coder.json").read_text(encoding="utf-8"))
    if case == "pickled weights":
        np.save(folder / "weight.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "weights elsewhere":
        outside = tmp_path / "outside.npy"
        np.save(outside, np.load(folder / "weight.npy"))
        (folder / "weight.npy").unlink()
        (folder / "weight.npy").symlink_to(outside)
    elif case == "wrong shape":
        np.save(folder / "weight.npy", np.zeros((2, 3), dtype=np.float32))
    elif case == "not finite":
        w = np.load(folder / "weight.npy")
        w[0, 0] = np.nan
        np.save(folder / "weight.npy", w)
    elif case == "control characters in a label":
        meta["labels"][0] = "card\x1b[31m"
    elif case == "duplicate labels":
        meta["labels"][1] = meta["labels"][0]
    elif case == "model id with a path":
        meta["model"] = "../../etc/passwd"
    elif case == "older format":
        meta["format"] = "fieldkit-coder/1"
    elif case == "code threshold out of range":
        meta["code_threshold"] = 5.0
    elif case == "not json":
        (folder / "coder.json").write_bytes(b"\x80not json")
        return
    (folder / "coder.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize("case", ["pickled weights", "weights elsewhere", "wrong shape", "not finite",
                                  "control characters in a label", "duplicate labels",
                                  "model id with a path", "older format", "not json",
                                  "code threshold out of range"])
def test_a_hostile_or_damaged_coder_folder_is_refused(small_coder, tmp_path, case):
    coder, _ = small_coder
    folder = coder.save(tmp_path / "coder")
    _tamper(folder, case, tmp_path)
    with pytest.raises(InputError) as e:
        Coder.load(folder)
    assert e.value.hint and "\x1b" not in str(e.value)


def test_a_file_or_missing_folder_is_not_a_coder(tmp_path):
    f = tmp_path / "coder.npz"
    f.write_bytes(b"PK\x03\x04 not a folder")
    for p in (f, tmp_path / "missing"):
        with pytest.raises(InputError, match="coder folder|does not exist"):
            Coder.load(p)


def test_languages_of_a_mixed_survey_column_and_an_english_one():
    df = pl.read_csv(KOBO, infer_schema=False)
    mix = detect_languages(df["feedback/comment"].to_list())
    truth = df.filter(pl.col("feedback/comment").is_not_null())["feedback/language"]
    assert abs(mix.non_english_share - float((truth != "en").mean())) <= 0.05
    assert {"en", "fr", "es", "ar"} <= set(mix.counts)
    english = pl.read_csv(shared("coding", "banking77_train.csv"))["text"].to_list()[:1000]
    assert detect_languages(english).non_english_share <= 0.02


def test_short_english_answers_do_not_switch_an_english_survey_to_the_multilingual_model(fk_home):
    """One- and two-word English answers ("Community", "Open source") were read as Latin, Bikol or
    Romanian at low confidence: the R survey's "like best" column looked 21% non-English."""
    from fieldkit.io.dataset import load_dataset

    path = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    texts = load_dataset(path).frame.collect()["What do you like best about using R?"].to_list()
    mix = detect_languages(texts)
    assert mix.non_english_share <= 0.03 and mix.unsure > 100
    assert "too short to tell" in mix.describe() and mix.as_dict()["unsure"] == mix.unsure
    choice = choose_model(texts)
    assert choice.model_id == "all-minilm-l6-v2" and choice.missing is None


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


def test_an_empty_answer_coded_by_hand_is_no_example_of_its_code(small_coder):
    coder, vecs = small_coder
    texts = [f"answer {i}" for i in range(len(vecs))]
    texts[0] = None  # the analyst coded a row whose answer is empty
    row_codes = [[coder.labels[0]]] + [[] for _ in range(len(vecs) - 1)]
    summary = code_rows(vecs, row_codes, coder).summary(texts)
    first = next(s for s in summary if s["code"] == coder.labels[0])
    assert first["human"] == 1 and first["examples"] and "None" not in first["examples"]


def test_the_cut_for_further_codes_is_the_one_that_gets_most_answers_exactly_right():
    """Held-out second codes scoring 0.3-0.4 are caught by a cut of 0.3, not by 0.5."""
    from fieldkit.analysis.coding_multi import code_sets, pick_threshold

    proba = np.array([[0.9, 0.35, 0.05], [0.8, 0.1, 0.32], [0.95, 0.05, 0.1], [0.7, 0.2, 0.1]])
    truth = np.array([[1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]], dtype=bool)
    cut, exact = pick_threshold(proba, truth, max_codes=3)
    assert cut == 0.3 and exact["0.3"] == 1.0 and exact["0.5"] == 0.5
    assert (code_sets(proba, cut, 3) == truth).all()
    # equals resolve to the cut nearest 0.5; one code per answer always (the best one)
    cut, _ = pick_threshold(np.array([[0.9, 0.1], [0.8, 0.15]]), np.array([[1, 0], [1, 0]]), 3)
    assert cut == 0.5
    assert code_sets(np.array([[0.1, 0.2]]), 0.9, 3).tolist() == [[False, True]]


def test_a_saved_several_codes_coder_keeps_its_cut(tmp_path):
    labels = ["food", "water", "health"]
    coder = Coder("all-MiniLM-L6-v2", labels, np.eye(3, 4, dtype=np.float32), np.zeros(3, np.float32),
                  np.array([3, 3, 3]), 1.0, multi_code=True, threshold=0.3)
    again = Coder.load(coder.save(tmp_path / "coder"))
    assert again.threshold == 0.3 and again.multi_code
    x = np.array([[4.0, -0.6, -3.0, 0.0]], dtype=np.float32)  # sigmoids 0.98, 0.35, 0.05
    assert again.predict(x).codes()[0] == ["food;water"]
    coder.threshold = 0.5
    assert coder.predict(x).codes()[0] == ["food"]


@pytest.mark.slow
def test_a_codebook_only_coder_scores_by_its_agreement_with_the_nearest_code_name(banking):
    """Names only there is nothing to hold out: the scores came out at temperature 1 (e5: ECE 0.316)."""
    from fieldkit.analysis.codebook import Codebook, humanize
    from fieldkit.analysis.coding_calibration import agreement_temperature
    from fieldkit.inference.embedder import get_embedder

    vecs, y, _, pool, test = banking
    names = sorted(set(y))
    name_vecs = get_embedder(None).embed_all([humanize(c) for c in names])
    coder = fit_coder(vecs[pool], [[] for _ in pool], "all-minilm-l6-v2", codebook=Codebook(codes=names),
                      codebook_vectors={c: name_vecs[i:i + 1] for i, c in enumerate(names)})
    cal = coder.info["calibration"]
    assert cal["method"] == "agreement" and cal["answers"] == len(pool)
    res = code_rows(vecs[test], [[] for _ in test], coder)
    right = np.asarray(res.code) == y[test]
    assert 0.4 < right.mean() < 0.95
    assert expected_calibration_error(res.score, right) <= 0.12
    # the mean score on the uncoded answers is the agreement, whatever the logits' scale
    z = coder.logits(vecs[pool])
    seed_x, seed_y = name_vecs, np.arange(len(names))
    assert abs(coder.predict(vecs[pool]).proba.max(axis=1).mean() - cal["agreement"]) < 0.01
    t5, info5 = agreement_temperature(5 * z, vecs[pool], seed_x, seed_y)
    assert info5["agreement"] == cal["agreement"]
    assert t5 == pytest.approx(5 * coder.temperature, rel=0.01)
