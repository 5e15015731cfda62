"""Per-token int8 rewrite of weight MatMuls: each row of activations gets its own scale.

Why per token: onnxruntime's DynamicQuantizeMatMul takes one activation scale for the whole
batch tensor, so a text's vector depended on the other texts in its batch and a long or
outlier-heavy neighbour cost a short text most of its precision ("Thank you!" fell to cosine
0.982 against sentence-transformers in a batch of 32, 0.988 alone). Here each token row is
scaled by its own max |x| (after SmoothQuant smoothing), quantized to uint8 around 128 and
multiplied with the int8 weights (u8 x s8, VNNI) by com.microsoft MatMulIntegerToFloat, whose
GEMM output step applies the per-channel weight scales and which then applies the row scales:
same-quality results whatever the batch. Projections that read the same activation (Q, K and
V) share one quantization.

The FFN down-projections (input = GELU output) are int8 too since v4. GELU output is at least
-0.17; since v6 the zero point is GELU_ZERO_POINT instead of 0 after adding 0.17 (one pass
fewer): the levels below it cover the floor, those above it the row's largest value. Its few
outlier channels (the largest calibration maxima, OUTLIER_CHANNELS per layer) stay in a small
float MatMul beside it, so one huge channel does not set the whole row's scale (the LLM.int8()
decomposition). Since v9 (graph_fold.split_ffn_outliers) those channels have their own narrow
up-projection and GELU, so the wide path is quantized whole, with no mask pass and no Gather.
Since v10 the attention context needs no smoothing pass (folded into V) and the graph has no
padding mask (graph_fold.drop_padding_mask; the embedder batches texts of equal token counts).
Since v11 the token states stay flat, [tokens, D] (graph_fold.flatten_tokens): the quantization
sites need no reshapes, 69 nodes fewer per run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# GELU outputs feed the FFN down-projections. Symmetric int8 there cost min cosine 0.990 ->
# 0.980 on short dialogue turns; uint8 with these many outlier channels kept float costs
# nothing measurable. bench/cv_embed_recipe.py scores both numbers leaving one text set out
OUTLIER_CHANNELS = 4  # picked in 6 of 6 leave-one-set-out folds (bench/cv_embed_recipe.py)
GELU_ZERO_POINT = 16
GELU_FLOOR = 0.17  # GELU's minimum: -0.16997 (erf form), -0.17004 (tanh form, FastGelu)
# which GELU runs: "tanh" (com.microsoft FastGelu, the bias add fused in) or "erf" (exact)
GELU_FORM = "tanh"
# how a symmetric row's max |x| is found: "abs" (Abs + ReduceMax) or "minmax" (ReduceMax, ReduceMin)
ABSMAX = "minmax"


def _smoothing(items, a_max: np.ndarray, alpha: float) -> np.ndarray:
    w_max = np.max(np.stack([np.abs(w).max(axis=1) for _, w in items]), axis=0)
    a_max = np.maximum(np.asarray(a_max, np.float32), 1e-5)
    return np.maximum(a_max ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha), 1e-5).astype(np.float32)


def _int8_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights and their float scales."""
    scale = np.maximum(np.abs(w).max(axis=0) / 127.0, 1e-12).astype(np.float32)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def _quantize_rows(p: str, x: str, k: int, zero: int, scale: str, const, helper,
                   zero_points: str | None = None, flat: bool = False) -> list:
    """Nodes quantizing `x` [.., k] to uint8 with one scale per row (QuantizeLinear on a 2-D view).

    One QuantizeLinear per axis over [rows, k] replaces Reciprocal + Mul + QuantizeLinear: one
    pass over the activations fewer (its zero point must be per row too, hence the Expand).
    `flat`: `x` is already [rows, k] (graph_fold.flatten_tokens), so no reshape there and back.
    """
    if flat and zero_points:
        return [helper.make_node("Reshape", [scale, const(p + "_flat", np.array([-1], np.int64))], [p + "_s1"]),
                helper.make_node("QuantizeLinear", [x, p + "_s1", zero_points], [p + "_q"], axis=0)]
    zp = [] if zero_points else [
        helper.make_node("Shape", [p + "_s1"], [p + "_rows"]),
        helper.make_node("Expand", [const(p + "_zp1", np.array([zero], np.uint8)), p + "_rows"], [p + "_zpr"])]
    return [
        helper.make_node("Reshape", [x, const(p + "_2d", np.array([-1, k], np.int64))], [p + "_x2"]),
        helper.make_node("Reshape", [scale, const(p + "_flat", np.array([-1], np.int64))], [p + "_s1"]),
        *zp,
        helper.make_node("QuantizeLinear", [p + "_x2", p + "_s1", zero_points or p + "_zpr"], [p + "_q2"],
                         axis=0),
        helper.make_node("Shape", [x], [p + "_shape"]),
        helper.make_node("Reshape", [p + "_q2", p + "_shape"], [p + "_q"])]


