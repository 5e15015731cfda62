"""Contrastive group summaries: what each group's answers say that the other groups' do not.

Why: a summary per site or per gender that repeats the themes every group shares ("water is
far") hides the differences a coordinator must act on. All answers are clustered together once
(k-means on their embeddings); for each group, the clusters it mentions far more often than the
rest do are ranked by the log-odds ratio z-score with a 0.5 prior (Monroe, Colaresi & Quinn
2008, "Fightin' words"), and each is shown by the group's own answer nearest the cluster centre,
with counts here and elsewhere. Words used more in the group are listed too: class TF-IDF
candidates that a larger share of its answers use than of the others' (the same z-test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from fieldkit.progress import Reporter

SHORT_ANSWER_WORDS = 30  # representatives are picked among answers this short when there are any
MIN_Z = 1.96  # a theme is "more here" when its log-odds z-score passes this (5% two-sided)
MIN_ANSWERS = 2  # a theme or word in one answer of a group is an anecdote, not what the group says


@dataclass(frozen=True)
class Distinct:
    """One theme a group mentions more than the others, with its counts."""

    answer: str  # the group's own answer nearest the theme's centre
    here: int  # answers of this group in the theme
    group_total: int
    elsewhere: int  # answers of the other groups in the theme
    others_total: int
    z: float

    def line(self) -> str:
        here = self.here / max(1, self.group_total)
        there = self.elsewhere / max(1, self.others_total)
        return (f"- {self.answer} ({self.here} of {self.group_total} answers here, {here:.0%}; "
                f"{there:.0%} in the other groups)")


@dataclass(frozen=True)
class GroupSummary:
    """A group's contrastive summary: its distinct themes and words, as text and as data."""

    group: Hashable
    n_rows: int
    n_answers: int
    distinct: tuple[Distinct, ...]
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        lines = [d.line() for d in self.distinct]
        if not lines:
            lines = ["- nothing stands out: its answers cover the same themes as the other groups'"]
        if self.words:
            lines.append("- words used more here: " + ", ".join(self.words))
        elif self.distinct:  # themes stand out, single words do not
            lines.append("- words used more here: none stands out")
        return "\n".join(lines)


def _n_themes(n: int) -> int:
    """Enough themes to separate what groups say, few enough that each has several answers."""
    return int(min(30, max(2, round(math.sqrt(n / 2)))))


def log_odds_z(here: int, group_total: int, elsewhere: int, others_total: int, prior: float = 0.5) -> float:
    """z-score of the log-odds ratio of a theme in the group vs the other groups."""
    a, b = here + prior, group_total - here + prior
    c, d = elsewhere + prior, others_total - elsewhere + prior
    return (math.log(a / b) - math.log(c / d)) / math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def summarize_groups(
    texts: Sequence[str | None],
    groups: Sequence[Hashable],
    k: int = 3,
    *,
    embeddings: np.ndarray | None = None,
    embedder=None,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> list[GroupSummary]:
    """Per group (in order of size), up to k themes its answers mention more than the others'."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    from fieldkit.analysis.keywords import class_tfidf

    reporter = reporter or Reporter("summarize groups")
    if len(texts) != len(groups):
        raise ValueError("texts and groups differ in length")
    rows_per_group: dict[Hashable, int] = {}
    for g in groups:
        rows_per_group[g] = rows_per_group.get(g, 0) + 1
    keep = [i for i, t in enumerate(texts) if t is not None and str(t).strip()]
    answers = [str(texts[i]).strip() for i in keep]
    labels = [groups[i] for i in keep]
    order = sorted(rows_per_group, key=lambda g: (-rows_per_group[g], str(g)))
    if not answers:
        return [GroupSummary(g, rows_per_group[g], 0, (), ()) for g in order]
    if embeddings is None:
        from fieldkit.inference.embedder import get_embedder

        emb = embedder or get_embedder()
        vectors = emb.embed_all(answers, reporter=reporter.child("embed answers", len(answers)))
    else:
        vectors = np.asarray(embeddings)[keep]
    vectors = np.asarray(vectors, dtype=np.float32)
    n_themes = min(_n_themes(len(answers)), len(answers))
    reporter.check()
    with threadpool_limits(1):  # see fieldkit.analysis.themes._fit_kmeans
        theme = KMeans(n_clusters=n_themes, n_init=3, random_state=seed).fit_predict(vectors)
    lab = np.asarray(labels, dtype=object)
    words = class_tfidf(answers, labels, top_n=15)
    out = []
    for g in order:
        mine = lab == g
        n_g = int(mine.sum())
        n_o = len(answers) - n_g
        found = []
        for c in range(n_themes):
            in_c = theme == c
            here, there = int((mine & in_c).sum()), int((~mine & in_c).sum())
            if here < MIN_ANSWERS:
                continue  # one answer is an anecdote, not a theme
            z = log_odds_z(here, n_g, there, n_o) if n_o else 0.0
            if z < MIN_Z:
                continue
            members = np.flatnonzero(mine & in_c)
            short = [m for m in members if len(answers[m].split()) <= SHORT_ANSWER_WORDS]
            members = np.asarray(short) if short else members  # a line, not a paragraph
            centre = vectors[in_c].mean(axis=0)
            best = members[int(np.argmax(vectors[members] @ centre))]
            found.append(Distinct(answers[best], here, n_g, there, n_o, z))
        found.sort(key=lambda d: -d.z)
        out.append(GroupSummary(g, rows_per_group[g], n_g, tuple(found[:k]),
                                _words_more_here([w for w, _ in words.get(g, [])], answers, mine) if n_o else ()))
    return out


def _words_more_here(candidates: Sequence[str], answers: Sequence[str], mine: np.ndarray, top: int = 5) -> tuple[str, ...]:
    """The group's class TF-IDF words that its answers use significantly more often than the
    other groups' do (share of answers, log-odds z >= MIN_Z): a word every group uses a lot
    ("packages") is frequent everywhere, not "used more here"."""
    import re

    lowered = [a.casefold() for a in answers]
    n_g, n_o = int(mine.sum()), len(answers) - int(mine.sum())
    kept = []
    for w in candidates:
        pattern = re.compile(r"\b" + r"\W+".join(map(re.escape, w.casefold().split())) + r"\b")
        has = np.fromiter((bool(pattern.search(a)) for a in lowered), bool, len(lowered))
        here = int((has & mine).sum())
        if here < MIN_ANSWERS:
            continue  # in a group of 2 a word of one answer passed the z test
        if log_odds_z(here, n_g, int((has & ~mine).sum()), n_o) >= MIN_Z:
            kept.append(w)
    return tuple(kept[:top])
