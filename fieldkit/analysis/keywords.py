"""Class-based TF-IDF keywords per group of texts (BERTopic's c-TF-IDF), any script.

Why c-TF-IDF: a theme's keywords should be frequent inside it and rare in the others, and
answers are too short for per-document TF-IDF. Words for space-separated scripts (stop words of
the languages present dropped, bigrams kept: "learning curve"); character bigrams and trigrams for
Chinese/Japanese/Korean, which have no spaces (no segmentation dictionary needed).
"""

from __future__ import annotations

import functools
import re
from typing import Callable, Hashable, Sequence

import numpy as np

from fieldkit.analysis.sentences import is_cjk_text

_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_WORD = re.compile(r"[^\W\d_][^\W_]*")  # letters then letters/digits: "ggplot2", "it" + "s"

# Words that say nothing about a theme in open answers, on top of scikit-learn's list.
EXTRA_STOP_WORDS = frozenset(
    "don doesn didn isn aren wasn weren won wouldn shouldn couldn ve ll re im dont doesnt "
    "really just like think thing things lot lots way ways use using used make makes "
    "good great better best bad nice also get gets getting etc ok okay yes".split()
)
# Praise words ("good", "great") are dropped too: in a "like best" question they occur in
# every theme, and distinct nouns name themes better.


def _stop_words(texts: Sequence[str] = ()) -> frozenset[str]:
    """English stop words, plus those of every other language that enough of `texts` are in.

    Field surveys mix languages; without this, French or Spanish themes get "est", "pas",
    "para" as keywords.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    english = frozenset(ENGLISH_STOP_WORDS)
    # "nothing"/"none" are real answers to "what do you like least?", not filler
    base = (english - {"nothing", "none"}) | EXTRA_STOP_WORDS
    others = _other_language_stop_words()
    return base.union(*(others[lang] for lang in _languages(texts)))


def _languages(texts: Sequence[str]) -> list[str]:
    """Non-English languages enough of `texts` are in: each text votes for the language whose
    stop words it uses most (a cheap language guess)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    others = _other_language_stop_words()
    votes: dict[str, int] = {}
    voters = 0
    for text in texts[:2000]:
        toks = [w.lower() for w in _WORD.findall(text or "")]
        if len(toks) < 3:
            continue
        voters += 1
        english_hits = sum(w in ENGLISH_STOP_WORDS for w in toks)
        lang, hits = max(((lang, sum(w in words for w in toks)) for lang, words in others.items()),
                         key=lambda lh: lh[1], default=("", 0))
        if hits >= 2 and hits > english_hits:
            votes[lang] = votes.get(lang, 0) + 1
    return sorted(lang for lang, n in votes.items() if n >= max(3, 0.03 * voters))


def make_stemmer(texts: Sequence[str]) -> Callable[[str], frozenset[str]]:
    """Word -> its Snowball stems in English and each language the texts are in.

    Two words with a stem in common are forms of one word ("visualización", "visualizaciones",
    "visualizar"), so a theme's keywords name an idea once.
    """
    import snowballstemmer

    names = ["english", *(lang for lang in _languages(texts) if lang in snowballstemmer.algorithms())]
    stemmers = [snowballstemmer.stemmer(n) for n in names]

    @functools.lru_cache(maxsize=50_000)
    def stems(word: str) -> frozenset[str]:
        return frozenset(s.stemWord(word) for s in stemmers)

    return stems


