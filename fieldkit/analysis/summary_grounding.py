"""Grounding of generated summaries: no sentence is shown unless its source supports it.

Why: the 135M generator invented or misattributed facts in 9 of 10 news summaries read by hand.
Each generated sentence is checked before it is shown: every number and every capitalised name
must occur in the source, and the sentence must lie close (embedding cosine) to some source
sentence; a sentence that fails is replaced by the closest source sentence not yet used, and the
count of replacements is reported. Names and numbers can also be constrained while decoding
(`copy_bias`): tokens that would start a name or write a digit absent from the source are
forbidden. The cosine threshold was chosen by cross-validation (bench/bench_summarize.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from fieldkit.analysis.sentences import possessive_stem, word_root

MIN_COSINE = 0.55  # generated sentence vs its closest source sentence (CV, see the bench)
MAX_NOVEL = 1  # content words the source never uses (paraphrase allowance; CV, see the bench)
NEAR_REPEAT = 0.9  # cosine (or share of words) at which a second sentence repeats the first
MIN_QUOTE_OVERLAP = 0.9  # "Name: words" reads as a quote: this share of its words must be theirs
# Words that frame a summary without claiming anything the source must contain.
FRAMING_WORDS = frozenset(
    "say says said tell tells told ask asks asked talk talks talked discuss discusses discussed "
    "mention mentions mentioned explain explains explained speak speaks spoke conversation "
    "discussion dialogue text article report answers people speaker speakers summary".split())

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"#\w+#|\b[A-Z][\w'’-]*")
_WORD = re.compile(r"[\w'’-]+")


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | {"i", "ok", "okay", "yes", "no", "mr", "mrs", "ms", "dr"}


def _norm_number(x: str) -> str:
    return x.replace(",", "").rstrip(".").lstrip("0") or "0"


_stem, _root = possessive_stem, word_root  # kept under their old names for summary_rewrite


@dataclass(frozen=True)
class SourceIndex:
    """What a source says, indexed once: its words, numbers and sentence vectors."""

    words: frozenset[str]
    roots: frozenset[str]
    numbers: frozenset[str]
    units: tuple[str, ...]  # what may replace a generated sentence (with speaker for dialogues)
    vectors: np.ndarray  # one row per unit, L2-normalised


def index_source(text: str, units: Sequence[str], vectors: np.ndarray) -> SourceIndex:
    """Index the source text; `units` are its sentences as they would be quoted."""
    return SourceIndex(
        words=frozenset(_stem(w) for w in _WORD.findall(text)),
        roots=frozenset(_root(w) for w in _WORD.findall(text)),
        numbers=frozenset(_norm_number(n) for n in _NUMBER.findall(text)),
        units=tuple(units),
        vectors=np.asarray(vectors, dtype=np.float32),
    )


def unsupported_claims(sentence: str, source: SourceIndex) -> list[str]:
    """Numbers and capitalised names of the sentence that the source never mentions."""
    missing = [n for n in _NUMBER.findall(sentence) if _norm_number(n) not in source.numbers]
    common = _common_words()
    for m in _CAPITALISED.finditer(sentence):
        word = m.group(0)
        key = _stem(word)
        at_start = not sentence[: m.start()].strip(" \"'“‘(-")
        if key in source.words or (at_start and key in common):
            continue
        parts = [p for p in re.split(r"[-'’]", key) if p]
        if parts and all(p in source.words for p in parts):
            continue
        missing.append(word)
    return missing


def novel_words(sentence: str, source: SourceIndex) -> list[str]:
    """Content words of the sentence that the source never uses in any form."""
    common = _common_words()
    out = []
    for w in _WORD.findall(sentence):
        lw = _stem(w)
        if (len(lw) < 3 or lw in common or lw in FRAMING_WORDS or w[:1].isupper() or lw.isdigit()
                or "'" in lw):  # contractions ("you're") are function words
            continue  # names and numbers are checked by unsupported_claims
        if _root(lw) not in source.roots:
            out.append(w)
    return out


_QUOTE = re.compile(r"^\s*([^:\n]{1,40}):\s+(.+)$")


def _closest_line(sentence: str, source: SourceIndex) -> tuple[int, float]:
    """(index, share): the source unit holding the largest share of the sentence's words (ties:
    the unit with the fewest words the sentence lacks, so "I'm Alice." finds itself, not "I'm
    not laughing at you.")."""
    words = [_stem(w) for w in _WORD.findall(sentence)]
    best, at = (0.0, 0.0), -1
    for j, unit in enumerate(source.units):
        have = {_stem(w) for w in _WORD.findall(unit)}
        key = (sum(w in have for w in words) / max(1, len(words)), len(have & set(words)) / max(1, len(have)))
        if key > best:
            best, at = key, j
    return at, best[0]


