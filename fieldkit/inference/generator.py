"""Text generation with a prepared GGUF-derived ONNX decoder: prefill once, then decode on the KV cache.

Why: summaries and chat answers must come from a local model on 2-4 CPU cores with no torch;
the graph from `gguf_onnx` keeps 4-bit weight blocks with float activations and a KV cache, so
each new token costs one small forward pass.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from fieldkit.errors import Cancelled, ModelError, UsageError
from fieldkit.inference.manifest import get_entry
from fieldkit.inference.model_store import MODEL_NAME, TOKENIZER_NAME, check_file, read_prepared_meta
from fieldkit.inference.session import create_session

DEFAULT_MODEL = "smollm2-135m-instruct"
PREFILL_CHUNK = 1024  # tokens per prefill pass: bounds the wait before a cancel is seen
# The KV cache of the last prompt is kept (up to this many tokens, ~46 KB per token for SmolLM2):
# a next prompt that opens the same way (system turn, worked examples) prefills only what differs.
PREFIX_CACHE_TOKENS = 2048
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@dataclass
class GenerationStats:
    """Token counts and timings of the last call, for benchmarks and progress lines."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    reused_tokens: int = 0  # prompt tokens whose KV cache came from the previous prompt
    stop_reason: str = ""  # "eos", "stop", "length"

    @property
    def prefill_tps(self) -> float:
        return self.prompt_tokens / self.prefill_seconds if self.prefill_seconds else 0.0

    @property
    def decode_tps(self) -> float:
        # the first new token comes from the prefill pass
        steps = max(0, self.new_tokens - 1)
        return steps / self.decode_seconds if self.decode_seconds else 0.0


def _install_dir(model_id: str) -> Path:
    entry = get_entry(model_id)
    if entry.task != "generate":
        raise ModelError(f"{entry.id} is a {entry.task} model, not a text generator",
                         hint=f"use {DEFAULT_MODEL}; see `fieldkit models list`")
    return entry.install_dir


def is_prepared(model_id: str = DEFAULT_MODEL) -> bool:
    """True when `fieldkit models prepare MODEL` has produced a complete generator."""
    try:
        return read_prepared_meta(_install_dir(model_id)) is not None
    except ModelError:
        return False


def load_generator(model_id: str = DEFAULT_MODEL, threads: int | None = None) -> "Generator":
    """The prepared generator, or ModelError with the command that prepares it."""
    d = _install_dir(model_id)
    meta = read_prepared_meta(d)
    if meta is None:
        raise ModelError(f"the generative model {model_id} is not prepared",
                         hint=f"fieldkit models prepare {model_id}")
    for f in meta["files"]:  # never run an unverified file (stamps make this cheap when unchanged)
        check_file(d / f["name"], f["sha256"], label=model_id)
    return Generator(d, meta, model_id, threads)


def _ort_session(path: Path, threads: int | None):
    return create_session(path, threads=threads, label=f"generator {path.parent.name}")


@dataclass
class _StopWatch:
    stops: list[str] = field(default_factory=list)

    def hold_back(self, text: str) -> int:
        """How many trailing characters might still become a stop string (not yet safe to emit)."""
        keep = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:n]):
                    keep = max(keep, n)
                    break
        return keep


def format_chatml(messages: list[dict], system_prompt: str | None = DEFAULT_SYSTEM) -> str:
    """ChatML text for {role, content} messages, ending with the assistant's turn."""
    if not messages:
        raise UsageError("no messages to send to the model")
    parts = []
    if messages[0].get("role") != "system" and system_prompt:
        parts.append(f"<|im_start|>system\n{system_prompt}<|im_end|>\n")
    for m in messages:
        role, content = m.get("role", "user"), m.get("content", "")
        if role not in ("system", "user", "assistant"):
            raise UsageError(f"unknown chat role {role!r}", hint="use system, user or assistant")
        parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def format_llama3(messages: list[dict], system_prompt: str | None = None) -> str:
    """Llama 3 header-style turns for {role, content} messages, ending with the assistant's header."""
    if not messages:
        raise UsageError("no messages to send to the model")
    parts = ["<|begin_of_text|>"]
    if messages[0].get("role") != "system" and system_prompt:
        messages = [{"role": "system", "content": system_prompt}] + list(messages)
    for m in messages:
        role, content = m.get("role", "user"), m.get("content", "")
        if role not in ("system", "user", "assistant"):
            raise UsageError(f"unknown chat role {role!r}", hint="use system, user or assistant")
        parts.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


