"""GGUF -> ONNX converter: exact block mapping, Q/K un-permutation, and whole-model parity.

Tiny Llama and Qwen2 GGUF files are written here with the `gguf` writer (random weights in
llama.cpp's layout) and the converted ONNX graph is compared, token by token over the KV
cache, with a plain numpy Llama forward pass. The real SmolLM2 file checks the block mapping.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from fieldkit.errors import ModelError
from fieldkit.inference import gguf_onnx
from fieldkit.inference.gguf_onnx import QWeight, load_qweight, quantize_blocks
from tests.unit.gguf_support import smollm_gguf


def llamacpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp convert_hf_to_gguf's permutation of Q/K rows (HF rotate-half -> interleaved)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# ------------------------------------------------------------------ block mapping (real file)

def test_q4_1_blocks_carry_over_exactly():
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(smollm_gguf()))
    by_name = {t.name: t for t in reader.tensors}
    # (Q8_0 is checked exactly by the tiny-model tests; the 49k-row embedding is slow to dequantize)
    for name in ("blk.0.ffn_down.weight", "blk.7.attn_q.weight"):
        t = by_name[name]
        q = load_qweight(t)
        assert q.exact and q.bits == 4 and t.tensor_type.name == "Q4_1"
        want = dequantize(np.asarray(t.data), t.tensor_type).reshape(q.n, q.k)
        # the carried-over blocks give the same weights (up to float32 rounding of m + 8d)
        np.testing.assert_allclose(q.dequantize(), want, rtol=0, atol=1e-6)


def test_unpermute_undoes_llamacpp_permutation():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3 * 8, 5))
    stored = llamacpp_permute(w, 3)
    assert not np.array_equal(stored, w)
    np.testing.assert_array_equal(stored[gguf_onnx._unpermute_index(24, 3)], w)


def test_requantized_blocks_stay_within_half_a_step():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 128)).astype(np.float32)
    for bits in (4, 8):
        q = quantize_blocks(w, bits)
        err = np.abs(q.dequantize() - w).reshape(16, 4, 32).max(axis=2)
        assert np.all(err <= q.scales * 0.5 + 1e-6)
        assert not q.exact


# ------------------------------------------------------------------ tiny models end to end

D, NH, NKV, HD, FF, NL, V = 64, 4, 2, 16, 128, 2, 96


def _rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _rope(x, pos, theta, factors=None):
    half = x.shape[-1] // 2
    inv = 1.0 / theta ** (np.arange(0, 2 * half, 2) / (2 * half))
    if factors is not None:
        inv = inv / factors
    ang = pos[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


def reference_logits(w: dict, ids: list[int], theta: float, eps: float, factors=None) -> np.ndarray:
    """Logits at every position of a plain causal Llama forward pass in float64 (HF layout)."""
    s = len(ids)
    h = w["emb"][ids].astype(np.float64)
    pos = np.arange(s, dtype=np.float64)
    mask = np.triu(np.full((s, s), -np.inf), 1)
    for i in range(NL):
        L = w["layers"][i]
        x = _rms(h, L["n1"], eps)
        q = (x @ L["q"].T + L.get("bq", 0)).reshape(s, NH, HD)
        k = (x @ L["k"].T + L.get("bk", 0)).reshape(s, NKV, HD)
        v = (x @ L["v"].T + L.get("bv", 0)).reshape(s, NKV, HD)
        q, k = _rope(q, pos, theta, factors), _rope(k, pos, theta, factors)
        out = np.zeros((s, NH, HD))
        for hh in range(NH):
            kv = hh // (NH // NKV)
            sc = q[:, hh] @ k[:, kv].T / np.sqrt(HD) + mask
            p = np.exp(sc - sc.max(-1, keepdims=True))
            out[:, hh] = (p / p.sum(-1, keepdims=True)) @ v[:, kv]
        h = h + out.reshape(s, D) @ L["o"].T
        x = _rms(h, L["n2"], eps)
        g = x @ L["gate"].T
        h = h + ((g / (1 + np.exp(-g))) * (x @ L["up"].T)) @ L["down"].T
    return _rms(h, w["nout"], eps) @ w["out"].T


def write_tiny_gguf(path, arch: str, wtype: str, tied: bool, bias: bool, theta: float, freq_factors=None,
                    tokenizer: bool = False, emb_type: str = "Q8_0"):
    """A random tiny model as GGUF; returns its weights as stored, dequantized, in HF layout.

    With `tokenizer`, a byte-level vocabulary of the 96 printable ASCII bytes (no merges).
    """
    from gguf import GGMLQuantizationType as T
    from gguf import GGUFWriter
    from gguf.quants import dequantize, quantize

    rng = np.random.default_rng(42)
    eps = 1e-5
    wr = GGUFWriter(str(path), arch)
    wr.add_block_count(NL)
    wr.add_context_length(256)
    wr.add_embedding_length(D)
    wr.add_feed_forward_length(FF)
    wr.add_head_count(NH)
    wr.add_head_count_kv(NKV)
    wr.add_rope_freq_base(theta)
    wr.add_layer_norm_rms_eps(eps)
    wr.add_vocab_size(V)
    wr.add_rope_dimension_count(HD)
    if tokenizer:
        wr.add_tokenizer_model("gpt2")
        wr.add_tokenizer_pre("default")
        wr.add_token_list([_byte_char(b) for b in range(32, 32 + V)])
        wr.add_token_types([1] * V)
        wr.add_token_merges([])
        wr.add_eos_token_id(V - 1)
    qtype = getattr(T, wtype)

    def put(name, w_hf, qt, permute_heads=None):
        stored = llamacpp_permute(w_hf, permute_heads) if permute_heads else w_hf
        stored = stored.astype(np.float32)
        if qt == T.F32:
            wr.add_tensor(name, stored)
            back = stored
        elif qt == T.F16:
            wr.add_tensor(name, stored.astype(np.float16))
            back = stored.astype(np.float16).astype(np.float32)
        else:
            data = quantize(stored, qt)
            wr.add_tensor(name, data, raw_dtype=qt)
            back = dequantize(data, qt).reshape(stored.shape)
        if permute_heads:  # back to HF layout, independently of the converter's index
            inv = np.argsort(llamacpp_permute(np.arange(back.shape[0]), permute_heads))
            back = back[inv]
        return back.astype(np.float64)

    perm = arch == "llama"
    w = {"layers": []}
    w["emb"] = put("token_embd.weight", rng.standard_normal((V, D)) * 0.5, getattr(T, emb_type))
    for i in range(NL):
        p = f"blk.{i}"
        L = {"n1": 1 + 0.1 * rng.standard_normal(D), "n2": 1 + 0.1 * rng.standard_normal(D)}
        wr.add_tensor(f"{p}.attn_norm.weight", L["n1"].astype(np.float32))
        wr.add_tensor(f"{p}.ffn_norm.weight", L["n2"].astype(np.float32))
        L["q"] = put(f"{p}.attn_q.weight", rng.standard_normal((NH * HD, D)) * 0.2, qtype, NH if perm else None)
        L["k"] = put(f"{p}.attn_k.weight", rng.standard_normal((NKV * HD, D)) * 0.2, qtype, NKV if perm else None)
        L["v"] = put(f"{p}.attn_v.weight", rng.standard_normal((NKV * HD, D)) * 0.2, qtype)
        L["o"] = put(f"{p}.attn_output.weight", rng.standard_normal((D, NH * HD)) * 0.1, qtype)
        L["gate"] = put(f"{p}.ffn_gate.weight", rng.standard_normal((FF, D)) * 0.1, qtype)
        L["up"] = put(f"{p}.ffn_up.weight", rng.standard_normal((FF, D)) * 0.1, qtype)
        L["down"] = put(f"{p}.ffn_down.weight", rng.standard_normal((D, FF)) * 0.1, qtype)
        if bias:
            for n, rows in (("q", NH * HD), ("k", NKV * HD), ("v", NKV * HD)):
                L["b" + n] = (0.1 * rng.standard_normal(rows)).astype(np.float32)
                wr.add_tensor(f"{p}.attn_{n}.bias", L["b" + n])
                L["b" + n] = L["b" + n].astype(np.float64)
        w["layers"].append(L)
    w["nout"] = 1 + 0.1 * rng.standard_normal(D)
    wr.add_tensor("output_norm.weight", w["nout"].astype(np.float32))
    w["out"] = w["emb"] if tied else put("output.weight", rng.standard_normal((V, D)) * 0.3, qtype)
    if freq_factors is not None:
        wr.add_tensor("rope_freqs.weight", freq_factors.astype(np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return w, eps


def _byte_char(b: int) -> str:
    """GPT-2's printable spelling of a byte (bytes_to_unicode)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    if b in keep:
        return chr(b)
    return chr(256 + [x for x in range(256) if x not in keep].index(b))


