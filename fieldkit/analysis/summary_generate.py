"""Abstractive and hybrid summaries: the prepared generative model, prompted per input shape,
every sentence grounded before it is shown (fieldkit.analysis.summary_grounding).

Why a module of its own: the extractive path (fieldkit.analysis.summarize) must import and run
without the generator; this one holds prompting, packing input into the model's window,
map-reduce for long input, and the checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from fieldkit.analysis.sentences import split_sentences
from fieldkit.analysis.summary_result import Summary, joiner as _joiner
from fieldkit.errors import ModelError
from fieldkit.progress import Reporter

GENERATOR_ID = "smollm2-135m-instruct"
PREPARE_HINT = f"fieldkit models prepare {GENERATOR_ID}"


@dataclass(frozen=True)
class GenerationOptions:
    """How abstractive and hybrid summaries are generated and checked (defaults from the bench)."""

    fewshot: bool = False  # one worked example (written for fieldkit) before the input
    constrain: bool = True  # names and numbers only from the source, enforced while decoding
    ground: bool = True  # every sentence checked; unsupported ones replaced by a source sentence
    min_cosine: float | None = None  # None: summary_grounding.MIN_COSINE
    max_novel: int | None = None  # None: summary_grounding.MAX_NOVEL


@dataclass(frozen=True)
class _GenContext:
    instruction: str | None
    genre: str
    fewshot: bool
    bias: np.ndarray | None


def _ground(s: Summary, units, genre, embedder, opts: GenerationOptions, reporter) -> Summary:
    from fieldkit.analysis.summary_grounding import ground_text

    shown, checks = ground_text(s.text, units, genre, _get_embedder(embedder), reporter,
                                opts.min_cosine, opts.max_novel)
    if not checks:
        return s
    n_rep = sum(c.replaced for c in checks)
    note = (f"{n_rep} of {len(checks)} generated sentences were not supported by the source "
            "and were replaced by the closest source sentence") if n_rep else (
            f"all {len(checks)} generated sentences checked against the source")
    return replace(s, text=_joiner(shown).join(shown), units=tuple(shown), genre=genre,
                   replaced=n_rep, generated=len(checks), notes=s.notes + (note,))


def _get_embedder(embedder):
    if embedder is not None:
        return embedder
    from fieldkit.inference.embedder import get_embedder

    return get_embedder()


def generate_summary(units: Sequence[str], mode: str, max_sentences: int, reporter: Reporter,
                     on_token: Callable[[str], None] | None, instruction: str | None, embedder,
                     generator, options: "GenerationOptions | None") -> Summary:
    """An abstractive or hybrid summary of non-empty units, checked before it is returned."""
    gen = generator or _load_generator()
    sentences = [s for u in units for s in split_sentences(u)]
    if sentences and len(sentences) <= max_sentences:
        # Nothing to condense: a small model asked to summarize a line or two invents a story.
        kept = _joiner(sentences).join(sentences)
        if on_token is not None:  # streaming callers show what is returned
            on_token(kept)
        return Summary(kept, "extractive", None, units=tuple(sentences),
                       notes=("the input is no longer than the summary asked for; kept as it is",))
    from fieldkit.analysis.summary_genre import detect_shape

    opts = options or GenerationOptions()
    genre = detect_shape(units[0]).genre if len(units) == 1 else "answers"
    if opts.constrain:
        from fieldkit.analysis.summary_grounding import copy_bias

        bias = copy_bias(gen, "\n".join(units)) if hasattr(gen, "tokenizer") else None
    else:
        bias = None
    ctx = _GenContext(instruction, genre, opts.fewshot, bias)
    if mode == "abstractive" and genre == "dialogue" and not instruction:
        from fieldkit.analysis.summary_rewrite import retell_dialogue

        s, _ = retell_dialogue(units[0], max_sentences, gen, _get_embedder(embedder), reporter, bias,
                               reporter.cancel)  # each retelling checked against its own line
        if on_token is not None and s.text:
            on_token(s.text)
        return s
    if mode == "abstractive":
        s = _abstractive(units, max_sentences, reporter, ctx, gen)
    else:
        s = _hybrid(units, max_sentences, reporter, ctx, gen)
    if opts.ground:
        s = _ground(s, units, genre, embedder, opts, reporter)
    if mode == "hybrid" and genre == "dialogue":  # extractive frame: who spoke, about what
        from fieldkit.analysis.summary_dialogue import topic_line_for
        from fieldkit.analysis.summary_genre import parse_turns

        frame = topic_line_for(parse_turns(units[0]))
        if frame:
            s = replace(s, text=f"{frame} {s.text}".strip(), units=(frame,) + s.units)
    if on_token is not None and s.text:  # only checked text is ever shown
        on_token(s.text)
    return s


# ------------------------------------------------------------------ abstractive / hybrid


def _load_generator():
    try:
        from fieldkit.inference.generator import is_prepared, load_generator
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("fieldkit.inference"):
            raise ModelError(f"the generative model {GENERATOR_ID} is not available",
                             PREPARE_HINT) from e
        raise
    if not is_prepared(GENERATOR_ID):
        raise ModelError(
            f"abstractive summaries need the generative model {GENERATOR_ID}, which is not prepared",
            PREPARE_HINT,
        )
    return load_generator(GENERATOR_ID)


def _instruction(units: Sequence[str], n: int, instruction: str | None, genre: str = "") -> str:
    if instruction:
        return instruction
    s = "sentence" if n == 1 else "sentences"
    if genre == "dialogue":
        return (f"Summarize the conversation below in {n} short {s}. Say who did or decided what, "
                "by name. Use only facts stated in the conversation.")
    if len(units) > 1:
        return (f"Below are {len(units)} answers to the same survey question, one per line. "
                f"Summarize what people said in {n} short {s}. Use only what the answers say.")
    return f"Summarize the text below in {n} short {s}. Use only facts stated in the text."


def _prompt(units: Sequence[str], n: int, instruction: str | None, genre: str = "") -> str:
    body = "\n".join(f"- {u}" for u in units) if len(units) > 1 else units[0]
    return f"{_instruction(units, n, instruction, genre)}\n\n{body}"


# One worked example per shape, written for fieldkit (not taken from any evaluation set).
_EXAMPLES = {
    "dialogue": ("Amina: The pump at the north well broke on Monday.\nJoseph: I will call the "
                 "mechanic today and ask him to bring a new valve.\nAmina: Good. Until then people "
                 "can use the school tap.",
                 "Amina reports that the north well pump broke on Monday. Joseph will call the "
                 "mechanic for a new valve."),
    "report": ("Heavy rain flooded three villages near Kasese on Tuesday, the district office said. "
               "About 400 families left their homes. Two schools are being used as shelters, and "
               "the Red Cross is bringing water and blankets.",
               "Rain flooded three villages near Kasese, and about 400 families left their homes. "
               "Two schools are shelters."),
}


def _overhead_text(units, n, ctx: _GenContext) -> str:
    """Everything of the prompt but the input (instruction and worked example), for budgets."""
    example = _EXAMPLES.get(ctx.genre) if ctx.fewshot and not ctx.instruction else None
    return _instruction(units, n, ctx.instruction, ctx.genre) + ("\n".join(example) if example else "")


def _messages(units, n, ctx: _GenContext) -> list[dict]:
    messages = []
    example = _EXAMPLES.get(ctx.genre) if ctx.fewshot and not ctx.instruction else None
    if example:
        k = len(split_sentences(example[1]))
        messages += [{"role": "user", "content": _prompt([example[0]], k, None, ctx.genre)},
                     {"role": "assistant", "content": example[1]}]
    messages.append({"role": "user", "content": _prompt(units, n, ctx.instruction, ctx.genre)})
    return messages


def _max_new_tokens(n: int) -> int:
    return 48 * n + 32


def _clean_generation(text: str, n: int) -> str:
    """Drop a "Summary:" preamble, keep at most n sentences, and cut a sentence left unfinished
    by the token limit (a small model often runs long and stops mid-word)."""
    text = text.replace("<|im_end|>", "").strip()
    text = re.sub(r"^(here is|here's)?\s*(a|the)?\s*summary[^:\n]*:\s*", "", text, flags=re.I)
    sentences = split_sentences(text)
    if len(sentences) > 1 and not re.search(r"[.!?。！？…\"'”’)]$", sentences[-1]):
        sentences = sentences[:-1]
    sentences = sentences[:n]
    return _joiner(sentences).join(sentences).strip()


def _budget(gen, n: int, instruction_text: str) -> int:
    overhead = gen.count_tokens(instruction_text) + 32  # chat template and separators
    budget = gen.n_ctx - _max_new_tokens(n) - overhead
    if budget < 64:
        raise ModelError(f"the model's context ({gen.n_ctx} tokens) is too small for this summary",
                         "ask for fewer sentences")
    return budget


def _pieces(units: Sequence[str], genre: str = "") -> list[str]:
    """The smallest pieces we may cut at: turns of a dialogue, sentences of one document, or
    whole answers."""
    if len(units) == 1 and genre == "dialogue":
        return [ln.strip() for ln in units[0].splitlines() if ln.strip()]
    return split_sentences(units[0]) if len(units) == 1 else list(units)


def _chunks(pieces: Sequence[str], gen, budget: int) -> list[list[str]]:
    """Greedy packing of pieces into chunks of at most `budget` tokens (long pieces cut)."""
    chunks: list[list[str]] = [[]]
    used = 0
    for p in pieces:
        t = gen.count_tokens(p) + 2
        if t > budget:  # a single over-long piece: cut it by characters, proportionally
            step = max(16, int(len(p) * budget / t * 0.9))
            for s in range(0, len(p), step):
                chunks.append([p[s : s + step]])
            chunks.append([])
            used = 0
            continue
        if used + t > budget and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(p)
        used += t
    return [c for c in chunks if c]


def _generate(gen, units, n, ctx: _GenContext, reporter, on_token) -> str:
    """One generation that stops as soon as n sentences are complete; only those stream out."""
    import threading

    from fieldkit.errors import Cancelled

    reporter.check()
    stop = threading.Event()
    state = {"text": "", "sent": 0, "user_cancel": False}

    def gate(token: str) -> None:
        if reporter.cancel is not None and reporter.cancel.is_set():
            state["user_cancel"] = True
            stop.set()
            return
        state["text"] += token
        done = split_sentences(state["text"])
        complete = len(done) - 1 if done and not re.search(r"[.!?。！？]['\"”’)]*\s*$", state["text"]) else len(done)
        if complete >= n:
            stop.set()  # enough sentences: stop generating
        if on_token is not None:
            limit = len(_clean_generation(state["text"], n)) if complete >= n else None
            chunk = token if limit is None else token[: max(0, limit - state["sent"])]
            if limit is None or state["sent"] < limit:
                on_token(chunk)
                state["sent"] += len(chunk)

    try:
        out = gen.chat(
            _messages(units, n, ctx),
            max_new_tokens=_max_new_tokens(n),
            temperature=0.0,
            on_token=gate,
            cancel=stop,
            **({"logit_bias": ctx.bias} if ctx.bias is not None else {}),
        )
    except Cancelled:
        if state["user_cancel"]:
            raise
        out = state["text"]
    return _clean_generation(out, n)


# The model reads at most this many tokens of input: the top-scored pieces (turns with their
# speakers, sentences, answers), in reading order. Reading a 2,049-word transcript whole (3,224
# tokens) was ~80% of an 11-47 s summary; the extractive scores find the key turns in milliseconds.
INPUT_TOKENS = 512
# Per shape: (position weight, position decay in pieces, centrality weight), as the extractive
# summarizers weigh them (summary_dialogue.DialogueParams, summarize.POSITION_WEIGHT).
_CONDENSE_WEIGHTS = {"dialogue": (0.9, 5.0, 0.25), "report": (0.7, 8.0, 0.3)}


def condense(pieces: Sequence[str], genre: str, gen, budget: int) -> list[str]:
    """The top-scored pieces that fit `budget` tokens, in reading order (position prior and
    TF-IDF centrality, as the extractive summary scores them)."""
    from fieldkit.analysis.summary_vectors import tfidf_vectors

    if not pieces:
        return []
    pw, decay, cw = _CONDENSE_WEIGHTS.get(genre, (0.0, 1.0, 1.0))
    text = [p.split(": ", 1)[1] if genre == "dialogue" and ": " in p else p for p in pieces]
    v = tfidf_vectors(text)
    centre = v.mean(axis=0)
    central = v @ (centre / (np.linalg.norm(centre) + 1e-9))
    central = (central - central.min()) / (central.max() - central.min() + 1e-9)
    score = pw * np.exp(-np.arange(len(pieces)) / decay) + cw * central
    kept, used = [], 0
    for i in np.argsort(-score, kind="stable"):
        t = gen.count_tokens(pieces[i]) + 2
        if used + t <= budget:
            kept.append(int(i))
            used += t
    return [pieces[i] for i in sorted(kept)] or [pieces[0][: budget * 3]]


def _condensed(units, n, ctx: _GenContext, gen) -> tuple[list[str], tuple[str, ...]]:
    """The units the model reads: all of them when they fit INPUT_TOKENS, else the key pieces."""
    budget = min(INPUT_TOKENS, _budget(gen, n, _overhead_text(units, n, ctx)))
    pieces = _pieces(units, ctx.genre)
    if sum(gen.count_tokens(p) + 2 for p in pieces) <= budget:
        return list(units), ()
    kept = condense(pieces, ctx.genre, gen, budget)
    note = (f"the model read the {len(kept)} top-scored of {len(pieces)} pieces ({budget}-token "
            "budget, in reading order)",)
    return ([_piece_joiner(kept, ctx.genre).join(kept)] if len(units) == 1 else kept), note


def _abstractive(units, n, reporter, ctx: _GenContext, gen) -> Summary:
    units, notes = _condensed(units, n, ctx, gen)
    text = _generate(gen, units, n, ctx, reporter, None)
    return Summary(text, "abstractive", gen.model_id, notes=notes)


def _piece_joiner(pieces: Sequence[str], genre: str) -> str:
    return "\n" if genre == "dialogue" else _joiner(pieces)


def _hybrid(units, n, reporter, ctx: _GenContext, gen) -> Summary:
    if ctx.genre == "dialogue":  # the key turns (who said what), found by the extractive scores
        units, notes = _condensed(units, n, ctx, gen)
        return Summary(_generate(gen, units, n, ctx, reporter, None), "hybrid", gen.model_id, notes=notes)
    budget = _budget(gen, n, _overhead_text(units, n, ctx))
    chunks = _chunks(_pieces(units, ctx.genre), gen, budget)
    if len(chunks) == 1:
        text = _generate(gen, units, n, ctx, reporter, None)
        return Summary(text, "hybrid", gen.model_id, notes=("input fit in one part",))
    progress = reporter.child("summarize parts", len(chunks) + 1)
    partial: list[str] = []
    for i, chunk in enumerate(chunks):
        part_units = [_piece_joiner(chunk, ctx.genre).join(chunk)] if len(units) == 1 else chunk
        partial.append(_generate(gen, part_units, n, ctx, reporter, None))
        progress.update(i + 1)
    rounds = 1
    merge = _GenContext(None, "", False, ctx.bias)
    # Reduce: summarize the partial summaries, again in parts if they do not fit.
    while True:
        merged = "\n".join(partial)
        reduce_budget = _budget(gen, n, _instruction([merged], n, None))
        parts = _chunks(split_sentences(merged), gen, reduce_budget)
        if len(parts) == 1 or rounds >= 4:
            text = _generate(gen, [merged if len(parts) == 1 else " ".join(parts[0])], n,
                             merge, reporter, None)
            break
        partial = [_generate(gen, [" ".join(p)], n, merge, reporter, None) for p in parts]
        rounds += 1
    progress.finish()
    return Summary(text, "hybrid", gen.model_id,
                   notes=(f"{len(chunks)} parts, {rounds} merge round(s)",))
