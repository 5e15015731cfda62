"""Layer features (inference.layer_features): poolings of an encoder's hidden states, on real answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fieldkit.errors import ModelError
from fieldkit.inference.embedder import get_embedder
from fieldkit.inference.layer_features import layer_embedder, layer_outputs
from tests.conftest import shared


@pytest.fixture(scope="module")
def answers():
    return pl.read_csv(shared("coding", "banking77_train.csv"))["text"].head(40).to_list()


def test_the_last_layers_mean_is_the_models_own_vector(answers, tmp_path):
    base = get_embedder("all-minilm-l6-v2")
    emb = layer_embedder("all-minilm-l6-v2", [(6, "mean"), (6, "max"), (5, "mean")], tmp_path)
    x = emb.embed_all(answers)
    assert x.shape == (len(answers), 3 * base.dim)
    parts = x.reshape(len(answers), 3, base.dim) * np.sqrt(3)
    np.testing.assert_allclose(np.linalg.norm(parts, axis=2), 1.0, atol=1e-4)
    # the features graph changes nothing upstream: layer 6's mean pooling is the embedding
    cos = (parts[:, 0] * base.embed_all(answers)).sum(axis=1)
    assert cos.min() > 0.999
    # max pooling and the layer below are other views of the answer, not copies
    assert (parts[:, 1] * parts[:, 0]).sum(axis=1).max() < 0.99
    assert (parts[:, 2] * parts[:, 0]).sum(axis=1).max() < 0.99
    # an empty answer is a zero row, like the embedder's
    assert not emb.embed_all(["", answers[0]])[0].any()
    # the cache key of these vectors is not the embedder's (other dim, other graph)
    assert emb.graph_sha256 != base.graph_sha256 and emb.model_id == base.model_id


def test_a_layer_the_encoder_does_not_have_is_refused(tmp_path):
    import onnx

    base = get_embedder("all-minilm-l6-v2")
    assert len(layer_outputs(onnx.load(base.session._model_path))) == 7  # embeddings + 6 layers
    with pytest.raises(ModelError, match="not in this 6-layer encoder"):
        layer_embedder("all-minilm-l6-v2", [(7, "mean")], tmp_path)


def test_a_padded_batch_gives_each_rows_own_features(answers, tmp_path):
    """The int8 graph has no padding mask since v10: a padded batch sent to the layer features (as run_rows'
    callers may) must be split by token count, or the short rows attend to the padding."""
    emb = layer_embedder("all-minilm-l6-v2", [(6, "mean"), (4, "max")], tmp_path)
    assert emb.unpadded
    rows = [emb.tokenizer.encode(a).ids for a in answers[:6]]
    width = max(map(len, rows))
    assert len({len(r) for r in rows}) > 1
    ids = np.zeros((len(rows), width), np.int64)
    mask = np.zeros((len(rows), width), np.int64)
    for k, r in enumerate(rows):
        ids[k, :len(r)], mask[k, :len(r)] = r, 1
    together = emb._run(ids, mask)
    alone = np.concatenate([emb._run(np.array([r]), np.ones((1, len(r)), np.int64)) for r in rows])
    np.testing.assert_allclose(together, alone, atol=1e-5)
