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
- abstractive and hybrid (fieldkit.analysis.summary_generate): the prepared generative model reads
  the key pieces the extractive scores pick; a dialogue's key lines are retold in reported speech
  and each checked against its own line (summary_rewrite); everything generated is checked
  against the source before it is shown.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from fieldkit.analysis.sentences import is_cjk_text, split_sentences
from fieldkit.analysis.summary_generate import (  # noqa: F401  (re-exported: the public API)
    GENERATOR_ID, PREPARE_HINT, GenerationOptions, _get_embedder, _load_generator)
from fieldkit.analysis.summary_result import Summary, joiner as _joiner
from fieldkit.errors import UsageError
from fieldkit.progress import Reporter

MODES = ("auto", "extractive", "abstractive", "hybrid")
# Chosen by bench/bench_summarize.py on CNN/DailyMail (ROUGE-1 vs Lead-3 and the generator).
AUTO_MODE = "extractive"

# Extractive report weights: the grid point most folds picked in 10-fold CV over 1,344 settings
# (with the length budget below) on cnndm_dev_100 (bench/bench_summarize.py prints every fold and
# the held-out figure). Content-only scores (centroid, TextRank, ridge, boosted or logistic sentence scores learned on oracle labels)
# lost 1-7 points to Lead-3 held out, so the position prior dominates: news puts the point first.
POSITION_WEIGHT = 0.7  # share of the score from position (exp(-i / POSITION_DECAY))
POSITION_DECAY = 8.0  # sentences
MMR_PENALTY = 0.3  # times the max cosine to an already picked sentence
LENGTH_PENALTY = 0.0  # per 25 words beyond 25 (CV: no help once short sentences are out)
NEAR_DUPLICATE = 0.8  # cosine above which a sentence is never picked beside another
REPORT_MIN_WORDS = 12  # report sentences shorter than this (quotes, "He was 88.") come last
# Report "sentences" longer than this come last too: run-ons where a photo caption or a list lost its
# full stop and was glued to the next sentence (a summary line of 80 words reads badly). 0 = no limit.
REPORT_MAX_WORDS = 70
MIN_WORDS = 4  # shorter sentences ("Yes.") are kept only when nothing else is left
# Length budget: a report summary asked for n sentences takes the prefix of the ranked sentences
# (n - 1 to n + 1 of them) whose length is closest to n x this many words, not always n sentences:
# ROUGE-1 F rewards a summary of the reference's length, and three long lead sentences overshoot
# it while three short ones undershoot. 10-fold CV on cnndm_dev_100 (bench/bench_summarize.py);
# 0 = exactly n sentences.
REPORT_WORDS_PER_SENTENCE = 23.0


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
    document: bool = False,
) -> Summary:
    """Summarize one document (a single text) or a collection (several texts, each a unit).

    `document`: the text is a document by its format (Markdown, reStructuredText), so its shape is
    a report or a dialogue, never a list of answers or a log.

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
    if len(units) == 1:  # a report or transcript typed at 72 columns: its paragraphs, not its lines
        from fieldkit.analysis.unwrap import unwrap_document

        units = [unwrap_document(units[0])]
    if embeddings is not None:
        embeddings = np.asarray(embeddings)[keep]
    if mode == "auto":
        mode = AUTO_MODE
    if mode == "extractive":
        if len(units) == 1:
            return _extract_document(units[0], max_sentences, reporter, embedder, document)
        return _extract_collection(units, max_sentences, reporter, embeddings, embedder)
    from fieldkit.analysis.summary_generate import generate_summary

    return generate_summary(units, mode, max_sentences, reporter, on_token, instruction, embedder,
                            generator, options)



# ---------------------------------------------------------------- extractive: documents


def _sentence_vectors(embedder):
    """What compares one document's sentences: the caller's embedder, else TF-IDF (no model to
    load; level with MiniLM held out on DialogSum and CNN/DM, see summary_vectors)."""
    if embedder is not None:
        return embedder
    from fieldkit.analysis.summary_vectors import TfidfVectors

    return TfidfVectors()


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
    ordered: bool = False,
    need: int | None = None,
) -> list[int]:
    """Indices of k sentences: position prior + centroid centrality, greedy MMR; reading order.

    Sentences under `min_words` or over `max_words` are picked only when fewer than k others are
    left (a short text); `centrality` replaces the cosine to the centroid (the bench tries others);
    `ordered` returns them in the order they were picked (best first) instead; `need` (default k)
    is how many must be left for the word limits to hold.
    """
    n = len(embeddings)
    words = np.asarray(n_words)
    if n <= k and not ordered:
        return list(range(n))
    k = min(k, n)
    need = min(k if need is None else need, n)
    longest = REPORT_MAX_WORDS if max_words is None else max_words
    ok = words >= (REPORT_MIN_WORDS if min_words is None else min_words)
    if longest and (ok & (words <= longest)).sum() >= need:
        ok &= words <= longest
    if ok.sum() < need:  # a short text: relax to MIN_WORDS, then to every sentence
        ok = words >= min(MIN_WORDS, REPORT_MIN_WORDS if min_words is None else min_words)
    if ok.sum() < need:
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
        elif len(picked) >= need:  # a near duplicate only to reach `need`, never as an extra
            break
        best = int(np.argmax(mmr))
        if not np.isfinite(mmr[best]):
            break
        picked.append(best)
        redundancy = np.maximum(redundancy, embeddings @ embeddings[best])
    return picked if ordered else sorted(picked)


def budget_prefix(order: Sequence[int], n_words: Sequence[int], budget: float, fewest: int = 1) -> list[int]:
    """The prefix of `order` (best first, at least `fewest` long) whose word count is closest to
    `budget`, in reading order; ties go to the shorter prefix. A budget <= 0 keeps all of `order`."""
    order = list(order)
    if budget <= 0 or len(order) <= fewest:
        return sorted(order)
    totals = np.cumsum([n_words[i] for i in order])[fewest - 1:]
    return sorted(order[: int(np.argmin(np.abs(totals - budget))) + fewest])


def rank_report(embeddings: np.ndarray, n_words: Sequence[int], k: int,
                words_per_sentence: float = REPORT_WORDS_PER_SENTENCE, **kw) -> list[int]:
    """rank_sentences, then k - 1 to k + 1 sentences: those nearest k x words_per_sentence words."""
    if words_per_sentence <= 0:
        return rank_sentences(embeddings, n_words, k, **kw)
    order = rank_sentences(embeddings, n_words, k + 1, ordered=True, need=k, **kw)
    return budget_prefix(order, n_words, words_per_sentence * k, fewest=max(1, k - 1))


def _word_count(sentence: str) -> int:
    # CJK has no spaces: count characters / 2 as a rough word count.
    if is_cjk_text(sentence):
        return max(1, len(sentence) // 2)
    return len(sentence.split())


def _extract_document(text: str, k: int, reporter: Reporter, embedder, document: bool = False) -> Summary:
    from fieldkit.analysis.summary_genre import detect_shape

    genre = detect_shape(text).genre
    if document and genre in ("answers", "log"):  # headings and list items are short lines, not answers
        genre = "report"
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
    picked = rank_report(np.asarray(vectors, dtype=np.float32), [_word_count(s) for s in sentences], k)
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

