"""Exact float-graph edits made before the int8 rewrite, each removing a pass over the activations.

Why: after v8 the CPU time of MiniLM on short texts is a long tail of element-wise passes
(bias adds, transposes, masks, gathers), each about as costly as GELU. These edits give the same
function in exact arithmetic (fp32 rounding aside) with fewer of them:

- the key bias is dropped: q . (k_j + b) = q . k_j + q . b, the same shift for every j of a
  softmax row, which softmax ignores;
- (optional, not in the int8 rewrite) the value bias moves past the attention and the output
  projection: softmax rows sum to 1, so P (V + b) Wo + bo = P V Wo + (b Wo + bo);
- the key's Transpose -> Reshape -> Transpose -> Reshape (the exporter's K^T) becomes one Transpose;
- the FFN's outlier channels (the few GELU outputs kept in float beside the int8 down-projection)
  get their own narrow up-projection and GELU, so the wide path needs no mask and no Gather;
- chains of Adds read by nothing else become one Sum.
"""

from __future__ import annotations

import numpy as np

_PASS_THROUGH = {"Reshape", "Transpose", "Mul", "Div"}


def _maps(g):
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return producer, consumers


def _bias_add(g, name: str, consumers, inits):
    """The Add that adds a 1-D initializer to `name`, when it is `name`'s only reader."""
    readers = consumers.get(name, [])
    if len(readers) != 1 or readers[0].op_type != "Add":
        return None, None
    add = readers[0]
    other = [i for i in add.input if i != name]
    if len(other) != 1 or other[0] not in inits or len(inits[other[0]].dims) != 1:
        return None, None
    return add, other[0]


def _follow(name: str, consumers, consts, graph_outputs):
    """Walk single-reader Reshape/Transpose/(Mul|Div by a constant) nodes; (last name, next node)."""
    while True:
        readers = consumers.get(name, [])
        if len(readers) != 1 or name in graph_outputs:
            return name, None
        n = readers[0]
        if n.op_type not in _PASS_THROUGH or n.input[0] != name:
            return name, n
        if n.op_type in ("Mul", "Div") and n.input[1] not in consts:
            return name, n
        name = n.output[0]


def _rewire(g, old: str, new: str) -> None:
    for n in g.node:
        for k, i in enumerate(n.input):
            if i == old:
                n.input[k] = new


def fold_attention_biases(model, value: bool = True) -> dict[str, int]:
    """Drop the key bias and, with `value`, move the value bias into the output projection's (exact).

    The int8 rewrite passes value=False: moving the value bias shifts the attention context the
    output projection quantizes, and dialogue turns fell to min cosine 0.9898 (v8: 0.9908).
    """
    from onnx import numpy_helper as nh

    from fieldkit.inference.graph_edit import _weight_matmuls

    g = model.graph
    weights = {n.name: (n, w) for n, w in _weight_matmuls(model)}
    inits = {i.name: i for i in g.initializer}
    consts = set(inits) | {n.output[0] for n in g.node if n.op_type == "Constant"}
    outputs = {o.name for o in g.output}
    producer, consumers = _maps(g)
    done = {"key_bias": 0, "value_bias": 0}
    for node, _ in list(weights.values()):
        add, bias = _bias_add(g, node.output[0], consumers, inits)
        if add is None:
            continue
        end, mm = _follow(add.output[0], consumers, consts, outputs)
        if mm is None or mm.op_type != "MatMul" or mm.input[1] != end or mm.name in weights:
            continue
        left = producer.get(mm.input[0])
        while left is not None and left.op_type in ("Where", "Reshape", "Transpose"):
            left = producer.get(left.input[2] if left.op_type == "Where" else left.input[0])
        if left is not None and left.op_type == "Softmax":  # mm = P @ V
            if not value:
                continue
            ctx_end, proj = _follow(mm.output[0], consumers, consts, outputs)
            if proj is None or proj.name not in weights or proj.input[0] != ctx_end:
                continue
            out_add, out_bias = _bias_add(g, proj.output[0], consumers, inits)
            if out_add is None:
                continue
            bv = nh.to_array(inits[bias]).astype(np.float64)
            bo = nh.to_array(inits[out_bias]).astype(np.float64)
            folded = (bo + bv @ weights[proj.name][1].astype(np.float64)).astype(np.float32)
            new = nh.from_array(folded, out_bias + "__with_value_bias")
            g.initializer.append(new)
            out_add.input[list(out_add.input).index(out_bias)] = new.name
            done["value_bias"] += 1
        else:  # mm = Q @ K^T when its result reaches a softmax through adds and scalings only
            cur, hops = mm, 0
            while cur is not None and cur.op_type != "Softmax" and hops < 4:
                readers = consumers.get(cur.output[0], [])
                cur = readers[0] if len(readers) == 1 and readers[0].op_type in (
                    "Add", "Mul", "Div", "Softmax") else None
                hops += 1
            if cur is None or cur.op_type != "Softmax" or cur.attribute and any(
                    a.name == "axis" and a.i not in (-1, 3) for a in cur.attribute):
                continue
            done["key_bias"] += 1
        _rewire(g, add.output[0], node.output[0])
        g.node.remove(add)
        producer, consumers = _maps(g)
    return done


