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


def _token_embedder(path):
    from fieldkit.inference.embedder import TokenEmbedder
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file

    entry = get_entry(None)
    sha = next(f.sha256 for f in entry.files if f.role == "model")
    return TokenEmbedder(entry, verified_file(entry, "model"), verified_file(entry, "tokenizer"), sha,
                         threads=1, graph_path=path)


def test_graph_without_padding_mask_gets_unpadded_batches_and_the_same_vectors(tmp_path, fk_home):
    """v10 drops the padding mask: right only if no batch is padded, which the embedder then ensures
    (v11 also flattens the token states: exact too)."""
    import fieldkit.inference.embedder as E
    from fieldkit.inference import graph_fold
    from fieldkit.inference.graph_edit import simplify
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file

    if not DATA.exists():
        pytest.skip("../shared/data is absent")
    src = verified_file(get_entry(None), "model")
    model = onnx.load(str(src))
    simplify(model.graph)
    assert graph_fold.drop_padding_mask(model.graph) == 6
    assert "attention_mask" not in [i.name for i in model.graph.input]
    assert graph_fold.flatten_tokens(model)  # and the token states flat between the attentions
    unmasked = tmp_path / "unmasked.onnx"
    onnx.save(model, str(unmasked))
    texts = survey()[:48] + dialog()[:48]
    emb = _token_embedder(unmasked)
    assert emb.unpadded
    lengths = np.sort([len(e.ids) for e in emb.tokenizer.encode_batch(texts)])
    for a, b in E._token_batches(lengths, 16, E.TOKEN_BUDGET, equal=True):
        assert lengths[a] == lengths[b - 1]
    want = _pooled(src, texts)
    assert np.abs(want - emb.embed_all(texts, batch_size=16)).max() < 2e-5
    # a caller's padded batch (run_rows) is split by token count, not run padded
    encs = emb.tokenizer.encode_batch(texts[:8])
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((8, width), np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encs):
        ids[row, :len(e.ids)], mask[row, :len(e.ids)] = e.ids, 1
    assert mask.min() == 0
    assert np.abs(emb.run_rows([(ids, mask)])[0] - want[:8]).max() < 2e-5


def test_padding_mask_read_elsewhere_is_kept(fk_home):
    from onnx import TensorProto, helper

    from fieldkit.inference import graph_fold
    from fieldkit.inference.graph_edit import simplify
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file

    model = onnx.load(str(verified_file(get_entry(None), "model")))
    simplify(model.graph)
    cast = next(n for n in model.graph.node if "attention_mask" in n.input)
    model.graph.output.append(helper.make_tensor_value_info(cast.output[0], TensorProto.FLOAT, None))
    before = len(model.graph.node)
    assert graph_fold.drop_padding_mask(model.graph) == 0
    assert len(model.graph.node) == before
    assert "attention_mask" in [i.name for i in model.graph.input]
