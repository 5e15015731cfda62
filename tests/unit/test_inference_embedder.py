"""Embedder behaviour on real survey answers: order, empties, truncation, progress, cancel, int8 rewrite."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest

from fieldkit.errors import Cancelled
from fieldkit.inference import optimize
from fieldkit.inference.embedder import load_embedder
from fieldkit.inference.manifest import get_entry
from fieldkit.progress import Reporter
from tests.conftest import shared


def survey_answers(n: int | None = None, which: str = "like best") -> list[str]:
    """Real open-ended answers from the R community survey (TSV with unescaped quotes)."""
    path = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    csv.field_size_limit(1 << 30)
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        col = next(i for i, h in enumerate(header) if which in h.lower())
        texts = [r[col] for r in rows if len(r) > col and r[col].strip()]
    return texts[:n] if n else texts


@pytest.fixture(scope="module", autouse=True)
def isolated_home(tmp_path_factory):
    """Keep stamps and derived graphs out of the user's FIELDKIT_HOME."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FIELDKIT_HOME", str(tmp_path_factory.mktemp("fkhome")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(get_entry(None))


@pytest.fixture(scope="module")
def answers():
    return survey_answers(300)


def test_contract_shape_norm_and_order(embedder, answers):
    vecs = embedder.embed_all(answers)
    assert vecs.shape == (len(answers), embedder.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    again = embedder.embed_all(answers)
    assert np.array_equal(vecs, again)  # deterministic
    backwards = embedder.embed_all(answers[::-1])[::-1]
    cos = (vecs * backwards).sum(axis=1)
    assert cos.min() > 0.99  # same text -> same vector, wherever it sits in the input
    assert len(embedder.sha256) == 64 and embedder.model_id == "all-minilm-l6-v2"


def test_streaming_batches_in_input_order(embedder, answers):
    gen = embedder.embed(iter(answers[:50]), batch_size=7)  # any iterable, not only lists
    batches = list(gen)
    assert [len(b) for b in batches] == [7] * 7 + [1]
    whole = embedder.embed_all(answers[:50])
    cos = (np.concatenate(batches) * whole).sum(axis=1)
    assert cos.min() > 0.99


def test_empty_and_null_texts_are_zero_and_counted(embedder):
    vecs = embedder.embed_all([None, "", "   ", "I like the tidyverse", float("nan")])
    norms = np.linalg.norm(vecs, axis=1)
    assert norms.tolist()[:3] == [0.0, 0.0, 0.0] and norms[4] == 0.0
    assert abs(norms[3] - 1.0) < 1e-4
    assert embedder.last_stats.empty == 4 and embedder.last_stats.texts == 5


def test_long_texts_are_truncated_and_counted(embedder, answers):
    long_text = " ".join(answers[:60])  # far beyond 256 tokens
    vecs = embedder.embed_all([long_text, answers[0]])
    assert embedder.last_stats.truncated == 1
    assert abs(np.linalg.norm(vecs[0]) - 1.0) < 1e-4


def test_meaning_is_captured(embedder):
    a, b, c = embedder.embed_all([
        "The community is friendly and helpful",
        "I love the welcoming R community",
        "Error messages are cryptic and confusing",
    ])
    assert a @ b > a @ c + 0.2


def test_progress_and_cancel(embedder, answers):
    seen = []
    rep = Reporter("embed", callback=seen.append, max_per_second=1e9)
    embedder.embed_all(answers, reporter=rep)
    assert seen and seen[-1].done == len(answers) and seen[-1].total == len(answers)

    cancel = threading.Event()

    def stop_after_first(p):
        cancel.set()

    rep = Reporter("embed", callback=stop_after_first, cancel=cancel, max_per_second=1e9)
    with pytest.raises(Cancelled):
        for _ in embedder.embed(answers * 20, batch_size=16, reporter=rep):
            pass


def test_int8_rewrite_stays_close_to_shipped_graph(embedder, answers):
    if not optimize.int8_matmul_is_fast():
        pytest.skip("this CPU runs the shipped graph (no VNNI int8 kernels)")
    assert embedder.provenance()["graph"] == optimize.RECIPE
    assert embedder.graph_sha256 != embedder.sha256
    shipped = load_embedder(get_entry(None), optimize=False)
    assert "graph_sha256" not in shipped.provenance()
    cos = (embedder.embed_all(answers) * shipped.embed_all(answers)).sum(axis=1)
    assert cos.min() > 0.99 and cos.mean() > 0.998


def test_damaged_cached_graph_is_rebuilt(fk_home, answers):
    if not optimize.int8_matmul_is_fast():
        pytest.skip("no derived graph on this CPU")
    entry = get_entry(None)
    first = load_embedder(entry)
    graphs = list((fk_home / "cache" / "graphs").glob("*.onnx"))
    assert len(graphs) == 1
    data = bytearray(graphs[0].read_bytes())
    data[-100] ^= 0xFF
    graphs[0].write_bytes(bytes(data))
    second = load_embedder(entry)
    assert second.graph_sha256 == first.graph_sha256  # rebuilt, identical (deterministic)
    assert np.array_equal(first.embed_all(answers[:20]), second.embed_all(answers[:20]))


def test_threads_are_configurable():
    emb = load_embedder(get_entry(None), threads=1)
    assert emb.session.get_session_options().intra_op_num_threads == 1
    assert emb.workers == 1


def test_batches_on_several_workers_give_the_same_vectors_in_order(answers):
    """Two threads on alternating batches: same bits as one thread, rows in input order."""
    one = load_embedder(get_entry(None), threads=1)
    three = load_embedder(get_entry(None), threads=3)
    assert three.workers == 3 and three.session.get_session_options().intra_op_num_threads == 1
    texts = answers[:150] + [None] + answers[150:]  # an empty text in the middle keeps its row
    seen = []
    rep = Reporter("embed", callback=seen.append, max_per_second=1e9)
    got = three.embed_all(texts, reporter=rep, batch_size=8)
    assert np.array_equal(got, one.embed_all(texts, batch_size=8))
    assert not got[150].any() and seen[-1].done == len(texts)
    assert [p.done for p in seen] == sorted(p.done for p in seen)  # progress never goes back


def test_cancel_with_several_workers_leaves_no_thread_running(answers):
    emb = load_embedder(get_entry(None), threads=2)
    cancel = threading.Event()
    seen = []

    def stop_after_second(p):
        seen.append(p)
        if len(seen) == 2:
            cancel.set()

    rep = Reporter("embed", callback=stop_after_second, cancel=cancel, max_per_second=1e9)
    with pytest.raises(Cancelled):
        emb.embed_all(answers * 5, reporter=rep, batch_size=8)
    assert len(seen) == 2  # nothing reported after the cancel
    assert not [t for t in threading.enumerate() if t.name.startswith("fieldkit-embed")]


def test_batches_hold_at_most_the_token_budget_and_the_vectors_do_not_depend_on_it(answers, monkeypatch):
    """A padded-token budget per batch (not 32 rows x 64): long answers go in small batches, same vectors."""
    import fieldkit.inference.embedder as E

    emb = load_embedder(get_entry(None), threads=1)
    lengths = np.sort([len(e.ids) for e in emb.tokenizer.encode_batch(answers)])
    batches = list(E._token_batches(lengths, 32, E.TOKEN_BUDGET))
    assert [a for a, _ in batches] == [0] + [b for _, b in batches[:-1]] and batches[-1][1] == len(answers)
    for a, b in batches:
        assert b - a <= 32
        assert (b - a) * lengths[b - 1] <= E.TOKEN_BUDGET or b - a == 1
    assert len(batches) > len(answers) / 32  # the budget, not the row cap, cut some batches here
    small = emb.embed_all(answers, batch_size=32)
    monkeypatch.setattr(E, "TOKEN_BUDGET", 32 * 64)
    assert np.abs(emb.embed_all(answers, batch_size=32) - small).max() < 1e-4


def test_chunked_token_ids_equal_the_tokenizers_with_specials_and_truncation(embedder):
    """The default model takes its ids from the chunk cache (each distinct word once, most from the vocabulary
    alone): on every shared text set and on texts made to trip it, rows and truncation counts must equal the
    library's own encode_batch with [CLS]/[SEP] and the cut at max_tokens."""
    from fieldkit.inference.embed_base import EmbedStats
    from tests.golden.texts import SETS

    assert embedder._chunks is not None
    long_one = " ".join(["tidyverse's"] * 400)  # 1,600 tokens: cut to max_tokens
    tricky = ["a[CLS]b [SEP] x[unused0]y", "x" * 150, "line one\x0bline two", "ALL CAPS gr8 b4 123,456.78", long_one]
    for name, texts in [*((n, f()) for n, f in SETS.items()), ("tricky", tricky)]:
        stats = EmbedStats()
        lengths, put = embedder._token_rows(texts, stats)
        encs = embedder.tokenizer.encode_batch(texts, add_special_tokens=True)
        assert lengths.tolist() == [len(e.ids) for e in encs], name
        for k, e in enumerate(encs):
            row = np.zeros(len(e.ids), np.int64)
            put(row, k)
            assert row.tolist() == e.ids, (name, k)
        assert stats.truncated == sum(1 for e in encs if e.overflowing), name
    assert stats.truncated == 1 and embedder._chunks.by_chunk is True


def test_chunked_token_ids_equal_the_tokenizers_on_hostile_text(embedder):
    """Texts built from what breaks tokenizers (control characters Python and BERT split differently, NUL,
    combining accents, dotted I and final sigma that lowercase by context, ligatures, CJK, emoji, added tokens
    glued to words, '##'): the chunk cache's ids, made in one batch, are the library's own."""
    import random

    from fieldkit.inference.embed_base import EmbedStats

    rng = random.Random(11)
    alphabet = list("abcXYZ019 ,.;:!?()[]{}<>#@$%^&*_-+=/\\|~`\"'") + [
        "\t", "\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u3000", "\u200b", "\ufffd", "\x00", "\x01",
        "\x7f", "é", "ß", "İ", "Σ", "ς", "中", "😀", "ﬁ", "\u0301", "[CLS]", "[SEP]", "[unused0]", "##", "Hello",
        "WORLD", "Tidyverse", " ", "  "]
    texts = [t for t in ("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(600))
             if t.strip()]
    chunks = embedder._chunks
    chunks.pieces.clear()
    chunks.by_chunk = None  # checked again on these texts: the ids must come from the chunks, not the fallback
    try:
        lengths, put = embedder._token_rows(texts, EmbedStats())
        assert chunks.by_chunk is True
    finally:
        chunks.by_chunk = None
    for k, enc in enumerate(embedder.tokenizer.encode_batch(texts, add_special_tokens=True)):
        row = np.zeros(int(lengths[k]), np.int64)
        put(row, k)
        assert row.tolist() == enc.ids, repr(texts[k])