def _perm(node):
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


def single_key_transpose(g) -> int:
    """Transpose(0,2,1,3) -> Reshape 3-D -> Transpose(0,2,1) -> Reshape 4-D becomes Transpose(0,2,3,1)."""
    from onnx import helper

    producer, _ = _maps(g)
    done = 0
    for t2 in [n for n in g.node if n.op_type == "Transpose" and _perm(n) == [0, 2, 1]]:
        r1 = producer.get(t2.input[0])
        t1 = producer.get(r1.input[0]) if r1 is not None and r1.op_type == "Reshape" else None
        if t1 is None or t1.op_type != "Transpose" or _perm(t1) != [0, 2, 1, 3]:
            continue
        readers = [n for n in g.node if t2.output[0] in n.input]
        if len(readers) != 1 or readers[0].op_type != "Reshape":
            continue
        r2 = readers[0]
        idx = list(g.node).index(r2)
        g.node.remove(r2)
        g.node.insert(idx, helper.make_node("Transpose", [t1.input[0]], [r2.output[0]],
                                            name=r2.name + "__kt", perm=[0, 2, 3, 1]))
        done += 1
    return done


def split_ffn_outliers(model, amax: dict[str, np.ndarray], outliers: int) -> dict[str, np.ndarray]:
    """Give the FFN's `outliers` largest GELU channels their own narrow up-projection, GELU and
    float down-projection; returns the activation maxima with the wide path's names narrowed.

    Expects com.microsoft Gelu (graph_edit.simplify first). The wide path then quantizes its
    GELU output whole: no mask pass and no Gather of the kept channels.
    """
    from onnx import helper
    from onnx import numpy_helper as nh

    from fieldkit.inference.graph_edit import _weight_matmuls

    if outliers <= 0:
        return amax
    g = model.graph
    weights = {n.name: w for n, w in _weight_matmuls(model)}
    inits = {i.name: i for i in g.initializer}
    producer, consumers = _maps(g)
    amax = dict(amax)
    for down in [n for n in g.node if n.name in weights]:
        x = down.input[0]
        w_down = weights[down.name]
        gelu = producer.get(x)
        if x not in amax or w_down.shape[0] <= w_down.shape[1] or gelu is None \
                or gelu.op_type != "Gelu" or len(consumers.get(x, [])) != 1:
            continue
        add = producer.get(gelu.input[0])
        if add is None or add.op_type != "Add":
            continue
        up_out, b_name = (add.input[0], add.input[1]) if add.input[1] in inits else (add.input[1], add.input[0])
        up = producer.get(up_out)
        if up is None or up.name not in weights or b_name not in inits or \
                len(consumers.get(up_out, [])) != 1 or len(consumers.get(add.output[0], [])) != 1:
            continue
        w_up, b_up = weights[up.name], nh.to_array(inits[b_name])
        k = w_down.shape[0]
        keep = np.sort(np.argsort(-np.asarray(amax[x]))[:outliers])
        rest = np.setdiff1d(np.arange(k), keep)
        p = down.name + "__split"

        def init(name, value):
            g.initializer.append(nh.from_array(np.ascontiguousarray(value, np.float32), name))
            return name

        up.input[1] = init(p + "_wup", w_up[:, rest])
        add.input[list(add.input).index(b_name)] = init(p + "_bup", b_up[rest])
        down.input[1] = init(p + "_wdown", w_down[rest])
        out = down.output[0]
        down.output[0] = p + "_wide"
        idx = list(g.node).index(down) + 1
        for j, nd in enumerate([
                helper.make_node("MatMul", [up.input[0], init(p + "_wup_o", w_up[:, keep])], [p + "_ho"],
                                 name=p + "_up_o"),
                helper.make_node("Add", [p + "_ho", init(p + "_bup_o", b_up[keep])], [p + "_hbo"]),
                helper.make_node("Gelu", [p + "_hbo"], [p + "_go"], domain="com.microsoft"),
                helper.make_node("MatMul", [p + "_go", init(p + "_wdown_o", w_down[keep])], [p + "_fo"],
                                 name=p + "_down_o"),
                helper.make_node("Add", [p + "_wide", p + "_fo"], [out])]):
            g.node.insert(idx + j, nd)
        amax[x] = np.asarray(amax[x])[rest]
        narrowed = {up_out, add.output[0], x}
        for vi in [v for v in g.value_info if v.name in narrowed]:  # their recorded width is stale
            g.value_info.remove(vi)
        producer, consumers = _maps(g)
    return amax


