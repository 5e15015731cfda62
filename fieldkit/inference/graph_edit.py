"""Exact edits of an ONNX graph shared by the float smoothing (optimize.py) and the int8 rewrite (quantize.py).

Apart from both so that neither imports the other: finding the weight MatMuls, exact
simplifications onnxruntime does not make, and dropping nodes nobody reads.
"""

from __future__ import annotations

import numpy as np


def _weight_matmuls(model):
    """(MatMul node, float weight [K, N]) for each MatMul whose B is a weight (float or Cast*scale)."""
    from onnx import numpy_helper as nh

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    found = []
    for i, n in enumerate(g.node):
        if n.op_type != "MatMul":
            continue
        if not n.name:
            n.name = f"matmul_{i}"
        if n.input[1] in inits:  # a plain float weight (e.g. a fresh torch export)
            w = nh.to_array(inits[n.input[1]])
            if w.ndim == 2 and w.dtype == np.float32:
                found.append((n, w))
            continue
        if n.input[1] not in producer:
            continue
        mul = producer[n.input[1]]
        if mul.op_type != "Mul" or mul.input[1] not in inits:
            continue
        cast = producer.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
            continue
        w = nh.to_array(inits[cast.input[0]]).astype(np.float32) * nh.to_array(inits[mul.input[1]])
        if w.ndim == 2:
            found.append((n, w.astype(np.float32)))
    return found


def _const(g, name: str):
    from onnx import numpy_helper as nh

    for i in g.initializer:
        if i.name == name:
            return nh.to_array(i)
    for n in g.node:
        if n.op_type == "Constant" and n.output[0] == name and n.attribute:
            return nh.to_array(n.attribute[0].t)
    return None


def _is_const(g, name: str, value: float) -> bool:
    v = _const(g, name)
    return v is not None and v.size == 1 and abs(float(v.reshape(-1)[0]) - value) < 1e-6


def simplify(g) -> dict[str, int]:
    """Exact simplifications onnxruntime does not make on this exported graph.

    - erf GELU, x * 0.5 * (1 + erf(x / sqrt 2)), becomes one com.microsoft Gelu (same formula);
    - Where(IsNaN(softmax), 0, softmax) guards become the softmax itself: NaN only arises
      when every position of a row is masked, and every text we send has [CLS] and [SEP].
    """
    from onnx import helper

    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def only(name):
        c = consumers.get(name, [])
        return c[0] if len(c) == 1 else None

    def other(node, name):
        rest = [i for i in node.input if i != name]
        return rest[0] if len(rest) == 1 else None

    done = {"gelu": 0, "nan_guard": 0}
    for erf in [n for n in g.node if n.op_type == "Erf"]:
        div = producer.get(erf.input[0])
        if div is None or div.op_type != "Div" or not _is_const(g, div.input[1], 2 ** 0.5):
            continue
        x = div.input[0]
        add = only(erf.output[0])
        if add is None or add.op_type != "Add" or not _is_const(g, other(add, erf.output[0]) or "", 1.0):
            continue
        half = only(add.output[0])
        if half is None or half.op_type != "Mul" or not _is_const(g, other(half, add.output[0]) or "", 0.5):
            continue
        last = only(half.output[0])
        if last is None or last.op_type != "Mul" or other(last, half.output[0]) != x:
            continue
        idx = list(g.node).index(last)
        g.node.insert(idx, helper.make_node("Gelu", [x], [last.output[0]], name=erf.name + "__gelu",
                                            domain="com.microsoft"))
        for n in (div, erf, add, half, last):
            g.node.remove(n)
        done["gelu"] += 1
    for where in [n for n in g.node if n.op_type == "Where"]:
        isnan = producer.get(where.input[0])
        if isnan is None or isnan.op_type != "IsNaN" or isnan.input[0] != where.input[2]:
            continue
        soft = producer.get(where.input[2])
        if soft is None or soft.op_type != "Softmax" or not _is_const(g, where.input[1], 0.0):
            continue
        for c in consumers.get(where.output[0], []):
            for k, name in enumerate(c.input):
                if name == where.output[0]:
                    c.input[k] = soft.output[0]
        g.node.remove(where)
        done["nan_guard"] += 1
    return done


def _drop_dead(g) -> None:
    while True:
        needed = {o.name for o in g.output} | {i for n in g.node for i in n.input}
        dead = [n for n in g.node if not any(o in needed for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    used = {i for n in g.node for i in n.input}
    for init in [i for i in g.initializer if i.name not in used]:
        g.initializer.remove(init)
