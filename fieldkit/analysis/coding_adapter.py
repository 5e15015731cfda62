"""A SetFit-style adapter for the coder: a linear map of frozen embeddings, taught by coded pairs.

SetFit (Tunstall et al. 2022) fine-tunes the encoder so that two answers with the same code end
up close (cosine 1) and two with different codes apart (cosine 0), then fits a logistic head.
Here only a linear map x -> x + x M^T of the frozen embeddings is trained, in numpy, on every
pair of coded answers (same-code and different-code pairs weighted half and half), with Adam
from M = 0 for a few steps: a short schedule is what regularises it, and how many steps is
picked per coder out of fold (analysis/coding.py). The map stays linear and unnormalised, so
the coder folds it into its weights (W (I + M)): applying a coder costs the same, and the saved
file is unchanged. Held out (bench/bench_code.py, plain LR on top, 3 draws): Banking77 10 per
code 0.839 -> 0.846, Chinese reviews 0.585 -> 0.599; more steps overfit the pairs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fieldkit.progress import Reporter

LEARNING_RATE = 1e-3
# coded answers whose pairs teach the map: a seeded sample beyond this (pairs grow as n^2, and
# the map matters where codes are few; 1,000 answers = 1M pairs, ~4 MB per pair matrix)
ADAPTER_MAX = 1000


def train_adapter(x: np.ndarray, y: np.ndarray, steps: Sequence[int],
                  reporter: Reporter | None = None, seed: int = 0) -> dict[int, np.ndarray]:
    """The map M (d, d) after each number of Adam steps in `steps` (0 = no map), on one run."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) > ADAPTER_MAX:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), ADAPTER_MAX, replace=False))
        x, y = x[keep], y[keep]
    d = x.shape[1]
    m_map = np.zeros((d, d), dtype=np.float32)
    out = {0: m_map.copy()} if 0 in steps else {}
    same = y[:, None] == y[None, :]
    diff = ~same
    np.fill_diagonal(same, False)
    if not same.any() or not diff.any():  # no pair to pull together or push apart
        return {s: m_map.copy() for s in steps}
    weight = np.where(same, 0.5 / same.sum(), np.where(diff, 0.5 / diff.sum(), 0.0)).astype(np.float32)
    target = same.astype(np.float32)
    mom = np.zeros_like(m_map)
    var = np.zeros_like(m_map)
    for t in range(1, max(steps) + 1):
        if reporter is not None:
            reporter.check()
        f = x + x @ m_map.T
        norm = np.linalg.norm(f, axis=1, keepdims=True)
        norm[norm == 0] = 1.0
        g = f / norm
        r = 2.0 * (g @ g.T - target) * weight  # d loss / d cosine, loss = sum w (cos - target)^2
        dg = (r + r.T) @ g
        df = (dg - (dg * g).sum(axis=1, keepdims=True) * g) / norm
        grad = df.T @ x
        mom = 0.9 * mom + 0.1 * grad
        var = 0.999 * var + 0.001 * grad * grad
        m_map -= LEARNING_RATE * (mom / (1 - 0.9 ** t)) / (np.sqrt(var / (1 - 0.999 ** t)) + 1e-8)
        if t in steps:
            out[t] = m_map.copy()
    return out


def adapt(x: np.ndarray, m_map: np.ndarray | None) -> np.ndarray:
    """x + x M^T (unnormalised, so a linear head over it folds into one over x)."""
    if m_map is None or not m_map.any():
        return x
    return x + x @ m_map.T


def fold_into(weight: np.ndarray, m_map: np.ndarray | None) -> np.ndarray:
    """The weights over raw embeddings of a head over adapted ones: W (I + M)."""
    if m_map is None or not m_map.any():
        return weight
    return (weight + weight @ m_map).astype(np.float32)
