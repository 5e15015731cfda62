"""`fieldkit merge --models`: laptops' saved coders merged (pooled statistics; FedAvg) on real Banking77 answers.

Three laptops code their own answers of six Banking77 codes (the third never saw one code);
each saves its coder; the office merges the coders without any answer and applies the result.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from tests.conftest import shared
from tests.e2e.test_cli_merge import run

pytest.importorskip("fieldkit.analysis.coder_file", reason="the saved-coder format (fieldkit code --save-model)")

CODES = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed", "pin_blocked",
         "cash_withdrawal_charge"]
MISSING = "pin_blocked"  # never coded on the third laptop


@pytest.fixture(scope="module")
def laptops(tmp_path_factory):
    """Three laptops' coders (saved with `fieldkit code --save-model`) and the held-out answers."""
    import os

    folder = tmp_path_factory.mktemp("fed")
    old = os.environ.get("FIELDKIT_HOME")
    os.environ["FIELDKIT_HOME"] = str(folder / "fkhome")  # a clean store and cache for the module
    df = (pl.read_csv(shared("coding", "banking77_train.csv")).filter(pl.col("category").is_in(CODES))
          .sample(fraction=1.0, shuffle=True, seed=7).group_by("category", maintain_order=True).head(60))
    df = df.with_columns(pl.int_range(pl.len()).over("category").alias("i"))
    held = df.filter(pl.col("i") >= 45)
    train = df.filter(pl.col("i") < 45).with_columns((pl.col("i") % 3).alias("laptop"))
    saved = []
    for k in range(3):
        part = train.filter(pl.col("laptop") == k).with_columns(
            pl.when((pl.col("i") < 12 + 3 * k) & ~((pl.col("category") == MISSING) & (k == 2)))
            .then(pl.col("category")).otherwise(None).alias("mycode"))
        src = folder / f"laptop{k}.csv"
        part.select("text", "mycode").write_csv(src)
        saved.append((src, folder / f"coder{k}", int(part["mycode"].is_not_null().sum())))
    held.select("text", "category").write_csv(folder / "held.csv")
    yield folder, saved
    if old is None:
        os.environ.pop("FIELDKIT_HOME", None)
    else:
        os.environ["FIELDKIT_HOME"] = old


def save_coders(capsys, saved) -> None:
    for src, coder, _ in saved:
        if not coder.exists():
            code, _, err = run(capsys, "code", str(src), "--column", "text", "--labels", "mycode",
                               "--save-model", str(coder))
            assert code == 0, err


def merge_saved(capsys, folder, saved, name: str):
    """Every laptop's coder saved, then merged into `folder/name`; returns the folder and stdout."""
    save_coders(capsys, saved)
    merged = folder / name
    code, out, err = run(capsys, "merge", "--models", *[str(c) for _, c, _ in saved], "-o", str(merged))
    assert code == 0, err
    return merged, out


def meta(folder):
    return json.loads((folder / "coder.json").read_text(encoding="utf-8"))


