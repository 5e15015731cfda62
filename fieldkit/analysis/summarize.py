"""Summaries of a document or of a column of answers: extractive, abstractive, or hybrid.

- extractive (the default, see AUTO_MODE): one document is first read for its shape
  (fieldkit.analysis.summary_genre): a dialogue or transcript gets a topic line and its key
  sentences with the speaker named (fieldkit.analysis.summary_dialogue); a report gets
  sentences by a mix of position and centrality with MMR redundancy control (news and reports
  put the point first; centrality alone loses to Lead-3). A document's sentences are compared
  by TF-IDF over its own sentences (fieldkit.analysis.summary_vectors): level with MiniLM held
  out and no model to load, so a 2,000-word transcript takes milliseconds. A log or a list of
  short lines is treated as a collection of answers; for many short texts (survey answers),
  treat each answer as a unit and pick one representative answer per k-means cluster,
  largest first, with its share. It can only quote the input, so it cannot invent facts.
- abstractive: the prepared generative model with a short, specific prompt.
- hybrid: split long input to fit the model's context window, summarize each part, then
  summarize the partial summaries (map-reduce), reporting progress per part.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from fieldkit.analysis.sentences import is_cjk_text, split_sentences
from fieldkit.errors import ModelError, UsageError
from fieldkit.progress import Reporter

GENERATOR_ID = "smollm2-135m-instruct"
PREPARE_HINT = f"fieldkit models prepare {GENERATOR_ID}"
MODES = ("auto", "extractive", "abstractive", "hybrid")
# Chosen by bench/bench_summarize.py on CNN/DailyMail (ROUGE-1 vs Lead-3 and the generator).
AUTO_MODE = "extractive"

# Extractive report weights: the grid point most folds picked in 10-fold CV over 192 settings on
# cnndm_dev_100 (bench/bench_summarize.py prints every fold and the held-out figure). Content-only
# scores (centroid, TextRank, ridge, boosted or logistic sentence scores learned on oracle labels)
# lost 1-7 points to Lead-3 held out, so the position prior dominates: news puts the point first.
POSITION_WEIGHT = 0.8  # share of the score from position (exp(-i / POSITION_DECAY))
POSITION_DECAY = 8.0  # sentences
MMR_PENALTY = 0.3  # times the max cosine to an already picked sentence
LENGTH_PENALTY = 0.0  # per 25 words beyond 25 (CV: no help once short sentences are out)
NEAR_DUPLICATE = 0.8  # cosine above which a sentence is never picked beside another
REPORT_MIN_WORDS = 8  # report sentences shorter than this (quotes, "He was 88.") come last
# Report "sentences" longer than this come last too: run-ons where a photo caption or a list lost its
# full stop and was glued to the next sentence (a summary line of 80 words reads badly). 0 = no limit.
REPORT_MAX_WORDS = 70
MIN_WORDS = 4  # shorter sentences ("Yes.") are kept only when nothing else is left


@dataclass(frozen=True)
class Summary:
    """A summary and how it was made (mode actually used, model id)."""

    text: str
    mode: str
    model: str | None
    units: tuple[str, ...] = ()  # extractive: the picked sentences or answers, in order
    notes: tuple[str, ...] = field(default_factory=tuple)
    genre: str = ""  # the input's shape (summary_genre.GENRES); "" for a collection
    replaced: int = 0  # generated sentences replaced by the closest source sentence
    generated: int = 0  # generated sentences checked against the source


def summarize_text(text: str, mode: str = "auto", n: int = 3, **kwargs) -> Summary:
    """Summary of one text (a document, transcript, report or log) in about n sentences."""
    return summarize_texts([text], mode=mode, max_sentences=n, **kwargs)


def summarize_texts(
    texts: Sequence[str | None],
    mode: str = "auto",
    max_sentences: int = 3,
    reporter: Reporter | None = None,
    on_token: Callable[[str], None] | None = None,
    instruction: str | None = None,
    *,
    embeddings: np.ndarray | None = None,
    embedder=None,
    generator=None,
    options: GenerationOptions | None = None,
) -> Summary:
    """Summarize one document (a single text) or a collection (several texts, each a unit).

    `embeddings` (aligned with `texts`) lets callers reuse a cached column embedding. Generated
    text is grounded (summary_grounding) before it is returned or streamed to `on_token`.
    """
    if mode not in MODES:
        raise UsageError(f"unknown summary mode {mode!r}", "use one of: " + ", ".join(MODES))
    if max_sentences < 1:
        raise UsageError("--sentences must be at least 1", "for example --sentences 3")
    reporter = reporter or Reporter("summarize")
    keep = [i for i, t in enumerate(texts) if t is not None and str(t).strip()]
    if not keep:
        return Summary("", AUTO_MODE if mode == "auto" else mode, None, notes=("no text to summarize",))
    units = [str(texts[i]).strip() for i in keep]
    if embeddings is not None:
        embeddings = np.asarray(embeddings)[keep]
    if mode == "auto":
        mode = AUTO_MODE
    if mode == "extractive":
        if len(units) == 1:
            return _extract_document(units[0], max_sentences, reporter, embedder)
        return _extract_collection(units, max_sentences, reporter, embeddings, embedder)
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


# ---------------------------------------------------------------- extractive: documents


def _get_embedder(embedder):
    if embedder is not None:
        return embedder
    from fieldkit.inference.embedder import get_embedder

    return get_embedder()


def _sentence_vectors(embedder):
    """What compares one document's sentences: the caller's embedder, else TF-IDF (no model to
    load; level with MiniLM held out on DialogSum and CNN/DM, see summary_vectors)."""
    if embedder is not None:
        return embedder
    from fieldkit.analysis.summary_vectors import TfidfVectors

    return TfidfVectors()


def _joiner(parts: Sequence[str]) -> str:
    return "" if parts and is_cjk_text("".join(parts)) else " "


def rank_sentences(
    embeddings: np.ndarray,
    n_words: Sequence[int],
    k: int,
    position_weight: float = POSITION_WEIGHT,
    mmr_penalty: float = MMR_PENALTY,
    min_words: int | None = None,
    position_decay: float | None = None,
    length_penalty: float | None = None,
    centrality: np.ndarray | None = None,
    max_words: int | None = None,
) -> list[int]:
    """Indices of k sentences: position prior + centroid centrality, greedy MMR; reading order.

    Sentences under `min_words` or over `max_words` are picked only when fewer than k others are
    left (a short text); `centrality` replaces the cosine to the centroid (the bench tries others).
    """
    n = len(embeddings)
    if n <= k:
        return list(range(n))
    words = np.asarray(n_words)
    longest = REPORT_MAX_WORDS if max_words is None else max_words
    ok = words >= (REPORT_MIN_WORDS if min_words is None else min_words)
    if longest and (ok & (words <= longest)).sum() >= k:
        ok &= words <= longest
    if ok.sum() < k:  # a short text: relax to MIN_WORDS, then to every sentence
        ok = words >= min(MIN_WORDS, REPORT_MIN_WORDS if min_words is None else min_words)
    if ok.sum() < k:
        ok[:] = True
    centroid = embeddings.mean(axis=0)
    centroid /= np.linalg.norm(centroid) + 1e-9
    central = embeddings @ centroid if centrality is None else np.asarray(centrality, dtype=np.float64)
    lo, hi = central[ok].min(), central[ok].max()
    central = (central - lo) / (hi - lo + 1e-9)
    position = np.exp(-np.arange(n) / (POSITION_DECAY if position_decay is None else position_decay))
    score = position_weight * position + (1 - position_weight) * central
    score -= (LENGTH_PENALTY if length_penalty is None else length_penalty) * np.clip((words - 25) / 25, 0, None)
    score[~ok] = -np.inf
    picked: list[int] = []
    redundancy = np.full(n, -np.inf)
    while len(picked) < k:
        mmr = score - mmr_penalty * np.maximum(redundancy, 0)
        mmr[picked] = -np.inf
        if np.isfinite(mmr[redundancy < NEAR_DUPLICATE]).any():
            mmr[redundancy >= NEAR_DUPLICATE] = -np.inf
        best = int(np.argmax(mmr))
        if not np.isfinite(mmr[best]):
            break
        picked.append(best)
        redundancy = np.maximum(redundancy, embeddings @ embeddings[best])
    return sorted(picked)


def _word_count(sentence: str) -> int:
    # CJK has no spaces: count characters / 2 as a rough word count.
    if is_cjk_text(sentence):
        return max(1, len(sentence) // 2)
    return len(sentence.split())


def _extract_document(text: str, k: int, reporter: Reporter, embedder) -> Summary:
    from fieldkit.analysis.summary_genre import detect_shape

    genre = detect_shape(text).genre
    if genre == "dialogue":
        return _extract_dialogue(text, k, reporter, embedder)
    if genre in ("answers", "log"):
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        s = _extract_collection(lines, k, reporter, None, embedder,
                                key=_log_key if genre == "log" else normalise_answer, noun="lines")
        return replace(s, genre=genre, notes=s.notes + (f"read as {genre}: one line per unit",))
    sentences = split_sentences(text)
    emb = _sentence_vectors(embedder)
    if len(sentences) <= k:
        return Summary(_joiner(sentences).join(sentences), "extractive", emb.model_id,
                       tuple(sentences))
    vectors = emb.embed_all(sentences, reporter=reporter.child("embed sentences", len(sentences)))
    picked = rank_sentences(np.asarray(vectors, dtype=np.float32),
                            [_word_count(s) for s in sentences], k)
    chosen = [sentences[i] for i in picked]
    return Summary(_joiner(chosen).join(chosen), "extractive", emb.model_id, tuple(chosen),
                   genre="report")


def _extract_dialogue(text: str, k: int, reporter: Reporter, embedder) -> Summary:
    from fieldkit.analysis import summary_dialogue as D
    from fieldkit.analysis.summary_genre import parse_turns

    turns = parse_turns(text)
    rows = D.dialogue_sentences(turns)
    emb = _sentence_vectors(embedder)
    vectors = emb.embed_all([r[1] for r in rows], reporter=reporter.child("embed sentences", len(rows)))
    units = D.build_units(turns, vectors)
    picked = D.select_sentences(units, k)
    lines = D.render(units, picked)
    return Summary(" ".join(lines), "extractive", emb.model_id, tuple(lines), genre="dialogue",
                   notes=(f"dialogue: {len(turns)} turns by {len(units.names)} speakers",))


_VARIABLE = re.compile(r"\b(?:0x[0-9a-f]+|[0-9a-f]{8,}|\d+(?:[.:/-]\d+)*)\b", re.I)


def _log_key(line: str) -> str:
    """Log lines that differ only in numbers, ids and stamps count as one message."""
    return normalise_answer(_VARIABLE.sub("0", line))


# -------------------------------------------------------------- extractive: collections


def normalise_answer(text: str) -> str:
    """Case-, width- and punctuation-insensitive form used to count identical answers."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\W_]+", " ", text)
    return text.strip()


