"""Exact and near-duplicate answers: one `dup_group` id per set of (near-)identical texts.

Exact duplicates compare a normalised form (Unicode NFKC, case-folded, punctuation and
spacing removed), so they need no model. Near duplicates link two distinct texts whose
embeddings have cosine >= threshold, found with blocked matrix products over the distinct
texts (memory ~ block x n, never n x n) and joined into groups by connected components.
Singletons and empty texts get no group (null in Parquet; -1 in the array returned here).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fieldkit.progress import Reporter

NO_GROUP = -1
DEFAULT_THRESHOLD = 0.95
BLOCK_FLOATS = 32_000_000  # ~128 MB of similarities per block


def normalise(text: str | None) -> str:
    """The form two texts must share to count as exact duplicates."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


@dataclass
class DupesResult:
    """Per-row group ids (NO_GROUP for singletons/empty) and group sizes."""

    dup_group: np.ndarray  # (n,) int64
    dup_size: np.ndarray  # (n,) int64, 0 for rows without a group
    exact_groups: int
    near_links: int

    @property
    def groups(self) -> int:
        return int(len(set(self.dup_group[self.dup_group != NO_GROUP].tolist())))

    @property
    def rows_in_groups(self) -> int:
        return int((self.dup_group != NO_GROUP).sum())


def exact_keys(texts: Sequence[str | None]) -> tuple[np.ndarray, list[int]]:
    """(key id per row, -1 for empty) and the first row of each key."""
    ids = np.full(len(texts), -1, dtype=np.int64)
    first: dict[str, int] = {}
    reps: list[int] = []
    for i, t in enumerate(texts):
        key = normalise(t)
        if not key:
            continue
        k = first.get(key)
        if k is None:
            k = first[key] = len(reps)
            reps.append(i)
        ids[i] = k
    return ids, reps


def pair_block(n: int) -> int:
    """Rows per block of the pair search: ~BLOCK_FLOATS similarities held at once."""
    return max(64, min(n, BLOCK_FLOATS // max(n, 1)))


def block_pairs(v: np.ndarray, start: int, block: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j, cosine >= threshold, for unit rows start..start+block against every later row.

    One block is one unit of work: a loop step here, a task on the Ray engine.
    """
    sims = v[start : start + block] @ v[start:].T  # only the upper triangle from here on
    r, c = np.nonzero(sims >= threshold)
    c = c + start
    r = r + start
    keep = c > r
    return r[keep].astype(np.int64), c[keep].astype(np.int64)


def near_pairs(vectors: np.ndarray, threshold: float, reporter: Reporter | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j and cosine(v_i, v_j) >= threshold, by blocks of rows."""
    n = len(vectors)
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    block = pair_block(n)
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    for s in range(0, n, block):
        if reporter is not None:
            reporter.update(s)
        r, c = block_pairs(v, s, block, threshold)
        rows_out.append(r)
        cols_out.append(c)
    if reporter is not None:
        reporter.update(n)
    if not rows_out:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def find_duplicates(
    texts: Sequence[str | None],
    embeddings: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    reporter: Reporter | None = None,
    pairs=None,
) -> DupesResult:
    """Group exact duplicates, and with `embeddings` (aligned with texts) near duplicates too.

    `pairs(vectors, threshold, reporter)` finds the near pairs (default `near_pairs`; the Ray
    engine passes one that runs the same blocks on its workers).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not 0.0 < threshold <= 1.0:
        from fieldkit.errors import UsageError

        raise UsageError(f"--threshold {threshold} is outside (0, 1]",
                         f"cosine similarity: try {DEFAULT_THRESHOLD} (higher = stricter)")
    reporter = reporter or Reporter("duplicates")
    n = len(texts)
    keys, reps = exact_keys(texts)
    n_keys = len(reps)
    counts = np.bincount(keys[keys >= 0], minlength=n_keys)
    exact_groups = int((counts > 1).sum())
    near_links = 0
    component = np.arange(n_keys)
    if embeddings is not None and n_keys > 1:
        vecs = np.asarray(embeddings, dtype=np.float32)[reps]
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = vecs / np.maximum(norms, 1e-12)
        i, j = (pairs or near_pairs)(vecs, threshold, reporter.child("compare", n_keys))
        near_links = len(i)
        if near_links:
            graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n_keys, n_keys))
            _, component = connected_components(graph, directed=False)
    # rows per component; only components with 2+ rows form a group
    row_comp = np.where(keys >= 0, component[np.maximum(keys, 0)], -1)
    comp_rows = np.bincount(row_comp[row_comp >= 0], minlength=int(component.max()) + 1 if n_keys else 0)
    grouped = (row_comp >= 0) & (comp_rows[np.maximum(row_comp, 0)] > 1)
    dup_group = np.full(n, NO_GROUP, dtype=np.int64)
    dup_size = np.zeros(n, dtype=np.int64)
    if grouped.any():
        # Number groups 1.. in order of first appearance, so ids read naturally in the file.
        _, first_pos, inverse = np.unique(row_comp[grouped], return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(np.flatnonzero(grouped)[first_pos]))
        dup_group[grouped] = rank[inverse] + 1
        dup_size[grouped] = comp_rows[row_comp[grouped]]
    reporter.finish()
    return DupesResult(dup_group, dup_size, exact_groups, near_links)