def _fast_gelu(g) -> int:
    """Bias + erf GELU becomes com.microsoft FastGelu(x, bias), GELU's tanh form.

    Why: the erf kernel took 13% of the CPU time; the tanh form differs from it by under 1e-3
    and keeps every text's min cosine >= 0.99 (bench/cv_embed_recipe.py --gelu erf,tanh).
    """
    inits = {i.name for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    done = 0
    for node in [n for n in g.node if n.op_type == "Gelu" and n.domain == "com.microsoft"]:
        add = producer.get(node.input[0])
        if add is None or add.op_type != "Add" or add.input[1] not in inits:
            continue
        node.op_type = "FastGelu"
        del node.input[:]
        node.input.extend([add.input[0], add.input[1]])
        done += 1
    return done


def _fold_context_smoothing(model, groups, amax, alphas, default_alpha, const):
    """({V MatMul: column scale}, {context: its smoothing}) for each attention context whose
    output projection's smoothing goes into V's columns and bias instead of a Mul pass (v10).

    Exact: the context is softmax(...) @ V up to reshapes, so dividing its channels by s is
    dividing V's columns by s; symmetric per-column int8 then only scales V's column scales.
    """
    from onnx import numpy_helper as nh

    from fieldkit.inference import graph_fold
    from fieldkit.inference.graph_edit import _weight_matmuls

    g = model.graph
    names = {n.name for n, _ in _weight_matmuls(model)}
    inits = {i.name: i for i in g.initializer}
    col_scale, pre_smoothed = {}, {}
    for x, items in groups.items():
        found = graph_fold.value_projection(g, x, names)
        if found is None or items[0][1].shape[0] > items[0][1].shape[1]:
            continue
        v, bias_add = found
        smooth = _smoothing(items, amax[x], (alphas or {}).get(x, default_alpha))
        pre_smoothed[x] = smooth
        col_scale[v.name] = 1.0 / smooth
        if bias_add is not None:
            b = next(i for i in bias_add.input if i in inits)
            bias_add.input[list(bias_add.input).index(b)] = const(
                b + "__smoothed", (nh.to_array(inits[b]) / smooth).astype(np.float32))
    return col_scale, pre_smoothed


def rewrite_per_token(src: Path, dst: Path, amax: dict[str, np.ndarray],
                      alphas: dict[str, float] | None = None, default_alpha: float = 0.65,
                      outliers: int = OUTLIER_CHANNELS, gelu_zero: int = GELU_ZERO_POINT,
                      gelu: str = GELU_FORM, fold: bool = True,
                      fold_context: bool = True, unpadded: bool = True, flatten: bool = True) -> int:
    """Write the per-token int8 rewrite of `src` to `dst`; returns how many MatMuls changed.

    `fold` makes graph_fold's exact edits first (v9): the FFN outlier channels then come from
    their own narrow path and the wide one is quantized whole. With `fold`, v10 adds two:
    `fold_context` divides V's columns by the output projection's smoothing (no Mul pass on the
    attention context), `unpadded` drops the padding mask (the graph then takes no
    attention_mask and the embedder sends batches of equal token counts); v11's `flatten` keeps
    the token states [tokens, D] between the attentions.
    """
    import onnx
    from onnx import helper
    from onnx import numpy_helper as nh

    from fieldkit.inference.graph_edit import _drop_dead, _weight_matmuls, simplify

    model = onnx.load(str(src))
    g = model.graph
    flat = False
    if fold:
        from fieldkit.inference import graph_fold

        simplify(g)  # com.microsoft Gelu, which split_ffn_outliers expects
        graph_fold.single_key_transpose(g)
        _drop_dead(g)
        graph_fold.fold_attention_biases(model, value=False)
        amax = graph_fold.split_ffn_outliers(model, amax, outliers)
        outliers = 0
        flat = flatten and graph_fold.flatten_tokens(model)
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

    col_scale: dict[str, np.ndarray] = {}
    pre_smoothed: dict[str, np.ndarray] = {}
    if fold and fold_context:
        col_scale, pre_smoothed = _fold_context_smoothing(model, groups, amax, alphas, default_alpha, const)
    shared: dict[int, str] = {}

    def zero_points(zero: int) -> str | None:
        """One per-row zero-point vector per zero point, from the token count (v9; was one per use)."""
        if not fold:
            return None
        if zero not in shared:
            ids, rows, name = g.input[0].name, "__fk_rows", f"__fk_zp{zero}"
            nodes = [] if shared else [
                helper.make_node("Reshape", [ids, const("__fk_flat", np.array([-1], np.int64))], ["__fk_ids"]),
                helper.make_node("Shape", ["__fk_ids"], [rows])]
            insert_at(0, nodes + [helper.make_node(
                "Expand", [const(name + "_1", np.array([zero], np.uint8)), rows], [name])])
            shared[zero] = name
        return shared[zero]

    changed = 0
    for x, items in groups.items():
        p = x + "__pt"
        first = min(list(g.node).index(n) for n, _ in items)
        k = items[0][1].shape[0]
        down = k > items[0][1].shape[1]  # GELU output: >= -GELU_FLOOR
        if down:
            keep = np.sort(np.argsort(-np.asarray(amax[x]))[:outliers]).astype(np.int64)
            mask = np.ones(k, np.float32)
            mask[keep] = 0
            smooth = np.ones_like(mask)
            zero = gelu_zero
            # the row's scale covers its largest non-outlier value with the levels above the zero
            # point and GELU's floor with the levels below it (never clipped)
            xs = p + "_xs" if outliers else x  # no outlier channel here: nothing to mask
            pre = [helper.make_node("Mul", [x, const(p + "_mask", mask)], [xs])] if outliers else []
            pre += [helper.make_node("ReduceMax", [xs], [p + "_amax"], axes=[-1], keepdims=1),
                   helper.make_node("Mul", [p + "_amax", const(p + "_il", np.float32(1 / (255 - zero)))],
                                    [p + "_s0"]),
                   helper.make_node("Max", [p + "_s0", const(p + "_smin", np.float32(GELU_FLOOR / zero))],
                                    [p + "_scale"])]
            if outliers:
                pre.append(helper.make_node("Gather", [x, const(p + "_keep", keep)], [p + "_xo"], axis=-1))
        elif x in pre_smoothed:  # already divided by its smoothing inside V's columns
            smooth, zero, xs, pre = pre_smoothed[x], 128, x, []
        else:
            smooth = _smoothing(items, amax[x], (alphas or {}).get(x, default_alpha))
            zero = 128
            xs = p + "_xs"
            pre = [helper.make_node("Mul", [x, const(p + "_sinv", 1.0 / smooth)], [xs])]
        if not down:
            if fold and ABSMAX == "minmax":  # max|x| as max(max x, -min x): two reads, no Abs copy
                pre += [helper.make_node("ReduceMax", [xs], [p + "_hi"], axes=[-1], keepdims=1),
                        helper.make_node("ReduceMin", [xs], [p + "_lo"], axes=[-1], keepdims=1),
                        helper.make_node("Neg", [p + "_lo"], [p + "_nlo"]),
                        helper.make_node("Max", [p + "_hi", p + "_nlo", const(p + "_eps", np.float32(1e-6))],
                                         [p + "_am"])]
            else:
                pre += [helper.make_node("Abs", [xs], [p + "_abs"]),
                        helper.make_node("ReduceMax", [p + "_abs"], [p + "_amax"], axes=[-1], keepdims=1),
                        helper.make_node("Max", [p + "_amax", const(p + "_eps", np.float32(1e-6))], [p + "_am"])]
            pre.append(helper.make_node("Mul", [p + "_am", const(p + "_il", np.float32(1 / 127))], [p + "_scale"]))
        insert_at(first, pre + _quantize_rows(p, xs, k, zero, p + "_scale", const, helper,
                                              zero_points(zero), flat))
        for node, w in items:  # one wider GEMM with a Split measured slower here (again in v10: -5%)
            n, out = node.name, node.output[0]
            q, ws = _int8_columns(w * (mask[:, None] if down else smooth[:, None]))
            if n in col_scale:  # symmetric per-column int8: scaling a column scales only its scale
                ws = (ws * col_scale[n]).astype(np.float32)
            idx = list(g.node).index(node)
            g.node.remove(node)
            tail, int_out = [], out
            if down and outliers:
                int_out = n + "__int"
                tail = [helper.make_node("MatMul", [p + "_xo", const(n + "__wkeep", w[keep])], [n + "__fo"]),
                        helper.make_node("Add", [int_out, n + "__fo"], [out])]
            # (q - zero) x int8 weights, times the weight column scales inside the GEMM's output
            # step, then times the row scales: no int32 tensor, no Cast, two passes fewer
            insert_at(idx, [helper.make_node(
                "MatMulIntegerToFloat",
                [p + "_q", const(n + "__wq", q), p + "_scale", const(n + "__ws", ws),
                 const(n + "__azp", np.uint8(zero))],
                [int_out], name=n + "__int8", domain="com.microsoft")] + tail)
            changed += 1
    simplify(g)
    if gelu == "tanh":
        _fast_gelu(g)
    if fold:
        graph_fold.sum_add_chains(g)
        if unpadded:
            graph_fold.drop_padding_mask(g)
    _drop_dead(g)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return changed
