"""Label spreading for the coder: the kNN graph of the answers and labels flowing over it.

Zhou et al. (2004): each answer's code distribution is pulled towards its nearest neighbours',
so the analyst's few codes reach the many uncoded answers around them (analysis/coding.py
decides how much the spread labels count).
"""

from __future__ import annotations

import numpy as np

from fieldkit.progress import Reporter

# neighbours per answer, and how far labels flow (0: not at all, 1: no pull back to the seeds)
KNN = 10
ALPHA = 0.9


def _knn(x: np.ndarray, k: int, reporter: Reporter | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar rows of each row (cosine on unit vectors), self excluded."""
    n = len(x)
    k = min(k, n - 1)
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for s in range(0, n, 1024):
        if reporter is not None:
            reporter.check()
        block = x[s:s + 1024] @ x.T
        block[np.arange(block.shape[0]), np.arange(s, s + block.shape[0])] = -np.inf
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        idx[s:s + 1024] = part
        sim[s:s + 1024] = np.take_along_axis(block, part, axis=1)
    return idx, sim


def spread_matrix(x: np.ndarray, reporter: Reporter | None):
    """Symmetric normalised kNN affinity (Zhou et al. 2004) over the given vectors."""
    import scipy.sparse as sp

    n = len(x)
    idx, sim = _knn(x, KNN, reporter)
    w = np.maximum(sim, 0.0) ** 3  # sharpen: near neighbours count far more than far ones
    k = idx.shape[1]
    graph = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    graph = graph + graph.T
    deg = np.asarray(graph.sum(axis=1)).ravel()
    deg[deg == 0] = 1.0
    d = sp.diags(1.0 / np.sqrt(deg))
    return d @ graph @ d


def spread_labels(s_matrix, seed_rows: np.ndarray, seed_y: np.ndarray, seed_w: np.ndarray,
            n_labels: int) -> np.ndarray:
    """Label spreading: F = alpha S F + (1 - alpha) Y, 20 rounds; rows are label distributions."""
    n = s_matrix.shape[0]
    y = np.zeros((n, n_labels), dtype=np.float32)
    np.add.at(y, (seed_rows, seed_y), seed_w)
    f = y.copy()
    for _ in range(20):
        f = ALPHA * (s_matrix @ f) + (1 - ALPHA) * y
    total = f.sum(axis=1, keepdims=True)
    return np.divide(f, total, out=np.zeros_like(f), where=total > 0)
