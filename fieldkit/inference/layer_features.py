"""Richer frozen features from one encoder: hidden states of several layers, pooled several ways.

Why: a sentence encoder's last layer is tuned for similarity, while a classifier on few labels
can gain from the layers below it and from max pooling (frozen-probe studies; measured for the
coder in bench/bench_code_layers.py). The features graph is the verified (or derived) graph the
embedder runs, with the hidden state after each chosen layer added as an output; nothing else
in it changes, so its last output is the model's own token states.

A BERT-style graph normalises the embeddings, then twice per layer (after attention, after the
feed-forward block): the hidden state after layer k is the output of LayerNormalization 2k.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from fieldkit.errors import ModelError
from fieldkit.inference.embedder import TokenEmbedder, get_embedder
from fieldkit.inference.graph_edit import _drop_dead
from fieldkit.inference.session import create_session

POOLINGS = ("mean", "max", "cls")


def layer_outputs(model) -> list[str]:
    """Names of the hidden states after the embeddings (index 0) and after each layer (1..L)."""
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    if len(norms) < 3 or len(norms) % 2 != 1:
        raise ModelError(f"{len(norms)} layer normalisations: not a BERT-style encoder graph",
                         "layer features need a BERT-style token graph (MiniLM, e5)")
    return [n.output[0] for n in norms[::2]]


def features_graph(src: Path, dst: Path, layers: Sequence[int]) -> list[str]:
    """Write `src` with the hidden states of `layers` as its outputs (in that order); their names."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    states = layer_outputs(model)
    bad = [k for k in layers if not 0 <= k < len(states)]
    if bad:
        raise ModelError(f"layers {bad} are not in this {len(states) - 1}-layer encoder",
                         f"choose layers between 0 and {len(states) - 1}")
    names = [states[k] for k in layers]
    del model.graph.output[:]
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(
            name, TensorProto.FLOAT, ["batch", "sequence", None]))
    _drop_dead(model.graph)  # e5's in-graph pooling, when the last layer is not asked for
    onnx.save(model, str(dst))
    return names


def pool(states: Sequence[np.ndarray], mask: np.ndarray, poolings: Sequence[tuple[int, str]]) -> np.ndarray:
    """Concatenated L2-normalised poolings (index into `states`, "mean"/"max"/"cls") over the mask."""
    m = mask.astype(np.float32)
    parts = []
    for k, how in poolings:
        h = states[k]
        if how == "mean":
            v = np.einsum("bsd,bs->bd", h, m) / np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
        elif how == "max":
            v = np.where(m[:, :, None] > 0, h, -np.inf).max(axis=1)
        else:
            v = h[:, 0]
        n = np.linalg.norm(v, axis=1, keepdims=True)
        parts.append(v / np.maximum(n, 1e-12))
    # each part unit length, the whole too, so cosine over the whole averages the parts' cosines
    return (np.concatenate(parts, axis=1) / np.sqrt(len(parts))).astype(np.float32)


class LayerFeatureEmbedder(TokenEmbedder):
    """A token embedder whose vectors are poolings of several layers' hidden states, concatenated."""

    def __init__(self, base: TokenEmbedder, graph: Path, layers: Sequence[int],
                 poolings: Sequence[tuple[int, str]]):
        self.__dict__.update(base.__dict__)  # tokenizer, prefix, workers, entry, hashes
        self.layers = list(layers)
        self.poolings = [(self.layers.index(k), how) for k, how in poolings]
        self.session = create_session(graph, threads=1, label=base.model_id + " layers")
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.dim = base.dim * len(self.poolings)
        spec = ",".join(f"{k}:{how}" for k, how in poolings)
        self.graph_kind = f"{base.graph_kind}; layers {spec}"
        self.graph_sha256 = hashlib.sha256(f"{base.graph_sha256}|{spec}".encode()).hexdigest()
        self.pooled_output = False

    def _run_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # TokenEmbedder._run splits a padded batch by token count first when the graph has no mask (v10+)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        states = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})
        # the int8 rewrite (v11) keeps token states flat, [rows x tokens, D]
        states = [s.reshape(ids.shape[0], ids.shape[1], -1) for s in states]
        return pool(states, mask, self.poolings)


def layer_embedder(model_id: str, poolings: Sequence[tuple[int, str]], folder: Path) -> LayerFeatureEmbedder:
    """The embedder of `model_id` with `poolings` ((layer, how), ...) as its vectors; graph built in `folder`."""
    base = get_embedder(model_id)
    if not isinstance(base, TokenEmbedder):
        raise ModelError(f"{model_id} does not expose its token states", "layer features need a token model")
    src = Path(base.session._model_path) if getattr(base.session, "_model_path", None) else None
    if src is None:
        raise ModelError(f"cannot find the graph of {model_id}", "run `fieldkit models verify`")
    layers = sorted({k for k, _ in poolings})
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{model_id}-layers-{'-'.join(map(str, layers))}-{base.graph_sha256[:12]}.onnx"
    if not dst.exists():
        features_graph(src, dst, layers)
    return LayerFeatureEmbedder(base, dst, layers, poolings)
