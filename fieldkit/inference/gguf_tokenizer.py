"""A Hugging Face `tokenizers` tokenizer built from a GGUF file's own tokenizer metadata.

Why: GGUF files carry their vocabulary, merges and special tokens but no tokenizer.json, and
there is no hub to fetch one from; the pre-tokenizer is chosen from `tokenizer.ggml.pre` the
way llama.cpp does, so ids match what the model was trained on.
"""

from __future__ import annotations

from typing import Any

from fieldkit.errors import ModelError

# llama.cpp's pre-tokenizer regexes (llama-vocab.cpp), by `tokenizer.ggml.pre`
_GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# pre type -> (split regex or None for GPT-2's built-in one, split digits one by one first)
PRE_TOKENIZERS: dict[str, tuple[str | None, bool]] = {
    "default": (None, False),
    "gpt2": (None, False),
    "smollm": (None, True),
    "starcoder": (None, True),
    "refact": (None, True),
    "codeshell": (None, True),
    "llama3": (_LLAMA3, False),
    "llama-v3": (_LLAMA3, False),
    "llama-bpe": (_LLAMA3, False),
    "smaug-bpe": (_LLAMA3, False),
    "qwen2": (_QWEN2, False),
    "deepseek-r1-qwen": (_QWEN2, False),
}


def _contents(reader, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def tokenizer_metadata(reader) -> dict[str, Any]:
    """The tokenizer fields a generator needs: special ids, chat template, BOS policy."""
    tokens = _contents(reader, "tokenizer.ggml.tokens") or []
    types = _contents(reader, "tokenizer.ggml.token_type") or []
    eos = _contents(reader, "tokenizer.ggml.eos_token_id")
    stop_ids = {int(eos)} if eos is not None else set()
    for name in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"):
        if name in tokens:
            i = tokens.index(name)
            if not types or types[i] == 3:
                stop_ids.add(i)
    bos = _contents(reader, "tokenizer.ggml.bos_token_id")
    return {
        "model": _contents(reader, "tokenizer.ggml.model"),
        "pre": _contents(reader, "tokenizer.ggml.pre"),
        "bos_token_id": None if bos is None else int(bos),
        "eos_token_id": None if eos is None else int(eos),
        "add_bos_token": bool(_contents(reader, "tokenizer.ggml.add_bos_token", False)),
        "stop_token_ids": sorted(stop_ids),
        "chat_template": _contents(reader, "tokenizer.chat_template"),
        "vocab_size": len(tokens),
    }


def build_tokenizer(reader):
    """A `tokenizers.Tokenizer` equal to the GGUF's byte-level BPE (gpt2-style) tokenizer."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    kind = _contents(reader, "tokenizer.ggml.model")
    if kind != "gpt2":
        raise ModelError(
            f"GGUF tokenizer type {kind!r} is not supported (only byte-level BPE, 'gpt2')",
            hint="SentencePiece GGUFs (Llama 2, TinyLlama) are not supported yet; see the README",
        )
    pre = _contents(reader, "tokenizer.ggml.pre") or "default"
    if pre not in PRE_TOKENIZERS:
        raise ModelError(f"GGUF pre-tokenizer {pre!r} is not known to fieldkit",
                         hint=f"known: {', '.join(sorted(PRE_TOKENIZERS))}; add its regex to PRE_TOKENIZERS")
    tokens = list(_contents(reader, "tokenizer.ggml.tokens"))
    types = list(_contents(reader, "tokenizer.ggml.token_type") or [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in _contents(reader, "tokenizer.ggml.merges") or []]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    regex, digits = PRE_TOKENIZERS[pre]
    parts = [pre_tokenizers.Digits(individual_digits=True)] if digits else []
    if regex is None:
        parts.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    else:
        parts += [pre_tokenizers.Split(Regex(regex), behavior="isolated"),
                  pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    tok.pre_tokenizer = parts[0] if len(parts) == 1 else pre_tokenizers.Sequence(parts)
    if pre in ("qwen2", "deepseek-r1-qwen"):
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    # control tokens (type 3) stay whole and are skipped when decoding; user-defined (4) stay whole
    special = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3]
    user = [AddedToken(t, special=False, normalized=False) for t, ty in zip(tokens, types) if ty == 4]
    if special:
        tok.add_special_tokens(special)
    if user:
        tok.add_tokens(user)
    if tok.get_vocab_size() != len(tokens):
        raise ModelError(f"tokenizer built with {tok.get_vocab_size()} tokens, GGUF has {len(tokens)}",
                         "the GGUF's tokenizer metadata may be damaged; get the file again")
    return tok
