"""`code --engine ray` vs local on Banking77: the same codes, scores within 1e-4, the same saved coder."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fieldkit.store import read_provenance
from tests.conftest import shared
from tests.e2e.test_cli_text import run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def banking(tmp_path_factory):
    """1,200 answers of 12 Banking77 codes, 8 coded by hand per code, the rest left for the coder."""
    df = pl.read_csv(shared("coding", "banking77_train.csv"))
    keep = df["category"].value_counts().sort(["count", "category"], descending=True)["category"][:12]
    df = df.filter(pl.col("category").is_in(keep.implode())).sample(fraction=1.0, seed=0).head(1200)
    taught = pl.int_range(pl.len()).over("category") < 8
    df = df.with_columns(pl.when(taught).then(pl.col("category")).alias("mycode"))
    path = tmp_path_factory.mktemp("banking") / "banking.csv"
    df.write_csv(path)
    return path, df


def _code(capsys, path, out, *extra):
    code, stdout, err = run(capsys, "code", str(path), "-c", "text", "-o", str(out), *extra)
    assert code == 0, err
    return stdout


def test_code_on_ray_equals_local(capsys, tmp_path, banking, local_ray, module_home):
    path, df = banking
    local_out = _code(capsys, path, tmp_path / "local.parquet", "--labels", "mycode",
                      "--save-model", str(tmp_path / "local-coder"))
    ray_out = _code(capsys, path, tmp_path / "ray.parquet", "--labels", "mycode",
                    "--save-model", str(tmp_path / "ray-coder"), "--engine", "ray")
    a, b = pl.read_parquet(tmp_path / "local.parquet"), pl.read_parquet(tmp_path / "ray.parquet")
    assert a.height == b.height == 1200
    assert a["code"].equals(b["code"]) and a["code_source"].equals(b["code_source"])
    assert a["needs_review"].equals(b["needs_review"])
    assert float(np.nanmax(np.abs(a["code_score"].to_numpy() - b["code_score"].to_numpy()))) <= 1e-4
    model = a.filter(pl.col("code_source") == "model")
    assert model.height > 1000 and (model["code"] == model["category"]).mean() > 0.6  # it really coded
    assert local_out.splitlines()[-1].split(" to ")[0] == ray_out.splitlines()[-1].split(" to ")[0]
    # the coders learnt on both engines are one coder (the same vectors taught it)
    la = json.loads((tmp_path / "local-coder" / "coder.json").read_text())
    lb = json.loads((tmp_path / "ray-coder" / "coder.json").read_text())
    assert (la["labels"], la["model_sha256"]) == (lb["labels"], lb["model_sha256"])
    lp, rp = read_provenance(tmp_path / "local.parquet"), read_provenance(tmp_path / "ray.parquet")
    (ls,), (rs,) = lp["steps"], rp["steps"]
    assert rs["parameters"] == ls["parameters"] and rs["model_sha256"] == ls["model_sha256"]
    assert rs["engine"]["name"] == "ray" and "engine" not in ls


def test_saved_coder_applied_on_ray_equals_local(capsys, tmp_path, banking, local_ray, module_home):
    """The next round: a saved coder applied to new answers, on the workers' vectors."""
    path, _ = banking
    _code(capsys, path, tmp_path / "first.parquet", "--labels", "mycode", "--save-model", str(tmp_path / "coder"))
    _code(capsys, path, tmp_path / "local.parquet", "--load-model", str(tmp_path / "coder"))
    _code(capsys, path, tmp_path / "ray.parquet", "--load-model", str(tmp_path / "coder"), "--engine", "ray")
    a, b = pl.read_parquet(tmp_path / "local.parquet"), pl.read_parquet(tmp_path / "ray.parquet")
    assert a["code"].equals(b["code"]) and a["code"].null_count() == 0
    assert float(np.abs(a["code_score"].to_numpy() - b["code_score"].to_numpy()).max()) <= 1e-4


def test_coder_applied_on_the_workers_equals_its_local_prediction(banking, local_ray, module_home):
    """A saved coder's run: every answer coded on the workers, no vector sent to the driver, the local prediction."""
    from fieldkit import pipelines
    from fieldkit.scale import ray_engine

    path, df = banking
    coder = pipelines.code(pipelines.dataset(path), "text", labels="mycode").outcome.coder
    texts = df["text"].to_list()
    with ray_engine() as engine:
        _, vecs, apply = engine.coded(texts, coder.model_id, None, need_vectors=False)
        got = apply(coder)
    assert vecs is None
    local = np.asarray(pipelines.embed(pipelines.dataset(path), "text", model_id=coder.model_id).columns["embedding"])
    pred = coder.predict(local)
    codes, score, review = pred.codes()
    assert got.code == codes and len(set(codes)) > 5
    assert np.abs(got.score - score).max() <= 1e-5 and np.array_equal(got.review, review)
    assert np.abs(got.margin() - pred.margin()).max() <= 1e-5 and got.labels == coder.labels


def test_code_on_ray_as_a_folder_of_parts_equals_the_local_file(capsys, tmp_path, banking, local_ray, module_home):
    """`code --parts ROWS`: the same rows as the one local file, cut in parts, each with the provenance."""
    path, _ = banking
    _code(capsys, path, tmp_path / "first.parquet", "--labels", "mycode", "--save-model", str(tmp_path / "coder"))
    _code(capsys, path, tmp_path / "local.parquet", "--load-model", str(tmp_path / "coder"))
    parts = tmp_path / "parts"
    out = _code(capsys, path, parts, "--load-model", str(tmp_path / "coder"), "--parts", "500", "--engine", "ray")
    assert "(3 parts)" in out
    names = sorted(p.name for p in parts.iterdir())
    assert names == ["manifest.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    manifest = json.loads((parts / "manifest.json").read_text())
    assert manifest["rows"] == 1200 and [p["rows"] for p in manifest["parts"]] == [500, 500, 200]
    local = pl.read_parquet(tmp_path / "local.parquet")
    got = pl.read_parquet(parts / "*.parquet")
    assert got.columns == local.columns and got.drop("code_score").equals(local.drop("code_score"))
    assert float(np.abs(got["code_score"].to_numpy() - local["code_score"].to_numpy()).max()) <= 1e-4
    (ls,) = read_provenance(tmp_path / "local.parquet")["steps"]
    for i, n in enumerate(names[1:]):
        rp = read_provenance(parts / n)
        (rs,) = rp["steps"]
        assert rp["part"] == i and rs["parameters"] == ls["parameters"] and rs["engine"]["name"] == "ray"
    # a file where the folder should go is refused before any work, and left as it was
    (tmp_path / "taken").write_text("x")
    code, _, err = run(capsys, "code", str(path), "-c", "text", "-o", str(tmp_path / "taken"), "--load-model",
                       str(tmp_path / "coder"), "--parts", "500")
    assert code == 2 and "error:" in err and (tmp_path / "taken").read_text() == "x"