def _run_cached(sess, ids: list[int], split: int) -> list[np.ndarray]:
    """Prefill ids[:split], then one token at a time over the KV cache; logits after each call."""
    names = [o.name for o in sess.get_outputs()]
    past = {f"past_key_values.{i}.{kv}": np.zeros((1, NKV, 0, HD), np.float32)
            for i in range(NL) for kv in ("key", "value")}
    chunks = [ids[:split]] + [[t] for t in ids[split:]]
    total, out = 0, []
    for c in chunks:
        total += len(c)
        feed = dict(past, input_ids=np.array([c], np.int64), attention_mask=np.ones((1, total), np.int64))
        res = sess.run(None, feed)
        out.append(res[0][0, -1])
        past = {n.replace("present.", "past_key_values."): r for n, r in zip(names[1:], res[1:])}
    return out


CASES = [
    # arch, weight type, embedding type, tied, q/k/v bias, rope theta, llama3 rope freq factors, atol
    ("llama", "Q4_1", "Q8_0", True, False, 10000.0, None, 2e-3),    # SmolLM2 / Llama layout
    ("qwen2", "Q4_0", "Q4_1", False, True, 1e6, None, 2e-3),       # Qwen2.5: biases, NEOX rope, 4-bit lm_head
    ("llama", "Q8_0", "Q4_1", True, False, 5e5, "factors", 2e-3),  # Llama 3.x rope_freqs; 4-bit tied embedding
    ("llama", "F16", "Q8_0", True, False, 1e4, None, None),        # re-quantized to 8-bit blocks
]