def misquoted(sentence: str, source: SourceIndex) -> bool:
    """True when the sentence is written as "Name: words" but those words are not a source line."""
    if not _QUOTE.match(sentence):
        return False
    return _closest_line(sentence, source)[1] < MIN_QUOTE_OVERLAP


def verbatim_line(sentence: str, sims: np.ndarray, source: SourceIndex) -> int | None:
    """The source line to show instead of a supported near-copy, or None to show the sentence.

    A quote ("Name: words") is shown as the line itself, word for word; in a dialogue, a bare
    near-copy of a line ("Thanks.") is shown with its speaker, since after a quoted line it
    would read as that speaker's words (both misattributions were found reading 20 summaries).
    """
    if _QUOTE.match(sentence):
        at, share = _closest_line(sentence, source)
        return at if share >= MIN_QUOTE_OVERLAP and at >= 0 else None
    speakers = sum(bool(_QUOTE.match(u)) for u in source.units)
    if len(sims) and speakers > len(source.units) / 2 and float(sims.max()) >= NEAR_REPEAT:
        return int(np.argmax(sims))
    return None


@dataclass(frozen=True)
class Check:
    """One generated sentence, what was found, and what is shown instead when it failed."""

    generated: str
    shown: str
    cosine: float
    missing: tuple[str, ...]
    verbatim: bool = False  # supported, and shown as the source line it copies (speaker named)

    @property
    def replaced(self) -> bool:
        """Unsupported, so a source sentence is shown instead."""
        return self.shown != self.generated and not self.verbatim


def ground_sentences(sentences: Sequence[str], vectors: np.ndarray, source: SourceIndex,
                     min_cosine: float = MIN_COSINE, max_novel: int = MAX_NOVEL,
                     low: np.ndarray | None = None) -> list[Check]:
    """Keep each supported sentence; replace the others by the closest unused source unit (one
    marked `low`, a greeting or fragment, only when no other is left)."""
    checks: list[Check] = []
    used: set[int] = set()
    shown_vectors: list[np.ndarray] = []
    shown_words: list[set[str]] = []
    v = np.asarray(vectors, dtype=np.float32)

    def words(text: str) -> set[str]:
        return {_stem(w) for w in _WORD.findall(_QUOTE.sub(r"\2", text))}

    def repeats(x: np.ndarray, text: str) -> bool:  # the same point twice reads as a stutter
        w = words(text)
        return any(float(x @ y) >= NEAR_REPEAT for y in shown_vectors) or any(
            len(w & o) >= NEAR_REPEAT * max(1, min(len(w), len(o))) for o in shown_words)

    for i, sent in enumerate(sentences):
        sims = source.vectors @ v[i] if len(source.units) else np.zeros(0)
        best = float(sims.max()) if len(sims) else 0.0
        missing = tuple(unsupported_claims(sent, source))
        novel = novel_words(sent, source)
        if len(novel) > max_novel:
            missing += tuple(novel)
        if misquoted(sent, source):
            missing += ("(not a line of the source)",)
        if not missing and best >= min_cosine:
            line = verbatim_line(sent, sims, source)
            shown, x = (sent, v[i]) if line is None else (source.units[line], source.vectors[line])
            if not repeats(x, shown):
                if line is not None:
                    used.add(line)
                checks.append(Check(sent, shown, best, (), verbatim=line is not None))
                shown_vectors.append(x)
                shown_words.append(words(shown))
            continue
        order = [int(j) for j in np.argsort(-sims)
                 if int(j) not in used and not repeats(source.vectors[int(j)], source.units[int(j)])]
        if low is not None:  # stable: the closest content-bearing unit first
            order = [j for j in order if not low[j]] + [j for j in order if low[j]]
        if not order:
            continue  # nothing left to quote: drop the sentence
        used.add(order[0])
        shown_vectors.append(source.vectors[order[0]])
        shown_words.append(words(source.units[order[0]]))
        checks.append(Check(sent, source.units[order[0]], best, missing))
    return checks


