"""`fieldkit models distill` end to end on a tiny teacher built here (no torch, no downloads).

The teacher is a real WordPiece tokenizer trained on the R survey answers plus a small ONNX
token graph (embedding lookup, one mixing layer, tanh); it is installed and verified like any
imported model, distilled through the CLI, then used with --model by `fieldkit embed`.
"""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.store import read_provenance
from tests.golden.texts import DATA, survey


def _bert_wordpiece(texts, vocab_size: int, special: list[str]):
    """A BERT-style WordPiece tokenizer (lowercasing BertNormalizer, BertPreTokenizer) trained on `texts`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special))
    return tok


def _tiny_teacher(folder, texts):
    import onnx
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh
    from tokenizers import processors

    from fieldkit import files
    from fieldkit.inference.manifest import FOLDER_ENTRY_NAME

    tok = _bert_wordpiece(texts, 400, ["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    tok.save(str(folder / "tokenizer.json"))
    rng = np.random.default_rng(0)
    v, d = tok.get_vocab_size(), 24
    graph = helper.make_graph(
        [helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
         helper.make_node("MatMul", ["e", "w"], ["m"]),
         helper.make_node("Tanh", ["m"], ["last_hidden_state"])],
        "tiny", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
                 helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", "s", d])],
        [nh.from_array(rng.normal(size=(v, d)).astype(np.float32), "emb"),
         nh.from_array((rng.normal(size=(d, d)) / d ** 0.5).astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    entry = {"id": "tiny-teacher", "task": "embed", "format": "onnx",
             "runtime": "bert-token-embeddings", "dim": d, "max_tokens": 64, "pooling": "mean",
             "files": [{"name": n, "role": r, "sha256": files.sha256(folder / n, force=True)}
                       for n, r in (("model.onnx", "model"), ("tokenizer.json", "tokenizer"))]}
    (folder / FOLDER_ENTRY_NAME).write_text(json.dumps(entry), encoding="utf-8")


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture
def answers():
    if not DATA.exists():
        pytest.skip("../shared/data is absent")
    return survey()[:600]


def test_distill_tiny_model_end_to_end(fk_home, tmp_path, capsys, answers):
    from scipy.stats import spearmanr

    from fieldkit.inference.embedder import get_embedder
    from fieldkit.inference.model_store import install_model_folder

    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    _tiny_teacher(teacher_dir, answers)
    install_model_folder(teacher_dir, "tiny-teacher")
    code, out, err = run(capsys, "models", "distill", "tiny-teacher", "-o", "tiny-static", "--dim", "16")
    assert code == 0, err
    assert "tiny-static: static model distilled from tiny-teacher (16-d)" in out

    static = get_embedder("tiny-static")
    assert static.dim == 16 and static.provenance()["distilled_from"] == "tiny-teacher"
    probe = answers[:200]
    s = static.embed_all(probe)
    t = get_embedder("tiny-teacher").embed_all(probe)
    assert np.allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-5)
    # the whole inference path is model2vec's few lines of numpy: mean of token rows, L2-normalised
    plain = np.stack([static.table[static.tokenizer.encode(p, add_special_tokens=False).ids].mean(axis=0)
                      for p in probe])
    assert np.allclose(s, plain / np.linalg.norm(plain, axis=1, keepdims=True), atol=1e-5)
    iu = np.triu_indices(len(probe), 1)
    rho = spearmanr((s @ s.T)[iu], (t @ t.T)[iu]).statistic
    # the same table with its rows shuffled among tokens: the teacher's token meaning is gone
    static.table = static.table[np.random.default_rng(1).permutation(len(static.table))]
    x = static.embed_all(probe)
    rho_shuffled = spearmanr((x @ x.T)[iu], (t @ t.T)[iu]).statistic
    assert rho > 0.3 and rho > rho_shuffled + 0.2, (rho, rho_shuffled)
    static.table = None  # the cached embedder must not serve a damaged table below
    from fieldkit.inference import embedder as embedder_module

    embedder_module._CACHE.clear()

    src = tmp_path / "answers.csv"
    pl.DataFrame({"answer": probe}).write_csv(src)
    code, out, err = run(capsys, "embed", str(src), "--column", "answer", "-o",
                         str(tmp_path / "out.parquet"), "--model", "tiny-static")
    assert code == 0, err
    assert "16-d embeddings (tiny-static)" in out
    assert np.allclose(np.stack(pl.read_parquet(tmp_path / "out.parquet")["embedding"].to_numpy()), s,
                       atol=1e-6)
    # a text of words the vocabulary has not got (all [UNK], a zero row) gets a zero vector, and the user is told
    pl.DataFrame({"answer": probe[:3] + ["服务器登录工具"]}).write_csv(src)
    code, out, err = run(capsys, "embed", str(src), "--column", "answer", "-o",
                         str(tmp_path / "out2.parquet"), "--model", "tiny-static")
    assert code == 0 and "(1 with no word the model knows: zero vectors)" in out, (out, err)
    assert not np.stack(pl.read_parquet(tmp_path / "out2.parquet")["embedding"].to_numpy())[3].any()

    # dupes with the static model as a first pass: the teacher embeds fewer answers, the groups are the same
    pl.DataFrame({"answer": answers}).write_csv(src)
    fast = tmp_path / "fast.parquet"
    code, out, err = run(capsys, "dupes", str(src), "-c", "answer", "--model", "tiny-teacher",
                         "--first-pass", "tiny-static", "-o", str(fast))
    assert code == 0, err
    embedded, distinct = map(int, re.search(r"tiny-teacher embedded ([\d,]+) of ([\d,]+) distinct", out).groups())
    assert 0 < embedded < distinct
    step = read_provenance(fast)["steps"][-1]
    assert step["parameters"]["first_pass"]["model"] == "tiny-static"
    full = tmp_path / "full.parquet"
    code, out, err = run(capsys, "dupes", str(src), "-c", "answer", "--model", "tiny-teacher", "-o", str(full))
    assert code == 0, err
    # the full run cached the model's vectors of the column: a first pass now would only add work
    again = tmp_path / "again.parquet"
    code, out, err = run(capsys, "dupes", str(src), "-c", "answer", "--model", "tiny-teacher",
                         "--first-pass", "tiny-static", "-o", str(again))
    assert code == 0 and "not run: tiny-teacher's vectors of this column were cached" in out, (out, err)
    assert pl.read_parquet(again)["dup_group"].to_list() == pl.read_parquet(full)["dup_group"].to_list()
    a, b = pl.read_parquet(full)["dup_group"], pl.read_parquet(fast)["dup_group"]
    assert a.is_not_null().sum() > 0 and (b.is_not_null() & a.is_null()).sum() == 0  # no group the model did not make
    assert b.is_not_null().sum() >= 0.95 * a.is_not_null().sum(), (a.is_not_null().sum(), b.is_not_null().sum())
    code, _, err = run(capsys, "dupes", str(src), "-c", "answer", "--model", "tiny-teacher",
                       "--first-pass", "tiny-teacher")
    assert code == 2 and "not a static model distilled from tiny-teacher" in err and "hint:" in err
    embedder_module._CACHE.clear()  # the next test installs another tiny-teacher (WordPiece training varies)

    code, out, err = run(capsys, "models", "verify")
    assert code == 0, err
    vectors = fk_home / "models" / "tiny-static" / "vectors.npy"
    arr = np.load(vectors)
    arr[5, 0] += 1.0
    np.save(vectors, arr)
    code, out, err = run(capsys, "models", "verify")
    assert code == 2 and "tiny-static" in err


def test_distill_refuses_bad_requests(fk_home, capsys):
    code, _, err = run(capsys, "models", "distill", "all-minilm-l6-v2", "-o", "all-minilm-l6-v2")
    assert code == 2 and "built-in model id" in err
    code, _, err = run(capsys, "models", "distill", "all-minilm-l6-v2", "-o", "../escape")
    assert code == 2 and "not a plain name" in err and "Traceback" not in err
    code, _, err = run(capsys, "models", "distill", "all-minilm-l6-v2", "-o", "x", "--dim", "4")
    assert code == 2 and "--dim" in err


def test_refit_brings_the_table_closer_to_its_teacher_on_texts_it_did_not_see(fk_home, tmp_path, capsys,
                                                                             answers):
    from scipy.stats import spearmanr

    from fieldkit.inference.embedder import get_embedder
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import install_model_folder

    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    _tiny_teacher(teacher_dir, answers)
    install_model_folder(teacher_dir, "tiny-teacher")
    refit = tmp_path / "refit.txt"
    refit.write_text("\n".join(answers[200:]), encoding="utf-8")
    code, _, err = run(capsys, "models", "distill", "tiny-teacher", "-o", "plain", "--dim", "16")
    assert code == 0, err
    code, out, err = run(capsys, "models", "distill", "tiny-teacher", "-o", "refit", "--dim", "16",
                         "--refit-texts", str(refit))
    assert code == 0, err
    assert get_entry("refit").raw["distilled_from"]["refit"]["texts"] == len(answers) - 200
    probe = answers[:200]  # none of the refit texts
    t = get_embedder("tiny-teacher").embed_all(probe)
    iu = np.triu_indices(len(probe), 1)
    rho = {}
    for name in ("plain", "refit"):
        s = get_embedder(name).embed_all(probe)
        rho[name] = spearmanr((s @ s.T)[iu], (t @ t.T)[iu]).statistic
    assert rho["refit"] > rho["plain"] + 0.03, rho

    few = tmp_path / "few.txt"
    few.write_text("one\ntwo\n", encoding="utf-8")
    for path in (few, tmp_path / "missing.txt"):
        code, _, err = run(capsys, "models", "distill", "tiny-teacher", "-o", "x", "--refit-texts", str(path))
        assert code == 2 and "error:" in err and "hint:" in err and "Traceback" not in err, err


def test_chunk_by_chunk_token_ids_equal_the_tokenizers_or_are_not_used(answers):
    """The static model tokenizes each distinct blank-separated chunk once (answers repeat their words); its ids
    must be the whole-text tokenizer's, checked on the first texts: WordPiece passes, byte-level BPE (a space
    is part of the next token) does not and is used whole."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from fieldkit.inference.chunk_ids import ChunkIds

    wp = _bert_wordpiece(answers, 300, ["[UNK]"])
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(answers, trainers.BpeTrainer(vocab_size=300,
                                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    for tok, chunked in ((wp, True), (bpe, False)):
        s = ChunkIds(tok)
        ids, lengths = s.ids(answers)
        whole = [tok.encode(a, add_special_tokens=False).ids for a in answers]
        assert s.by_chunk is chunked
        assert ids.tolist() == [i for w in whole for i in w] and lengths.tolist() == [len(w) for w in whole]
        assert (len(s.pieces) > 0) is chunked
        again, _ = s.ids(answers)  # from the cache
        assert again.tolist() == ids.tolist()


def test_a_full_chunk_cache_starts_over_without_losing_the_batchs_old_chunks(answers, monkeypatch):
    """Past MAX_PIECES the cache is emptied; a batch mixing chunks seen before and new ones then raised
    KeyError for the old ones (a column of a million distinct answers reaches the cap)."""
    from fieldkit.inference import chunk_ids

    wp = _bert_wordpiece(answers, 300, ["[UNK]"])
    monkeypatch.setattr(chunk_ids, "MAX_PIECES", 50)
    s = chunk_ids.ChunkIds(wp)
    s.ids(answers[:20])
    ids, lengths = s.ids(answers[10:40])  # ten answers seen, twenty new: past the cap of 50 chunks
    whole = [wp.encode(a, add_special_tokens=False).ids for a in answers[10:40]]
    assert ids.tolist() == [i for w in whole for i in w] and lengths.tolist() == [len(w) for w in whole]


def test_only_wordpiece_tokenizers_go_chunk_by_chunk(answers):
    """multilingual-e5's SentencePiece (Metaspace) makes a token of trailing blanks ('...my card\\n\\n' ends in
    '▁'), which a chunk-by-chunk pass drops, and its first 200 banking77 texts did not show it: such
    tokenizers run whole from the start."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from fieldkit.inference.chunk_ids import chunkable

    uni = Tokenizer(models.Unigram())
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(answers, trainers.UnigramTrainer(vocab_size=300, special_tokens=["<unk>"],
                                                             unk_token="<unk>"))
    text = "I can't seem to use my card\n\n"
    whole = uni.encode(text, add_special_tokens=False).ids
    chunked = [i for c in text.split() for i in uni.encode(c, add_special_tokens=False).ids]
    assert whole != chunked  # the trailing blanks' token
    assert not chunkable(uni)
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    assert chunkable(wp)


def test_ascii_look_ups_give_the_tokenizers_own_ids_on_every_shared_set():
    """The static model spells printable-ASCII chunks from MiniLM's vocabulary (no tokenizer call); the ids of
    every text of the six shared text sets, and of texts made to trip it ("[CLS]" and "[unused0]" inside a
    chunk, a 150-letter word, words the vocabulary spells only in pieces, all capitals, URLs, marks alone),
    must equal the whole-text tokenizer's."""
    from tokenizers import Tokenizer

    from fieldkit.inference.chunk_ids import ChunkIds
    from fieldkit.inference.embedder import get_embedder
    from tests.golden.texts import SETS

    tok = Tokenizer.from_str(get_embedder().tokenizer.to_str())  # as the static model loads it: whole texts
    tok.no_padding()
    tok.no_truncation()
    assert ChunkIds(tok).ascii is not None
    tricky = ["a[CLS]b [SEP] x[unused0]y [unused0] [MASK]ed", "x" * 150 + " ok", "tidyverse's DPLYR::mutate()!!",
              "https://example.org/a?b=1&c=%20 #tag @user", "ALL CAPS LOL 2nite gr8 b4 u 123,456.78",
              "__init__ ~/.bashrc {a|b} <p>\\n</p> `code`", "qwxzj zzzzzzzzqqqqq", "\x1fa b\x7f \t\tc",
              "line one\x0bline two", "a\x1cb c\x85d e\x0cf"]
    for name, texts in [*((n, f()) for n, f in SETS.items()), ("tricky", tricky)]:
        s = ChunkIds(tok)
        ids, lengths = s.ids(texts)
        whole = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        assert lengths.tolist() == [len(w) for w in whole], name
        assert ids.tolist() == [i for w in whole for i in w], name
        assert s.by_chunk is True, name  # the chunks' ids passed the check: not the whole-text fallback
    for c in {c for t in tricky for c in t.split()}:  # each look-up alone, without the check behind it
        got = s.ascii.ids(c)
        assert got is None or got == tok.encode(c, add_special_tokens=False).ids, c