def representative_units(
    vectors: np.ndarray, weights: np.ndarray, k: int, seed: int = 0
) -> list[tuple[int, float]]:
    """(index, share) of one medoid per k-means cluster, largest cluster first."""
    from sklearn.cluster import KMeans

    n = len(vectors)
    if n <= k:
        order = np.argsort(-weights, kind="stable")
        total = weights.sum()
        return [(int(i), float(weights[i] / total)) for i in order]
    from threadpoolctl import threadpool_limits

    km = KMeans(n_clusters=k, n_init=3, random_state=seed)
    with threadpool_limits(1):  # see fieldkit.analysis.themes._fit_kmeans
        labels = km.fit_predict(vectors, sample_weight=weights)
    total = weights.sum()
    out = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        centre = vectors[members].mean(axis=0)
        centre /= np.linalg.norm(centre) + 1e-9
        sims = vectors[members] @ centre
        # representative = nearest the centre; ties broken by how often it was given
        best = members[int(np.argmax(sims + 1e-3 * np.log1p(weights[members])))]
        out.append((int(best), float(weights[members].sum() / total)))
    out.sort(key=lambda t: -t[1])
    return out


def _extract_collection(units, k, reporter, embeddings, embedder, key=None, noun="answers") -> Summary:
    keys = [(key or normalise_answer)(u) for u in units]
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for i, key in enumerate(keys):
        key = key or units[i]
        first.setdefault(key, i)
        counts[key] = counts.get(key, 0) + 1
    uniq = list(first.values())
    weights = np.array([counts[keys[i] or units[i]] for i in uniq], dtype=np.float64)
    model = None
    if embeddings is None:
        emb = _get_embedder(embedder)
        model = emb.model_id
        vectors = emb.embed_all([units[i] for i in uniq],
                                reporter=reporter.child("embed answers", len(uniq)))
    else:
        vectors = embeddings[uniq]
        model = getattr(embedder, "model_id", None)
    vectors = np.asarray(vectors, dtype=np.float32)
    picks = representative_units(vectors, weights, k)
    chosen = [units[uniq[i]] for i, _ in picks]
    lines = [f"- {units[uniq[i]]} (~{share:.0%} of {noun})" for i, share in picks]
    return Summary("\n".join(lines), "extractive", model, tuple(chosen),
                   (f"{len(units)} {noun}, {len(uniq)} distinct",))


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


def _abstractive(units, n, reporter, ctx: _GenContext, gen) -> Summary:
    budget = _budget(gen, n, _overhead_text(units, n, ctx))
    notes: tuple[str, ...] = ()
    chunks = _chunks(_pieces(units, ctx.genre), gen, budget)
    if len(chunks) > 1:
        kept = chunks[0]
        notes = (f"input cut to the first {len(kept)} of {sum(map(len, chunks))} pieces to fit "
                 f"the model's {gen.n_ctx}-token context; --mode hybrid reads all of it",)
        units = [_piece_joiner(kept, ctx.genre).join(kept)] if len(units) == 1 else kept
    text = _generate(gen, units, n, ctx, reporter, None)
    return Summary(text, "abstractive", gen.model_id, notes=notes)


def _piece_joiner(pieces: Sequence[str], genre: str) -> str:
    return "\n" if genre == "dialogue" else _joiner(pieces)


def _hybrid(units, n, reporter, ctx: _GenContext, gen) -> Summary:
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