@pytest.mark.parametrize("arch,wtype,emb,tied,bias,theta,factors,atol", CASES)
def test_tiny_model_matches_numpy_forward_over_kv_cache(tmp_path, arch, wtype, emb, tied, bias, theta, factors, atol):
    ff = np.linspace(1.0, 8.0, HD // 2) if factors else None
    path = tmp_path / f"tiny-{arch}-{wtype}.gguf"
    w, eps = write_tiny_gguf(path, arch, wtype, tied, bias, theta, ff, emb_type=emb)
    onnx_path = tmp_path / "model.onnx"
    info = gguf_onnx.convert(path, onnx_path)
    assert info["arch"] == arch and info["tied_embeddings"] == tied
    assert info["exact_blocks"] == (atol is not None)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ids = [3, 17, 60, 5, 91, 42, 8, 8, 77, 1, 30, 64]
    want = reference_logits(w, ids, theta, eps, ff)
    got = _run_cached(sess, ids, split=5)
    for step, g in enumerate(got):
        pos = 4 + step
        if atol is not None:
            np.testing.assert_allclose(g, want[pos], rtol=0, atol=atol)
        else:  # 8-bit re-quantization: close, same argmax
            assert np.abs(g - want[pos]).max() < 0.05 * np.abs(want[pos]).max()
            assert int(g.argmax()) == int(want[pos].argmax())


def test_unsupported_architecture_is_a_model_error(tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "gpt2.gguf"
    wr = GGUFWriter(str(path), "gpt2")
    wr.add_block_count(1)
    wr.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    with pytest.raises(ModelError, match="architecture 'gpt2' is not supported"):
        gguf_onnx.convert(path, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_not_a_gguf_file_is_a_model_error(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("this is not a model\n")
    with pytest.raises(ModelError, match="cannot read"):
        gguf_onnx.convert(bad, tmp_path / "m.onnx")


def test_qweight_take_rows_keeps_blocks():
    rng = np.random.default_rng(3)
    q = quantize_blocks(rng.standard_normal((8, 64)).astype(np.float32), 4)
    idx = np.array([7, 0, 3, 3])
    sub = q.take_rows(idx)
    assert isinstance(sub, QWeight)
    np.testing.assert_array_equal(sub.dequantize(), q.dequantize()[idx])