class Generator:
    """A loaded decoder plus tokenizer; not thread-safe (one generation at a time)."""

    def __init__(self, model_dir: Path, meta: dict, model_id: str = DEFAULT_MODEL, threads: int | None = None):
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.meta = meta
        self.model_id = model_id
        self.sha256 = meta.get("source_sha256", "")
        self.n_ctx = int(meta["n_ctx"])
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / TOKENIZER_NAME))
        self.session = _ort_session(self.model_dir / MODEL_NAME, threads)
        self.n_layer = int(meta["n_layer"])
        self.kv_shape = (1, int(meta["n_head_kv"]), 0, int(meta["head_dim"]))
        self.stop_token_ids = set(int(i) for i in meta.get("stop_token_ids", []))
        self.bos_token_id = meta.get("bos_token_id")
        self.add_bos = bool(meta.get("add_bos_token", False))
        template = meta.get("chat_template") or ""
        # the GGUF's own chat template decides the turn markers; SmolLM2's adds a default system turn
        self.chat_format = "llama3" if "<|start_header_id|>" in template else "chatml"
        self.system_prompt = DEFAULT_SYSTEM if "SmolLM" in template else None
        self.last_stats = GenerationStats()
        self._lock = threading.Lock()
        self._cached: tuple[list[int], dict[str, np.ndarray]] | None = None  # last prompt and its KV

    # ------------------------------------------------------------ tokens
    def encode(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if self.add_bos and self.bos_token_id is not None:
            ids = [int(self.bos_token_id)] + ids
        return ids

    def count_tokens(self, text: str) -> int:
        """Tokens the text takes in a prompt (for fitting map-reduce chunks to the context)."""
        return len(self.tokenizer.encode(text or "", add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def format_chat(self, messages: list[dict]) -> str:
        """ChatML, as SmolLM2's template writes it (a default system turn when none is given)."""
        if self.chat_format == "llama3":
            return format_llama3(messages, self.system_prompt)
        return format_chatml(messages, self.system_prompt)

    # ------------------------------------------------------------ model
    def _empty_past(self) -> dict[str, np.ndarray]:
        z = np.zeros(self.kv_shape, np.float32)
        return {f"past_key_values.{i}.{kv}": z for i in range(self.n_layer) for kv in ("key", "value")}

    def _forward(self, ids: list[int], past: dict[str, np.ndarray], total: int) -> tuple[np.ndarray, dict]:
        feed = dict(past)
        feed["input_ids"] = np.asarray([ids], np.int64)
        feed["attention_mask"] = np.ones((1, total), np.int64)
        outs = self.session.run(None, feed)
        names = self._out_names
        present = {names[j].replace("present.", "past_key_values."): outs[j] for j in range(1, len(outs))}
        return outs[0][0, -1], present

    @property
    def _out_names(self) -> list[str]:
        if not hasattr(self, "_names"):
            self._names = [o.name for o in self.session.get_outputs()]
        return self._names

    def _reusable(self, ids: list[int]) -> tuple[int, dict[str, np.ndarray]]:
        """(tokens, KV cache) of the longest opening this prompt shares with the last one (at
        least one token is left to run, as its logits are needed)."""
        if self._cached is None:
            return 0, self._empty_past()
        old, past = self._cached
        limit = min(len(old), len(ids) - 1)
        same = 0
        while same < limit and old[same] == ids[same]:
            same += 1
        if same == 0:
            return 0, self._empty_past()
        return same, {k: np.ascontiguousarray(v[:, :, :same, :]) for k, v in past.items()}

    def _prefill(self, ids: list[int], cancel: threading.Event | None = None) -> tuple[np.ndarray, dict]:
        """The prompt in chunks of PREFILL_CHUNK tokens, so a long prompt can be cancelled midway;
        the opening it shares with the previous prompt is taken from that prompt's KV cache."""
        start, past = self._reusable(ids)
        self.last_stats.reused_tokens = start
        logits = None
        for start in range(start, len(ids), PREFILL_CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled("generation cancelled")
            chunk = ids[start:start + PREFILL_CHUNK]
            logits, past = self._forward(chunk, past, start + len(chunk))
        self._cached = (list(ids), past) if len(ids) <= PREFIX_CACHE_TOKENS else None
        return logits, past

    def logits(self, ids: list[int]) -> np.ndarray:
        """Next-token logits after a full prompt (float32 [vocab]); used by parity tests."""
        out, _ = self._forward(list(ids), self._empty_past(), len(ids))
        return out

    def generate_ids(self, prompt_ids: list[int], max_new_tokens: int = 200, temperature: float = 0.0,
                     top_p: float = 1.0, seed: int | None = None, repetition_penalty: float = 1.1,
                     cancel: threading.Event | None = None,
                     logit_bias: np.ndarray | None = None) -> Iterator[int]:
        """Yield new token ids: one prefill pass, then one cached step per token.

        `logit_bias` ([vocab], added to every step's logits; -inf forbids a token) lets grounded
        summaries copy names and numbers only from their source.
        """
        if not prompt_ids:
            raise UsageError("empty prompt")
        if len(prompt_ids) >= self.n_ctx:
            raise UsageError(f"the prompt has {len(prompt_ids)} tokens; the model's context is {self.n_ctx}",
                             hint="shorten the input, or use the hybrid (map-reduce) summary mode")
        max_new = max(0, min(int(max_new_tokens), self.n_ctx - len(prompt_ids)))
        rng = np.random.default_rng(seed)
        stats = GenerationStats(prompt_tokens=len(prompt_ids))
        self.last_stats = stats
        seen = np.zeros(int(self.meta["vocab"]), bool)
        seen[np.asarray(prompt_ids)] = True
        if max_new == 0:
            stats.stop_reason = "length"
            return
        t0 = time.perf_counter()
        logits, past = self._prefill(list(prompt_ids), cancel)
        stats.prefill_seconds = time.perf_counter() - t0
        total = len(prompt_ids)
        t1 = time.perf_counter()
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("generation cancelled")
            if logit_bias is not None:
                logits = logits + logit_bias[: len(logits)]
            tok = _pick(logits, seen, temperature, top_p, repetition_penalty, rng)
            if tok in self.stop_token_ids:
                stats.stop_reason = "eos"
                break
            stats.new_tokens += 1
            seen[tok] = True
            yield tok
            if stats.new_tokens >= max_new:
                stats.stop_reason = "length"
                break
            total += 1
            logits, past = self._forward([tok], past, total)
            stats.decode_seconds = time.perf_counter() - t1
        stats.decode_seconds = time.perf_counter() - t1

    def complete(self, prompt: str, max_new_tokens: int = 200, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, repetition_penalty: float = 1.1, stop: list[str] | None = None,
                 on_token: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
                 logit_bias: np.ndarray | None = None) -> str:
        """Continue a raw prompt (special tokens allowed); returns only the new text."""
        watch = _StopWatch([s for s in (stop or []) if s])
        with self._lock:
            ids: list[int] = []
            emitted = 0
            text = ""
            gen = self.generate_ids(self.encode(prompt), max_new_tokens, temperature, top_p, seed,
                                    repetition_penalty, cancel, logit_bias)
            for tok in gen:
                ids.append(tok)
                text = self.decode(ids)
                hit = min((text.find(s) for s in watch.stops if s in text), default=-1)
                if hit >= 0:
                    text = text[:hit]
                    self.last_stats.stop_reason = "stop"
                    gen.close()
                    break
                safe = len(text) - watch.hold_back(text)
                while safe > emitted and text[safe - 1] == "\ufffd":  # an incomplete UTF-8 sequence
                    safe -= 1
                if on_token is not None and safe > emitted:
                    on_token(text[emitted:safe])
                    emitted = safe
            if on_token is not None and len(text) > emitted:
                on_token(text[emitted:])
            return text

    def chat(self, messages: list[dict], max_new_tokens: int = 200, temperature: float = 0.0, top_p: float = 1.0,
             seed: int | None = None, repetition_penalty: float = 1.1, stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
             logit_bias: np.ndarray | None = None) -> str:
        """The assistant's reply to a list of {role, content} messages (ChatML), streamed to on_token."""
        return self.complete(self.format_chat(messages), max_new_tokens, temperature, top_p, seed,
                             repetition_penalty, stop, on_token, cancel, logit_bias).strip()


def _pick(logits: np.ndarray, seen: np.ndarray, temperature: float, top_p: float, penalty: float,
          rng: np.random.Generator) -> int:
    """Next token: HF-style repetition penalty, then greedy (temperature 0) or nucleus sampling."""
    x = logits.astype(np.float64, copy=True)
    if penalty and penalty != 1.0:
        s = x[seen]
        x[seen] = np.where(s > 0, s / penalty, s * penalty)
    if not temperature or temperature <= 0:
        return int(np.argmax(x))
    x = x / temperature
    x -= x.max()
    p = np.exp(x)
    p /= p.sum()
    if 0 < top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(len(p), p=p))

