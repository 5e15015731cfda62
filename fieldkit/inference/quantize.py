"""Per-token int8 rewrite of weight MatMuls: each row of activations gets its own scale.

Why per token: onnxruntime's DynamicQuantizeMatMul takes one activation scale for the whole
batch tensor, so a text's vector depended on the other texts in its batch and a long or
outlier-heavy neighbour cost a short text most of its precision ("Thank you!" fell to cosine
0.982 against sentence-transformers in a batch of 32, 0.988 alone). Here each token row is
scaled by its own max |x| (after SmoothQuant smoothing), quantized to uint8 around 128 and
multiplied with the int8 weights by MatMulInteger (u8 x s8, VNNI), then rescaled by the row
and per-channel weight scales: same-quality results whatever the batch. Projections that read
the same activation (Q, K and V) share one quantization.

The FFN down-projections (input = GELU output) are int8 too since v4: GELU output is at least
-0.17, so adding 0.17 makes it non-negative and it takes all 256 uint8 levels (zero point 0);
the constant 0.17 x W it adds is taken off the bias. Its few outlier channels (the largest
calibration maxima, OUTLIER_CHANNELS per layer) stay in a small float MatMul beside it, so one
huge channel does not set the whole row's scale (the LLM.int8() decomposition).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# GELU outputs feed the FFN down-projections. Symmetric int8 there cost min cosine 0.990 ->
# 0.980 on short dialogue turns; shifted to uint8 with these many outlier channels kept float it
# costs nothing measurable (bench/bench_embed.py --quality)
OUTLIER_CHANNELS = 8
GELU_FLOOR = 0.17  # erf GELU's minimum is -0.16997


def _smoothing(items, a_max: np.ndarray, alpha: float) -> np.ndarray:
    w_max = np.max(np.stack([np.abs(w).max(axis=1) for _, w in items]), axis=0)
    a_max = np.maximum(np.asarray(a_max, np.float32), 1e-5)
    return np.maximum(a_max ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha), 1e-5).astype(np.float32)


def _int8_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights and their float scales."""
    scale = np.maximum(np.abs(w).max(axis=0) / 127.0, 1e-12).astype(np.float32)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def rewrite_per_token(src: Path, dst: Path, amax: dict[str, np.ndarray],
                      alphas: dict[str, float] | None = None, default_alpha: float = 0.65,
                      outliers: int = OUTLIER_CHANNELS) -> int:
    """Write the per-token int8 rewrite of `src` to `dst`; returns how many MatMuls changed."""
    import onnx
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh

    from fieldkit.inference.graph_edit import _drop_dead, _weight_matmuls, simplify

    model = onnx.load(str(src))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list] = {}
    for nd in g.node:
        for i in nd.input:
            consumers.setdefault(i, []).append(nd)
    groups: dict[str, list] = {}
    for node, w in _weight_matmuls(model):
        if node.input[0] in amax:
            groups.setdefault(node.input[0], []).append((node, w))

    def const(name: str, value) -> str:
        g.initializer.append(nh.from_array(np.asarray(value), name))
        return name

    def insert_at(idx: int, nodes) -> None:
        for k, nd in enumerate(nodes):
            g.node.insert(idx + k, nd)

    def take_off_bias(out: str, corr: np.ndarray, n: str) -> None:
        adds = [c for c in consumers.get(out, []) if c.op_type == "Add"
                and any(i in inits for i in c.input)]
        if len(adds) != 1:
            raise ValueError(f"{n}: no single bias Add after the FFN down-projection")
        k, name = next((k, i) for k, i in enumerate(adds[0].input) if i in inits)
        adds[0].input[k] = const(n + "__bias_shifted", nh.to_array(inits[name]) - corr)

    changed = 0
    for x, items in groups.items():
        p = x + "__pt"
        first = min(list(g.node).index(n) for n, _ in items)
        down = items[0][1].shape[0] > items[0][1].shape[1]  # GELU output: >= -GELU_FLOOR
        if down:
            keep = np.sort(np.argsort(-np.asarray(amax[x]))[:outliers]).astype(np.int64)
            mask = np.ones(items[0][1].shape[0], np.float32)
            mask[keep] = 0
            smooth = np.ones_like(mask)
            levels, zero = 255, 0
            pre = [helper.make_node("Add", [x, const(p + "_floor", np.float32(GELU_FLOOR))], [p + "_x0"]),
                   helper.make_node("Mul", [p + "_x0", const(p + "_mask", mask)], [p + "_xs"]),
                   helper.make_node("ReduceMax", [p + "_xs"], [p + "_amax"], axes=[-1], keepdims=1)]
            if outliers:
                pre.append(helper.make_node("Gather", [x, const(p + "_keep", keep)], [p + "_xo"], axis=-1))
        else:
            smooth = _smoothing(items, amax[x], (alphas or {}).get(x, default_alpha))
            levels, zero = 127, 128
            pre = [helper.make_node("Mul", [x, const(p + "_sinv", 1.0 / smooth)], [p + "_xs"]),
                   helper.make_node("Abs", [p + "_xs"], [p + "_abs"]),
                   helper.make_node("ReduceMax", [p + "_abs"], [p + "_amax"], axes=[-1], keepdims=1)]
        pre += [
            helper.make_node("Max", [p + "_amax", const(p + "_eps", np.float32(1e-6))], [p + "_am"]),
            helper.make_node("Mul", [p + "_am", const(p + "_il", np.float32(1 / levels))], [p + "_scale"]),
            # x * (1/scale), then round + zero point + saturate in one QuantizeLinear: 4 passes
            # over the activations became 2 (int32 DequantizeLinear per axis measured slower
            # than Cast + Mul, so the output side stays as it was)
            helper.make_node("Reciprocal", [p + "_scale"], [p + "_inv"]),
            helper.make_node("Mul", [p + "_xs", p + "_inv"], [p + "_q0"]),
            helper.make_node("QuantizeLinear", [p + "_q0", const(p + "_one", np.float32(1)),
                                                const(p + "_zp", np.uint8(zero))], [p + "_q"])]
        insert_at(first, pre)
        for node, w in items:  # one wider GEMM with a Split measured slower here
            n, out = node.name, node.output[0]
            q, ws = _int8_columns(w * (mask[:, None] if down else smooth[:, None]))
            idx = list(g.node).index(node)
            g.node.remove(node)
            tail, int_out = [], out
            if down:
                take_off_bias(out, GELU_FLOOR * mask @ (q.astype(np.float32) * ws), n)
                if outliers:
                    int_out = n + "__int"
                    tail = [helper.make_node("MatMul", [p + "_xo", const(n + "__wkeep", w[keep])], [n + "__fo"]),
                            helper.make_node("Add", [int_out, n + "__fo"], [out])]
            insert_at(idx, [
                helper.make_node("MatMulInteger", [p + "_q", const(n + "__wq", q),
                                                   const(n + "__azp", np.uint8(zero)),
                                                   const(n + "__wzp", np.zeros(q.shape[1], np.int8))],
                                 [n + "__i32"]),
                helper.make_node("Cast", [n + "__i32"], [n + "__f"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [n + "__f", const(n + "__ws", ws)], [n + "__fw"]),
                helper.make_node("Mul", [n + "__fw", p + "_scale"], [int_out]),
            ] + tail)
            changed += 1
    simplify(g)
    _drop_dead(g)
    onnx.save(model, str(dst))
    return changed