def sum_add_chains(g) -> int:
    """Add(Add(a, b), c) whose inner result nobody else reads becomes Sum(a, b, c) (one pass)."""
    from onnx import helper

    outputs = {o.name for o in g.output}
    merged = 0
    while True:
        producer, consumers = _maps(g)
        pair = None
        for n in g.node:
            if n.op_type not in ("Add", "Sum"):
                continue
            readers = consumers.get(n.output[0], [])
            if len(readers) == 1 and readers[0].op_type in ("Add", "Sum") and n.output[0] not in outputs:
                pair = (n, readers[0])
                break
        if pair is None:
            return merged
        inner, outer = pair
        ins = list(inner.input) + [i for i in outer.input if i != inner.output[0]]
        idx = list(g.node).index(outer)
        g.node.remove(outer)
        g.node.insert(idx, helper.make_node("Sum", ins, [outer.output[0]], name=outer.name + "__sum"))
        g.node.remove(inner)
        merged += 1


def _walk_back(name: str, producer, ops: tuple[str, ...]):
    """Nodes of the given kinds walked back from `name` through their first input; (name, nodes)."""
    walked = []
    node = producer.get(name)
    while node is not None and node.op_type in ops:
        walked.append(node)
        name = node.input[0]
        node = producer.get(name)
    return name, walked


def value_projection(g, context: str, weight_names: set[str]):
    """(value MatMul, its bias Add or None) whose output reaches `context` = softmax(...) @ V only
    through Reshapes and Transposes, so a per-channel scale of `context` is one of V's columns."""
    producer, _ = _maps(g)
    name, walked = _walk_back(context, producer, ("Reshape", "Transpose"))
    pv = producer.get(name)
    if pv is None or pv.op_type != "MatMul" or len(walked) != 2 or \
            [n.op_type for n in walked] != ["Reshape", "Transpose"] or _perm(walked[1]) != [0, 2, 1, 3]:
        return None
    probs, _ = _walk_back(pv.input[0], producer, ("Reshape", "Transpose"))
    if producer.get(probs) is None or producer[probs].op_type != "Softmax":
        return None
    raw, walked = _walk_back(pv.input[1], producer, ("Transpose", "Reshape", "Add"))
    kinds = [n.op_type for n in walked]
    if kinds not in (["Transpose", "Reshape"], ["Transpose", "Reshape", "Add"]) or \
            _perm(walked[0]) != [0, 2, 1, 3]:
        return None
    proj = producer.get(raw)
    if proj is None or proj.name not in weight_names:
        return None
    return proj, (walked[2] if len(walked) == 3 else None)