@functools.lru_cache(maxsize=1)
def _other_language_stop_words() -> dict[str, frozenset[str]]:
    """Stop words of non-CJK languages (the `stop-words` package), minus English ones."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    english = frozenset(ENGLISH_STOP_WORDS)
    try:
        import stop_words
    except ImportError:  # optional at run time: English-only keywords then
        return {}
    out = {}
    for lang in stop_words.AVAILABLE_LANGUAGES:
        if lang in ("english", "chinese", "japanese", "korean"):
            continue
        words = frozenset(w.lower() for w in stop_words.get_stop_words(lang)) - english
        if words:
            out[lang] = words
    return out


def make_analyzer(texts: Sequence[str]) -> Callable[[str], list[str]]:
    """Character n-grams when the texts are mostly CJK, else words + bigrams without stop words."""
    sample = " ".join(t for t in texts[:2000] if t)
    if is_cjk_text(sample):
        def cjk(text: str) -> list[str]:
            grams: list[str] = []
            for run in _CJK_RUN.findall(text or ""):
                for n in (2, 3):
                    grams.extend(run[i : i + n] for i in range(len(run) - n + 1))
            grams.extend(w.lower() for w in re.findall(r"[A-Za-z]{3,}", text or ""))
            return grams

        return cjk
    stop = _stop_words(texts)

    def words(text: str) -> list[str]:
        toks = [w.lower() for w in _WORD.findall(text or "")]
        toks = [w for w in toks if len(w) > 1 and w not in stop]
        return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]

    return words


def class_tfidf(
    texts: Sequence[str],
    classes: Sequence[Hashable],
    top_n: int = 10,
    min_df: int = 2,
) -> dict[Hashable, list[tuple[str, float]]]:
    """Top `top_n` (term, weight) per class: tf within the class x log(1 + A / tf overall)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [t or "" for t in texts]
    labels = np.asarray(list(classes), dtype=object)
    uniq = list(dict.fromkeys(labels.tolist()))
    if not texts or not uniq:
        return {}
    vec = CountVectorizer(analyzer=make_analyzer(texts), min_df=min(min_df, len(texts)),
                          max_features=100_000)
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary
        return {c: [] for c in uniq}
    index = {c: i for i, c in enumerate(uniq)}
    rows = np.array([index[c] for c in labels])
    member = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                               shape=(len(uniq), len(rows)))
    per_class = (member @ counts).toarray().astype(np.float64)  # classes x terms
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1)
    avg_words = per_class.sum() / len(uniq)
    idf = np.log1p(avg_words / np.maximum(per_class.sum(axis=0), 1))
    weights = tf * idf
    terms = vec.get_feature_names_out()
    out: dict[Hashable, list[tuple[str, float]]] = {}
    for c, i in index.items():
        order = np.argsort(-weights[i])[: top_n * 3]
        out[c] = [(str(terms[j]), float(weights[i, j])) for j in order if weights[i, j] > 0][:top_n * 3]
    stem = make_stemmer(texts)
    return {c: distinct_terms(v, top_n, stem) for c, v in out.items()}


def _plural_stems(word: str) -> frozenset[str]:
    return frozenset({word[:-1] if len(word) > 3 and word.endswith("s") else word})


def distinct_terms(terms: list[tuple[str, float]], n: int,
                   stem: Callable[[str], frozenset[str]] = _plural_stems) -> list[tuple[str, float]]:
    """One entry per idea: a phrase replaces its words when at least half as strong
    ("error messages" over "error" + "messages"); otherwise a term sharing a word form (`stem`)
    or, for CJK n-grams, characters with a stronger kept term is dropped."""

    def _stems(term: str) -> set[str]:
        return {s for w in term.split() for s in stem(w)}

    kept: list[tuple[str, float]] = []
    for term, w in terms:
        stems = _stems(term)
        inside = [i for i, (k, _) in enumerate(kept) if " " not in k and _stems(k) & stems
                  and _stems(k) <= stems]
        others = [k for i, (k, _) in enumerate(kept) if i not in inside]
        clash = any(term in k or k in term or stems & _stems(k) for k in others)
        if inside and " " in term and not clash and w >= 0.5 * max(kept[i][1] for i in inside):
            first = min(inside)
            kept[first] = (term, w)
            kept = [t for i, t in enumerate(kept) if i == first or i not in inside]
            continue
        if inside or clash:
            continue
        if len(kept) < n:
            kept.append((term, w))
    return kept[:n]


def keyword_label(keywords: Sequence[str], n: int = 3) -> str:
    """A short label from the strongest keywords, e.g. "community / tidyverse / packages"."""
    return " / ".join(keywords[:n]) if keywords else "(no keywords)"


def distinct_labels(keywords: Sequence[Sequence[str]], n: int = 3) -> list[str]:
    """Labels for themes in order of size, each unlike the others.

    A keyword already in a larger theme's label is passed over while the theme has others, so
    two themes of one product are not both called "hotel / room / service"; a label that would
    still repeat another gets its theme's next keyword.
    """
    used: set[str] = set()
    labels: list[str] = []
    for words in keywords:
        fresh = [w for w in words if w not in used]
        chosen = (fresh + [w for w in words if w in used])[:n]
        label = keyword_label(chosen, n)
        extra = [w for w in words if w not in chosen]
        while label in labels and extra:
            chosen = chosen[:-1] + [extra.pop(0)]
            label = keyword_label(chosen, n)
        used.update(chosen)
        labels.append(label)
    return labels
