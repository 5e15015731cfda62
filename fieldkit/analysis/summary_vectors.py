"""Sentence vectors for extractive summaries: TF-IDF over the document's own sentences.

Why: centrality and redundancy only compare sentences of one document with each other, and
word overlap does that as well as a transformer here (bench/bench_summarize.py prints both,
held out, on DialogSum and CNN/DailyMail) at a thousandth of the cost and with no model to
load. Written with numpy rather than scikit-learn's TfidfVectorizer because importing
scikit-learn alone takes longer (1-3 s) than the whole summary's budget.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

from fieldkit.analysis.sentences import is_cjk_text

MODEL_ID = "tfidf"  # what a summary made with these vectors names as its model
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")


@lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, read from its list without importing scikit-learn.

    Importing the package costs 1-3 s here (scipy comes with it), more than a whole summary
    may take; its list is a plain frozenset literal in one module, so that module alone is loaded.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    path = Path(spec.submodule_search_locations[0]) / "feature_extraction" / "_stop_words.py" \
        if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():  # another layout: the public import, slower
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    # that one module loaded on its own, the standard way (importlib), not through the package
    one = importlib.util.spec_from_file_location("_fieldkit_sklearn_stop_words", path)
    module = importlib.util.module_from_spec(one)
    one.loader.exec_module(module)
    return frozenset(module.ENGLISH_STOP_WORDS)


@lru_cache(maxsize=1)
def _tfidf_stop_words() -> frozenset[str]:
    """The stop-words package's long English list (1,333 words): it gained 0.3-0.5 R-1 over
    no list and over scikit-learn's 318 words as TF-IDF stop words (bench/bench_summarize.py)."""
    import stop_words

    return frozenset(w.casefold() for w in stop_words.get_stop_words("en"))


def _terms(text: str, cjk: bool) -> list[str]:
    if cjk:  # no spaces: character bigrams stand in for words
        return [run[i:i + 2] for run in _CJK_RUN.findall(text) for i in range(max(1, len(run) - 1))]
    stop = _tfidf_stop_words()
    return [t for t in (w.casefold() for w in _WORD.findall(text)) if t not in stop]


def tfidf_vectors(sentences: Sequence[str]) -> np.ndarray:
    """L2-normalised TF-IDF rows (sublinear tf, smoothed idf over these sentences), float32."""
    cjk = is_cjk_text("".join(sentences[:50]))
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, s in enumerate(sentences):
        counts: dict[int, int] = {}
        for t in _terms(s, cjk):
            j = vocab.setdefault(t, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        rows += [r] * len(counts)
        cols += counts
        vals += counts.values()
    m = np.zeros((len(sentences), max(1, len(vocab))), np.float32)
    if vals:
        m[rows, cols] = 1.0 + np.log(np.asarray(vals, np.float32))
        df = np.count_nonzero(m, axis=0)
        m *= (np.log((1.0 + len(sentences)) / (1.0 + df)) + 1.0).astype(np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-9)


class TfidfVectors:
    """The embedder interface (model_id, embed_all) over tfidf_vectors, for the summarizers.

    Each call is one document: its sentences' vectors are comparable with each other only.
    """

    model_id = MODEL_ID

    def embed_all(self, texts: Sequence[str], reporter=None) -> np.ndarray:
        texts = [str(t) for t in texts]
        out = tfidf_vectors(texts)
        if reporter is not None:
            reporter.update(len(texts))
        return out
