"""Pooled label statistics: what a laptop's coder carries so that a merge is exact, not an average.

Why: averaging coders that each saw ~2.5 answers per code (FedAvg) loses 6 points against one
coder taught by every label (Banking77, bench/bench_merge.py --federated). Per-code sums and
counts of the answers' embeddings, and their second moment, add up across laptops exactly, so
the office can fit a shrunk linear discriminant (LDA) on the pooled statistics: the same head
one laptop holding every label would fit. No answer text travels; see `MIN_ANSWERS` for what the
statistics can still reveal.

Statistics (float64 in memory, float32 on disk): `class_sum` (L, d) per-code sums of the
L2-normalised embeddings of the coded answers, `class_count` (L,) how many answers each sum
holds, `moment` (d, d) the sum of x x^T over the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# a code's statistics leave the laptop only when they sum at least this many answers: the mean
# of one answer IS its embedding (which inversion attacks can partly read back as text); the
# answers of a withheld code are left out of `moment` too, and still teach the coder's weights
MIN_ANSWERS = 2


@dataclass
class LabelStats:
    """Sufficient statistics of one laptop's coded answers (one code per answer)."""

    class_sum: np.ndarray  # (L, d)
    class_count: np.ndarray  # (L,)
    moment: np.ndarray  # (d, d)
    withheld: int = 0  # codes whose few answers were kept on the laptop

    @property
    def answers(self) -> int:
        return int(self.class_count.sum())


def label_stats(x: np.ndarray, y: np.ndarray, n_labels: int, min_answers: int = MIN_ANSWERS) -> LabelStats:
    """Per-code sums, counts and the second moment of the answers `x` coded `y` (label indices)."""
    x = np.asarray(x, dtype=np.float64)
    count = np.bincount(y, minlength=n_labels).astype(np.float64)
    few = (count > 0) & (count < min_answers)
    keep = ~few[y]
    xs, ys = x[keep], y[keep]
    class_sum = np.zeros((n_labels, x.shape[1]))
    np.add.at(class_sum, ys, xs)
    return LabelStats(class_sum, np.where(few, 0.0, count), xs.T @ xs, int(few.sum()))


def pool(parts: Sequence[LabelStats]) -> LabelStats:
    """Statistics of several laptops added up (labels already aligned)."""
    return LabelStats(sum(p.class_sum for p in parts), sum(p.class_count for p in parts),
                      sum(p.moment for p in parts), sum(p.withheld for p in parts))


def oas_shrinkage(cov: np.ndarray, n: float) -> float:
    """Oracle approximating shrinkage (Chen et al. 2010) towards a scaled identity: no knob to fit."""
    d = cov.shape[0]
    tr, tr2 = np.trace(cov), float((cov * cov).sum())
    den = (n + 1 - 2 / d) * (tr2 - tr * tr / d)
    return 1.0 if den <= 0 else float(min(1.0, ((1 - 2 / d) * tr2 + tr * tr) / den))


def lda_head(stats: LabelStats) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Shrunk LDA over the pooled statistics: weight (L, d), bias (L,), which codes it has, shrinkage.

    Equal priors (the coder is class-balanced too); a code with no statistics has no row (False).
    """
    n = stats.class_count
    has = n > 0
    d = stats.moment.shape[0]
    mu = np.zeros_like(stats.class_sum)
    mu[has] = stats.class_sum[has] / n[has, None]
    dof = max(n.sum() - has.sum(), 1.0)
    within = (stats.moment - (mu[has] * n[has, None]).T @ mu[has]) / dof
    shrink = oas_shrinkage(within, dof)
    cov = (1 - shrink) * within + shrink * np.trace(within) / d * np.eye(d)
    weight = np.zeros_like(mu)
    weight[has] = np.linalg.solve(cov, mu[has].T).T
    bias = np.where(has, -0.5 * (weight * mu).sum(axis=1), 0.0)
    return weight, bias, has, shrink