def drop_padding_mask(g, mask_input: str = "attention_mask") -> int:
    """Remove the attention's padding mask (the Add before each Softmax) and the graph input it came
    from; returns how many softmaxes it unmasked, 0 when the mask reaches anything else.

    Why: without the mask Adds on every [B, heads, S, S] score tensor the int8 graph took 5-15%
    less CPU on short texts (1,000 survey answers). The graph is then only right for batches
    without padding, which the embedder makes (texts of equal token counts per batch) when the
    graph has no mask input.
    """
    if mask_input not in {i.name for i in g.input}:
        return 0
    producer, consumers = _maps(g)
    adds = {}  # Add -> Softmax it feeds alone
    for sm in [n for n in g.node if n.op_type == "Softmax"]:
        add = producer.get(sm.input[0])
        if add is not None and add.op_type == "Add" and len(consumers.get(add.output[0], [])) == 1:
            adds[id(add)] = (add, sm)
    tainted, frontier = {mask_input}, [mask_input]  # what the mask reaches before those Adds
    while frontier:
        for n in consumers.get(frontier.pop(), []):
            for o in ([] if id(n) in adds else n.output):
                if o not in tainted:
                    tainted.add(o)
                    frontier.append(o)
    targets = []
    for add, sm in adds.values():
        kept = [i for i in add.input if i not in tainted]
        if len(kept) == 1 and len(add.input) == 2:
            targets.append((add, sm, kept[0]))
    removed = {id(a) for a, _, _ in targets}
    outputs = {o.name for o in g.output}
    for n in g.node:  # any other reader of the mask: keep it all
        if id(n) in removed or not any(i in tainted for i in n.input):
            continue
        if any(o in outputs or any(c for c in consumers.get(o, []) if not any(i in tainted for i in c.input)
                                   and id(c) not in removed) for o in n.output):
            return 0
    if not targets:
        return 0
    for add, sm, kept in targets:
        sm.input[0] = kept
        g.node.remove(add)
    from fieldkit.inference.graph_edit import _drop_dead

    _drop_dead(g)
    if any(mask_input in n.input for n in g.node):
        raise ValueError("the padding mask is still read after dropping it")  # guarded above
    g.input.remove(next(i for i in g.input if i.name == mask_input))
    return len(targets)


def flatten_tokens(model) -> bool:
    """Run every per-token op on a [tokens, D] view (only the attention reshapes to 4-D);
    returns False, changing nothing, where the graph is not laid out that way.

    Why: the per-row int8 quantization needs its input 2-D, so on [B, S, D] each of its 24
    sites reshaped there and back (three Reshapes and a Shape each); on the flat view none do.
    """
    from onnx import helper
    from onnx import numpy_helper as nh

    from fieldkit.inference.graph_edit import _const

    g = model.graph
    norms = [n for n in g.node if n.op_type == "LayerNormalization"]
    if not norms or len(g.output) != 1 or "input_ids" not in {i.name for i in g.input}:
        return False
    gamma = _const(g, norms[0].input[1])
    producer, consumers = _maps(g)
    views = []
    for n in g.node:
        shape = producer.get(n.input[1]) if n.op_type == "Reshape" else None
        if shape is not None and shape.op_type == "Concat" and len(shape.input) == 3:
            last = _const(g, shape.input[2])
            if last is not None and last.size == 1 and int(last.reshape(-1)[0]) == -1:
                views.append(n)
    out = g.output[0].name
    if gamma is None or not views or producer.get(out) is not norms[-1]:
        return False
    d = int(gamma.size)
    g.initializer.append(nh.from_array(np.array([-1, d], np.int64), "__fk_2d"))
    g.initializer.append(nh.from_array(np.array([-1], np.int64), "__fk_last"))
    for n in views:
        n.input[1] = "__fk_2d"
    first = norms[0]
    g.node.insert(list(g.node).index(first), helper.make_node(
        "Reshape", [first.input[0], "__fk_2d"], [first.input[0] + "__2d"], name="__fk_flatten"))
    first.input[0] = first.input[0] + "__2d"
    norms[-1].output[0] = out + "__2d"
    _rewire(g, out, out + "__2d")
    g.node.extend([
        helper.make_node("Shape", ["input_ids"], ["__fk_bs"]),
        helper.make_node("Concat", ["__fk_bs", "__fk_last"], ["__fk_bsd"], axis=0),
        helper.make_node("Reshape", [out + "__2d", "__fk_bsd"], [out], name="__fk_unflatten")])
    del g.value_info[:]  # recorded 3-D shapes are stale; onnxruntime infers them again
    return True
