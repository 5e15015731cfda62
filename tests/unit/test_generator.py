"""The generator on the real prepared SmolLM2: KV cache, greedy/sampling, stops, streaming, cancel."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from fieldkit.errors import Cancelled, ModelError, UsageError
from fieldkit.inference import generator as gen_mod
from fieldkit.files import sha256 as file_sha256
from fieldkit.inference.model_store import META_NAME
from tests.unit.gguf_support import MODEL_ID, prepared_home, shared_generator

CAPITAL = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.fixture(scope="module")
def g():
    return shared_generator()


def test_not_prepared_names_the_command(fk_home):
    assert gen_mod.is_prepared(MODEL_ID) is False
    with pytest.raises(ModelError) as e:
        gen_mod.load_generator(MODEL_ID)
    assert e.value.hint == "fieldkit models prepare smollm2-135m-instruct"


def test_prepared_store_records_hashes(monkeypatch):
    home = prepared_home()
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    assert gen_mod.is_prepared(MODEL_ID)
    d = home / "models" / MODEL_ID
    meta = json.loads((d / META_NAME).read_text())
    for f in meta["files"]:
        assert file_sha256(d / f["name"]) == f["sha256"]
        assert (d / f["name"]).stat().st_size == f["size"]
    gen = gen_mod.load_generator(MODEL_ID)
    assert gen.model_id == MODEL_ID
    assert gen.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert gen.n_ctx == 8192
    assert meta["exact_blocks"] is True and meta["tied_embeddings"] is True


def test_kv_cache_decoding_equals_full_prefill(g):
    ids = g.encode(g.format_chat(CAPITAL))
    full = g.logits(ids)
    split = len(ids) - 4
    logits, past = g._forward(ids[:split], g._empty_past(), split)
    for n in range(split, len(ids)):
        logits, past = g._forward([ids[n]], past, n + 1)
    np.testing.assert_allclose(logits, full, rtol=0, atol=2e-3)


def test_greedy_answer_is_deterministic_and_sensible(g):
    a = g.chat(CAPITAL, max_new_tokens=30)
    b = g.chat(CAPITAL, max_new_tokens=30)
    assert a == b
    assert "Paris" in a
    assert g.last_stats.stop_reason == "eos"


def test_sampling_follows_the_seed(g):
    kw = dict(max_new_tokens=8, temperature=1.0, top_p=0.95)
    msgs = [{"role": "user", "content": "Write one sentence about rain."}]
    same = [g.chat(msgs, seed=7, **kw) for _ in range(2)]
    assert same[0] == same[1]
    outs = {g.chat(msgs, seed=s, **kw) for s in (1, 2, 3)}
    assert len(outs) >= 2


def test_tiny_top_p_is_greedy(g):
    greedy = g.chat(CAPITAL, max_new_tokens=15)
    nucleus = g.chat(CAPITAL, max_new_tokens=15, temperature=1.5, top_p=1e-9, seed=3)
    assert nucleus == greedy


def test_stop_string_cuts_and_is_never_streamed(g):
    pieces: list[str] = []
    full = g.complete(g.format_chat(CAPITAL), max_new_tokens=30)
    assert " Paris" in full
    out = g.complete(g.format_chat(CAPITAL), max_new_tokens=30, stop=[" Paris"], on_token=pieces.append)
    assert out == full[: full.index(" Paris")]
    assert "".join(pieces) == out
    assert g.last_stats.stop_reason == "stop"


def test_streamed_pieces_add_up_to_the_reply(g):
    pieces: list[str] = []
    out = g.complete(g.format_chat([{"role": "user", "content": "Name three colours."}]),
                     max_new_tokens=25, on_token=pieces.append)
    assert len(pieces) > 3
    assert "".join(pieces) == out


def test_max_new_tokens_is_respected(g):
    g.chat([{"role": "user", "content": "Tell me a long story about a dragon."}], max_new_tokens=5)
    assert g.last_stats.new_tokens == 5
    assert g.last_stats.stop_reason == "length"


def test_cancel_stops_generation(g):
    ev = threading.Event()
    seen: list[str] = []

    def on_token(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            ev.set()

    with pytest.raises(Cancelled):
        g.chat([{"role": "user", "content": "Tell me a long story about a dragon."}],
               max_new_tokens=100, on_token=on_token, cancel=ev)
    assert len(seen) == 3
    assert g.last_stats.new_tokens <= 4


def test_overlong_prompt_is_a_usage_error(g):
    with pytest.raises(UsageError, match="context"):
        g.chat([{"role": "user", "content": "word " * (g.n_ctx + 10)}])


def test_count_tokens_and_roles(g):
    assert g.count_tokens("Hello, world! How are you?") == 8
    assert g.count_tokens("") == 0
    with pytest.raises(UsageError):
        g.format_chat([{"role": "wizard", "content": "x"}])
    own_system = g.format_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert own_system.count("<|im_start|>system") == 1 and "SmolLM" not in own_system


def test_chunked_prefill_equals_one_pass(g, monkeypatch):
    ids = g.encode(g.format_chat([{"role": "user", "content": "Summarize: " + "The river rose overnight. " * 40}]))
    one, _ = g._forward(ids, g._empty_past(), len(ids))
    monkeypatch.setattr(gen_mod, "PREFILL_CHUNK", 64)
    chunked, past = g._prefill(ids)
    assert past["past_key_values.0.key"].shape[2] == len(ids) > 3 * 64
    np.testing.assert_allclose(chunked, one, rtol=0, atol=2e-3)
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        g._prefill(ids, ev)


def test_an_embedding_model_is_not_a_generator(fk_home):
    with pytest.raises(ModelError, match="not a text generator"):
        gen_mod.load_generator("all-minilm-l6-v2")
    with pytest.raises(ModelError, match="unknown model"):
        gen_mod.load_generator("no-such-model")
    assert gen_mod.is_prepared("no-such-model") is False


def test_chat_format_follows_the_gguf_template(g):
    assert g.chat_format == "chatml" and g.system_prompt and "SmolLM" in g.system_prompt
    text = gen_mod.format_llama3([{"role": "user", "content": "Hi"}])
    assert text == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert gen_mod.format_chatml([{"role": "user", "content": "Hi"}], None) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_tampered_prepared_file_is_refused_not_loaded(monkeypatch, tmp_path):
    # Review finding: load_generator ran model.onnx/tokenizer.json without checking their sha256.
    import shutil

    src = prepared_home() / "models" / MODEL_ID
    home = tmp_path / "home"
    shutil.copytree(src, home / "models" / MODEL_ID)
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    tok = home / "models" / MODEL_ID / "tokenizer.json"
    expected = file_sha256(tok)
    tok.write_bytes(tok.read_bytes().replace(b'"the"', b'"teh"', 1))
    with pytest.raises(ModelError) as e:
        gen_mod.load_generator(MODEL_ID)
    assert "tokenizer.json" in e.value.message and expected in e.value.message
    assert file_sha256(tok) in e.value.message
    tok.unlink()
    with pytest.raises(ModelError) as e:
        gen_mod.load_generator(MODEL_ID)
    assert "not prepared" in e.value.message and e.value.hint == f"fieldkit models prepare {MODEL_ID}"


def test_a_prompt_sharing_the_last_ones_opening_reuses_its_kv_cache(g):
    """The second prompt prefills only what differs from the first, and decodes exactly as a
    fresh prefill would (the cached keys and values are those of the same tokens)."""
    shared = [{"role": "user", "content": "Amina: The pump at the north well broke on Monday."},
              {"role": "assistant", "content": "Amina says the north well pump broke on Monday."}]
    first = shared + [{"role": "user", "content": "Joseph: I will call the mechanic today."}]
    second = shared + [{"role": "user", "content": "What is the capital of France?"}]
    g._cached = None
    fresh = g.chat(second, max_new_tokens=12)
    assert g.last_stats.reused_tokens == 0
    g.chat(first, max_new_tokens=4)
    again = g.chat(second, max_new_tokens=12)
    opening = len(g.encode(g.format_chat(shared)))
    assert g.last_stats.reused_tokens >= opening - 4  # the worked example was not run again
    assert g.last_stats.reused_tokens < g.last_stats.prompt_tokens
    assert again == fresh
