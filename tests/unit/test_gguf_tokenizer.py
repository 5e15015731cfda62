"""The tokenizer built from SmolLM2's GGUF metadata: ids, special tokens, lossless round trip."""

from __future__ import annotations

import csv
import json

import pytest

from fieldkit.errors import ModelError
from fieldkit.inference.gguf_tokenizer import PRE_TOKENIZERS, build_tokenizer, tokenizer_metadata
from tests.conftest import shared
from tests.unit.gguf_support import smollm_gguf


@pytest.fixture(scope="module")
def reader():
    from gguf import GGUFReader

    return GGUFReader(str(smollm_gguf()))


@pytest.fixture(scope="module")
def tok(reader):
    return build_tokenizer(reader)


def test_ids_match_the_reference_tokenizer(tok):
    # golden ids from transformers' GGUF tokenizer for the same file (see test_llm_reference.py)
    assert tok.encode("Hello, world! How are you?").ids == [19556, 28, 905, 17, 1073, 359, 346, 47]


def test_chatml_markers_are_single_special_tokens(tok, reader):
    ids = tok.encode("<|im_start|>user\nhi<|im_end|>\n").ids
    assert ids[0] == 1 and 2 in ids
    assert tok.decode(ids, skip_special_tokens=True) == "user\nhi\n"
    meta = tokenizer_metadata(reader)
    assert meta["eos_token_id"] == 2 and 2 in meta["stop_token_ids"]
    assert meta["add_bos_token"] is False
    assert "<|im_start|>" in meta["chat_template"]


def test_digits_are_split_one_by_one(tok):
    # SmolLM2's pre-tokenizer (llama.cpp "smollm") isolates every digit
    pieces = [tok.id_to_token(i) for i in tok.encode("in 2024").ids]
    assert pieces[-4:] == ["2", "0", "2", "4"]


def test_round_trip_is_lossless_on_real_text(tok):
    texts = [json.loads(line)["article"] for line in
             shared("summarization", "cnndm_dev_100.jsonl").read_text(encoding="utf-8").splitlines()[:40]]
    with open(shared("nonlatin", "waimai_reviews_600.csv"), encoding="utf-8", newline="") as f:
        texts += [row["review"] for row in csv.DictReader(f)][:200]
    texts += ["  tabs\tand\r\nnewlines  ", "emoji 😀 café naïve", ""]
    for t in texts:
        assert tok.decode(tok.encode(t).ids, skip_special_tokens=False) == t


def test_unknown_pre_tokenizer_is_refused():
    class FakeField:
        def __init__(self, v):
            self.v = v

        def contents(self):
            return self.v

    class FakeReader:
        fields = {"tokenizer.ggml.model": FakeField("gpt2"), "tokenizer.ggml.pre": FakeField("martian")}

    assert "martian" not in PRE_TOKENIZERS
    with pytest.raises(ModelError, match="pre-tokenizer 'martian'"):
        build_tokenizer(FakeReader())
    FakeReader.fields["tokenizer.ggml.model"] = FakeField("llama")
    with pytest.raises(ModelError, match="tokenizer type 'llama' is not supported"):
        build_tokenizer(FakeReader())
