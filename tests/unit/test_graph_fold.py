"""graph_fold's edits are exact: the edited float MiniLM graph gives the source graph's vectors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.golden.texts import DATA, dialog, survey


def _pooled(path, texts):
    from fieldkit.inference.embedder import TokenEmbedder
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file

    entry = get_entry(None)
    sha = next(f.sha256 for f in entry.files if f.role == "model")
    emb = TokenEmbedder(entry, verified_file(entry, "model"), verified_file(entry, "tokenizer"), sha,
                        threads=1, graph_path=path)
    return emb.embed_all(texts, batch_size=16)


def test_folded_float_graph_gives_the_same_vectors(tmp_path, fk_home):
    from fieldkit.inference import graph_fold
    from fieldkit.inference.graph_edit import _drop_dead, simplify
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file
    from fieldkit.inference.optimize import load_calibration

    if not DATA.exists():
        pytest.skip("../shared/data is absent")
    entry = get_entry(None)
    src = verified_file(entry, "model")
    amax, _ = load_calibration(verified_file(entry, "calibration"))
    model = onnx.load(str(src))
    g = model.graph
    simplify(g)
    assert graph_fold.single_key_transpose(g) == 6
    _drop_dead(g)
    assert graph_fold.fold_attention_biases(model) == {"key_bias": 6, "value_bias": 6}
    narrowed = graph_fold.split_ffn_outliers(model, amax, 4)
    assert sum(len(v) == 1532 for v in narrowed.values()) == 6
    assert graph_fold.sum_add_chains(g) >= 12
    _drop_dead(g)
    kinds = [n.op_type for n in g.node]
    assert "Gather" not in kinds[kinds.index("Softmax"):]  # the kept channels need no Gather now
    folded = tmp_path / "folded.onnx"
    onnx.save(model, str(folded))
    texts = survey()[:48] + dialog()[:48]  # padded batches: the mask must still hide the padding
    want, got = _pooled(src, texts), _pooled(folded, texts)
    assert np.abs(want - got).max() < 2e-5
