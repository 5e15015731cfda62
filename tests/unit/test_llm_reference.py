"""Parity with transformers: the same GGUF loaded by transformers (dequantized to float32, torch).

transformers dequantizes the GGUF weights to float, so the converted graph's blocks must give
the same logits up to float rounding in the compute, and the same greedy tokens.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from tests.conftest import shared
from tests.unit.gguf_support import shared_generator, smollm_gguf

pytestmark = pytest.mark.reference

if not all(importlib.util.find_spec(m) for m in ("torch", "transformers", "accelerate")):
    pytest.skip("needs the reference extra (torch, transformers, accelerate)", allow_module_level=True)

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
    [{"role": "user", "content": "Give three tips for keeping drinking water safe in a camp."}],
]


@pytest.fixture(scope="module")
def hf():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm_gguf()
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                 local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    return model.eval(), tok


def _prompts(g):
    article = json.loads(shared("summarization", "cnndm_dev_100.jsonl").read_text(encoding="utf-8")
                         .splitlines()[3])["article"]
    msgs = PROMPTS + [[{"role": "user", "content": "Summarize in two sentences:\n\n" + article[:1500]}]]
    return [g.encode(g.format_chat(m)) for m in msgs]


def test_tokenizer_matches_transformers(hf):
    _, tok = hf
    g = shared_generator()
    lines = shared("summarization", "cnndm_dev_100.jsonl").read_text(encoding="utf-8").splitlines()[:8]
    for line in lines:
        text = json.loads(line)["article"]
        assert g.tokenizer.encode(text, add_special_tokens=False).ids == tok.encode(text, add_special_tokens=False)


def test_last_position_logits_match(hf):
    import torch

    model, _ = hf
    g = shared_generator()
    for ids in _prompts(g):
        with torch.no_grad():
            want = model(torch.tensor([ids])).logits[0, -1].numpy()
        got = g.logits(ids)
        diff = float(np.abs(got - want).max())
        assert diff < 2e-3, f"max abs logit diff {diff} on a {len(ids)}-token prompt"
        assert int(got.argmax()) == int(want.argmax())


def test_greedy_32_tokens_identical(hf):
    import torch

    model, _ = hf
    g = shared_generator()
    for ids in _prompts(g)[:2]:
        ours = list(g.generate_ids(ids, max_new_tokens=32, repetition_penalty=1.0))
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=32, do_sample=False, repetition_penalty=1.0,
                                 eos_token_id=sorted(g.stop_token_ids), pad_token_id=2)
        theirs = [t for t in out[0, len(ids):].tolist() if t not in g.stop_token_ids]
        assert ours == theirs[: len(ours)] and len(ours) == len(theirs)


def test_repetition_penalty_matches_transformers(hf):
    import torch

    model, _ = hf
    g = shared_generator()
    ids = _prompts(g)[1]
    ours = list(g.generate_ids(ids, max_new_tokens=16, repetition_penalty=1.3))
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=16, do_sample=False, repetition_penalty=1.3,
                             eos_token_id=sorted(g.stop_token_ids), pad_token_id=2)
    theirs = [t for t in out[0, len(ids):].tolist() if t not in g.stop_token_ids]
    assert ours == theirs