def source_units(units: Sequence[str], genre: str) -> list[str]:
    """The sentences a replacement may quote: "Speaker: sentence" for dialogues."""
    from fieldkit.analysis.sentences import split_sentences

    if genre == "dialogue":
        from fieldkit.analysis.summary_dialogue import dialogue_sentences
        from fieldkit.analysis.summary_genre import parse_turns

        return [f"{w}: {t}" if w else t for w, t, _ in dialogue_sentences(parse_turns(units[0]))]
    return [x for u in units for x in split_sentences(u)] if len(units) == 1 else list(units)


def ground_text(text: str, units: Sequence[str], genre: str, embedder, reporter=None,
                min_cosine: float | None = None, max_novel: int | None = None
                ) -> tuple[list[str], list[Check]]:
    """The sentences to show for a generated `text` about the source `units`, and each check."""
    from fieldkit.analysis.sentences import split_sentences

    sentences = split_sentences(text)
    if not sentences:
        return [], []
    quoted = source_units(units, genre)
    plain = [_QUOTE.sub(r"\2", q) if genre == "dialogue" else q for q in quoted]
    child = reporter.child("check sentences", len(plain)) if reporter is not None else None
    vecs = np.asarray(embedder.embed_all(plain + sentences, reporter=child), dtype=np.float32)
    source = index_source("\n".join(units), quoted, vecs[: len(plain)])
    low = None
    if genre == "dialogue":  # "Quint: Hi." and "Steve: Matthew?" were shown as replacements
        from fieldkit.analysis import summary_dialogue as D
        from fieldkit.analysis.summary_genre import parse_turns

        turns = parse_turns(units[0])
        rows = D.dialogue_sentences(turns)
        content, function = D.content_counts([r[1] for r in rows], [t.speaker for t in turns if t.speaker])
        words = np.array([sum(any(c.isalnum() for c in w) for w in r[1].split()) for r in rows])
        p = D.DEFAULT_PARAMS
        low = (words < p.min_words) | (content < p.min_content) | ((function == 0) if p.need_function_word else False)
    checks = ground_sentences(sentences, vecs[len(plain):], source,
                              MIN_COSINE if min_cosine is None else min_cosine,
                              MAX_NOVEL if max_novel is None else max_novel, low)
    return [c.shown for c in checks], checks


def copy_bias(gen, source_text: str) -> np.ndarray:
    """A logit bias forbidding tokens that start a capitalised word or hold a digit unless the
    source's own tokens include them (constrained copying of names and numbers)."""
    vocab: dict[str, int] = gen.tokenizer.get_vocab()
    allowed = set(gen.encode(source_text)) | set(gen.encode(" " + source_text))
    common = _common_words()
    bias = np.zeros(max(vocab.values()) + 1, dtype=np.float32)
    for piece, tid in vocab.items():
        word = piece.replace("Ġ", " ").replace("Ċ", "\n").strip()
        if not word or tid in allowed:
            continue
        if any(ch.isdigit() for ch in word) or (word[0].isupper() and word.lower() not in common):
            bias[tid] = -np.inf
    return bias
