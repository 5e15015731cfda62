"""ROUGE-1/2/Lsum for summaries against PTB-tokenised references (CNN/DailyMail style).

Scoring itself is Google's `rouge-score` (the reference re-implementation of ROUGE-1.5.5,
a dev dependency: only benchmarks and tests score summaries). This module only undoes the
Penn Treebank escapes on both sides (`-LRB-` would otherwise count as the word "lrb") and
puts one sentence per line, which ROUGE-Lsum needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fieldkit.analysis.sentences import split_sentences

_PTB = {
    "-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
    "``": '"', "''": '"', "`": "'",
}
_PTB_RE = re.compile("|".join(re.escape(k) for k in sorted(_PTB, key=len, reverse=True)))


def normalise(text: str) -> str:
    """Undo PTB escapes and spacing (` . `, ` 's`) so both sides tokenise the same way."""
    text = _PTB_RE.sub(lambda m: _PTB[m.group(0)], text)
    text = re.sub(r"\s+([.,!?;:%)\]}])", r"\1", text)
    text = re.sub(r"([(\[{$£])\s+", r"\1", text)
    text = re.sub(r"\s+(n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def sentence_lines(text: str) -> str:
    """One sentence per line (ROUGE-Lsum's unit)."""
    return "\n".join(split_sentences(normalise(text)))


@dataclass(frozen=True)
class RougeScores:
    rouge1: float
    rouge2: float
    rougeL: float

    def as_percent(self) -> tuple[float, float, float]:
        return (100 * self.rouge1, 100 * self.rouge2, 100 * self.rougeL)


@lru_cache(maxsize=1)
def _scorer():
    try:
        from rouge_score import rouge_scorer
    except ImportError as e:  # pragma: no cover - dev dependency
        raise ImportError("ROUGE needs the dev extra: pip install -e '.[dev]'") from e
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


def rouge(summary: str, reference: str) -> RougeScores:
    """F1 of ROUGE-1, ROUGE-2 and ROUGE-Lsum (Porter stemming, as in the CNN/DM literature)."""
    s = _scorer().score(sentence_lines(reference), sentence_lines(summary))
    return RougeScores(s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeLsum"].fmeasure)


@lru_cache(maxsize=1)
def _scorer1():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)


def rouge1(summary: str, reference: str) -> float:
    """ROUGE-1 F1 alone (same tokenising and stemming as `rouge`): cheap enough for CV grids."""
    return _scorer1().score(normalise(reference), normalise(summary))["rouge1"].fmeasure


def mean_rouge(pairs: list[tuple[str, str]]) -> RougeScores:
    """Mean F1 over (summary, reference) pairs."""
    scores = [rouge(s, r) for s, r in pairs]
    n = max(1, len(scores))
    return RougeScores(
        sum(x.rouge1 for x in scores) / n,
        sum(x.rouge2 for x in scores) / n,
        sum(x.rougeL for x in scores) / n,
    )