def test_coders_merge_weighted_by_labelled_answers_and_code_held_out_answers(laptops, capsys):
    folder, saved = laptops
    merged, out = merge_saved(capsys, folder, saved, "merged")
    assert (f"merged 3 coders (all-minilm-l6-v2): 6 codes, {sum(n for *_, n in saved):,} labelled answers "
            "in all; method: pooled statistics (LDA)") in out
    assert f"codes taught on only some laptops: 1 ({MISSING})" in out
    m = meta(merged)
    assert m["labels"] == sorted(CODES) and m["format"] == "fieldkit-coder/3"
    inputs = [meta(c) for _, c, _ in saved]
    for lab, n in zip(m["labels"], m["n_labelled"]):
        assert n == sum(dict(zip(i["labels"], i["n_labelled"])).get(lab, 0) for i in inputs)
    # the merged statistics are the laptops' added up: the code laptop 3 never saw, from the other two
    j = m["labels"].index(MISSING)
    sums = [np.load(c / "class_sum.npy")[meta(c)["labels"].index(MISSING)] for _, c, _ in saved[:2]]
    assert np.allclose(np.load(merged / "class_sum.npy")[j], sum(sums), atol=1e-4)
    assert np.allclose(np.load(merged / "moment.npy"), sum(np.load(c / "moment.npy") for _, c, _ in saved),
                       atol=1e-3)
    # coders without statistics (format /2) average instead: the code laptop 3 never saw is
    # the n-weighted mean of the other two laptops' (centred) rows
    from fieldkit.analysis.coding import Coder
    from fieldkit.analysis.merge_models import fedavg

    rows = []
    for _, c, _ in saved[:2]:
        w, b, info = np.load(c / "weight.npy"), np.load(c / "bias.npy"), meta(c)
        taught = b > -1e3
        w = w - w[taught].mean(axis=0)
        k = info["labels"].index(MISSING)
        rows.append((info["n_labelled"][k], w[k]))
    want = sum(n * r for n, r in rows) / sum(n for n, _ in rows)
    averaged = fedavg([Coder.load(c) for _, c, _ in saved], ["a", "b", "c"]).coder
    assert np.allclose(averaged.weight[averaged.labels.index(MISSING)], want, atol=1e-5)
    # any order of the laptops gives the same coder
    again = folder / "merged_reversed"
    code, _, err = run(capsys, "merge", "--models", *[str(c) for _, c, _ in reversed(saved)], "-o", str(again))
    assert code == 0, err
    assert np.array_equal(np.load(again / "weight.npy"), np.load(merged / "weight.npy"))
    # the merged coder codes the held-out answers at least as well as the weakest laptop's
    accs = {}
    for name, coder in [("merged", merged)] + [(f"laptop{k}", c) for k, (_, c, _) in enumerate(saved)]:
        out_p = folder / f"held_{name}.parquet"
        code, _, err = run(capsys, "code", str(folder / "held.csv"), "--column", "text", "--load-model", str(coder),
                           "-o", str(out_p))
        assert code == 0, err
        res = pl.read_parquet(out_p)
        accs[name] = float((res["code"] == res["category"]).mean())
    assert accs["merged"] >= 0.8 and accs["merged"] >= min(v for k, v in accs.items() if k != "merged")


def test_a_second_round_relearns_from_the_merged_coder_and_averages(laptops, capsys):
    folder, saved = laptops
    merged, _ = merge_saved(capsys, folder, saved, "merged_r1")
    again = []
    for k, (src, _, _) in enumerate(saved):
        r2 = folder / f"coder{k}_round2"
        code, _, err = run(capsys, "code", str(src), "--column", "text", "--labels", "mycode",
                           "--teacher", str(merged), "--save-model", str(r2))
        assert code == 0, err
        m = meta(r2)
        # every code of the merged coder, the one laptop 3 never saw too; its counts are its own codes
        assert sorted(m["labels"]) == sorted(CODES)
        assert sum(m["n_labelled"]) == saved[k][2] and len(m["info"]["teacher"]) == 64
        again.append(r2)
    assert len({meta(r)["info"]["teacher"] for r in again}) == 1
    out2 = folder / "merged_r2"
    code, out, err = run(capsys, "merge", "--models", *map(str, again), "-o", str(out2))
    assert code == 0, err
    assert "method: FedAvg of coders taught by one merged coder (round 2)" in out
    res_p = folder / "held_r2.parquet"
    code, _, err = run(capsys, "code", str(folder / "held.csv"), "--column", "text", "--load-model", str(out2),
                       "-o", str(res_p))
    assert code == 0, err
    res = pl.read_parquet(res_p)
    assert float((res["code"] == res["category"]).mean()) >= 0.8
    # a teacher teaches alongside the analyst's own codes, never alone
    code, _, err = run(capsys, "code", str(saved[0][0]), "--column", "text", "--teacher", str(merged),
                       "--save-model", str(folder / "no_labels"))
    assert code == 2 and err.startswith("error: --teacher") and not (folder / "no_labels").exists()


def test_mixed_embedding_models_are_refused_in_one_line(laptops, capsys):
    folder, saved = laptops
    save_coders(capsys, saved)
    other = folder / "coder_other_model"
    shutil.copytree(saved[1][1], other, dirs_exist_ok=True)
    m = meta(other)
    m["model"], m["model_sha256"] = "use-multilingual", None
    (other / "coder.json").write_text(json.dumps(m), encoding="utf-8")
    out = folder / "mixed"
    code, stdout, err = run(capsys, "merge", "--models", str(saved[0][1]), str(other), "-o", str(out))
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[0].startswith("error: the coders were trained on different embedding models")
    assert "use-multilingual" in lines[0] and lines[1].startswith("hint: ")
    assert not out.exists()
    # one coder is not a merge; a Parquet file is not a coder
    code, _, err = run(capsys, "merge", "--models", str(saved[0][1]), "-o", str(out))
    assert code == 2 and err.startswith("error: ")
    code, _, err = run(capsys, "merge", "--models", str(saved[0][1]), str(folder / "held.csv"), "-o", str(out))
    assert code == 2 and err.startswith("error: ") and not out.exists()
