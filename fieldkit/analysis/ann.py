"""Approximate nearest-neighbour index (usearch HNSW) for search over large embedded columns.

Below INDEX_ROWS an exact scan is fast enough and used; from there on the column's vectors get
an HNSW index, built once and cached beside the cached embeddings (same key). The index only
proposes candidates: every candidate is re-scored exactly against the embedding matrix, so a
damaged or forged index file can cost recall but never give a wrong score or a row outside the
column. The index file's sha256 is recorded in its metadata at build time and checked (through
fieldkit's hash stamps) on load; a mismatch, an unreadable file or a wrong size means rebuild.

Rows that `fieldkit dupes` would call duplicates of an indexed row (cosine >= its threshold,
0.95 for MiniLM) are not indexed themselves: a sidecar table of (indexed row, row) pairs brings
them back with it at search time, where they are re-scored exactly like every candidate. Why:
HNSW's neighbour pruning keeps a candidate only when it is closer to the new point than to the
neighbours already kept, so near copies of one vector all link to it alone; its list holds 2 x
CONNECTIVITY of them and the rest became unreachable (recall@10 0.25-0.55 on a vector with 89
near copies; README, "Search"). Identical rows (the same answer given many times) are found by
hashing first and come back k at a time (they score the same).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from fieldkit import files
from fieldkit.analysis.dupes import DEFAULT_THRESHOLD
from fieldkit.progress import Reporter

# columns with at least this many rows are searched through the index (FIELDKIT_INDEX_ROWS)
INDEX_ROWS = 200_000
# HNSW settings: search breadth 64 (usearch's default) gave recall@10 0.967 on banking77 messages,
# 256 gives >= 0.98 (tests/unit/test_ann.py; 1M rows in bench/bench_embed.py)
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256
# candidates fetched per wanted hit (at least EXPANSION_SEARCH: the search visits that many
# anyway), then re-scored exactly (recall goes up, scores are exact)
OVERFETCH = 4
ADD_CHUNK = 20_000
GROUP_BLOCK = 2048  # rows looked up (and grouped among themselves) before being added
RECIPE = f"usearch-hnsw-f16-M{CONNECTIVITY}-ef{EXPANSION_ADD}-grouped"


class AnnIndex:
    """The usearch index plus the rows it stands for: near copies (all) and identical rows (k)."""

    def __init__(self, index, near: np.ndarray, repeats: np.ndarray):
        self.index = index
        self.near = near.reshape(-1, 2).astype(np.int64, copy=False)
        self.repeats = repeats.reshape(-1, 2).astype(np.int64, copy=False)

    @property
    def ndim(self) -> int:
        return int(self.index.ndim)

    def expand(self, keys: np.ndarray, k: int) -> np.ndarray:
        """`keys`, every near copy grouped under them, and up to k rows identical to each."""
        keys = _members(self.near, keys, None)
        return _members(self.repeats, keys, k)


def _members(pairs: np.ndarray, keys: np.ndarray, cap: int | None) -> np.ndarray:
    if not pairs.size or not keys.size:
        return keys
    heads = pairs[:, 0]
    lo = np.searchsorted(heads, keys, "left")
    hi = np.searchsorted(heads, keys, "right")
    if cap is not None:
        hi = np.minimum(hi, lo + cap)
    extra = [pairs[a:b, 1] for a, b in zip(lo, hi) if b > a]
    return np.concatenate([keys, *extra]) if extra else keys


def _sorted_pairs(parts: list[np.ndarray]) -> np.ndarray:
    found = np.concatenate(parts).astype(np.int64) if parts else np.empty((0, 2), np.int64)
    return found[np.lexsort((found[:, 1], found[:, 0]))]


def index_rows() -> int:
    try:
        return max(1, int(os.environ.get("FIELDKIT_INDEX_ROWS", INDEX_ROWS)))
    except ValueError:
        return INDEX_ROWS


def _usearch_index():
    """usearch's Index class, loaded after onnxruntime.

    usearch 2.26.6's compiled module loaded first makes a later `import onnxruntime` (1.32)
    crash the process (segmentation fault, measured); in this order both work.
    """
    import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


def available() -> bool:
    try:
        _usearch_index()
    except ImportError:
        return False
    return True


def _paths(cache_base: Path) -> tuple[Path, Path]:
    return cache_base.with_suffix(".usearch"), cache_base.with_suffix(".usearch.json")


def repeated_rows(matrix: np.ndarray, chunk: int = ADD_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """(rows to index, (first row, repeating row) pairs): non-zero rows, identical ones once.

    Rows are hashed by a random projection (float64), then rows with equal hashes are compared
    byte for byte, so a hash collision only costs a row its deduplication, never a wrong match.
    """
    n = int(matrix.shape[0])
    proj = np.random.default_rng(0).standard_normal(int(matrix.shape[1]))
    h = np.empty(n, np.float64)
    nonzero = np.empty(n, bool)
    for start in range(0, n, chunk):
        block = np.asarray(matrix[start:start + chunk], np.float64)
        h[start:start + len(block)] = block @ proj
        nonzero[start:start + len(block)] = np.abs(block).sum(axis=1) > 0
    rows = np.flatnonzero(nonzero)
    order = rows[np.lexsort((rows, h[rows]))]  # by hash, then row: the first row of a run leads
    hs = h[order]
    starts = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
    ends = np.r_[starts[1:], len(order)]
    pairs = []
    drop = np.zeros(n, bool)
    for a, b in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        head, rest = order[a], order[a + 1:b]
        for s0 in range(0, len(rest), chunk):
            part = rest[s0:s0 + chunk]
            same = part[(np.asarray(matrix[part]) == np.asarray(matrix[head])).all(axis=1)]
            drop[same] = True
            pairs.append(np.stack([np.full(len(same), head), same], axis=1))
    return rows[~drop[rows]], _sorted_pairs(pairs)


def _leaders(block: np.ndarray, group_cos: float) -> np.ndarray:
    """For each row, the earlier row of the block it joins (first leader at cosine >= group_cos), or -1."""
    close = np.triu(block @ block.T >= group_cos, 1)  # close[i, j]: i < j
    lead = np.full(len(block), -1, np.int64)
    for j in np.flatnonzero(close.any(axis=0)):
        heads = np.flatnonzero(close[:j, j] & (lead[:j] < 0))
        if heads.size:
            lead[j] = heads[0]
    return lead


def build(matrix: np.ndarray, target: Path, reporter: Reporter | None = None,
          threads: int = 0, group_cos: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Index the distinct non-zero rows of `matrix` (keys = row numbers) into `target`.

    Each block of rows is first looked up in the index built so far: a row whose nearest
    indexed row has cosine >= group_cos (checked exactly) joins that row's group instead.
    Returns the (indexed row, near copy) and (row, identical row) pairs left out.
    """
    Index = _usearch_index()
    index = Index(ndim=int(matrix.shape[1]), metric="ip", dtype="f16", connectivity=CONNECTIVITY,
                  expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_ADD)
    n = int(matrix.shape[0])
    if reporter is not None:
        reporter.total = n
    keep, repeats = repeated_rows(matrix)
    near = []
    for start in range(0, len(keep), GROUP_BLOCK):
        if reporter is not None:
            reporter.check()
        rows = keep[start:start + GROUP_BLOCK]
        block = np.asarray(matrix[rows], np.float32)
        if len(index):
            found = index.search(block, 1, threads=threads)
            best = np.asarray(found.keys, np.int64).reshape(len(rows), -1)[:, 0]
            valid = (best >= 0) & (best < n)
            best = np.where(valid, best, 0)
            cos = np.einsum("ij,ij->i", block, np.asarray(matrix[best], np.float32))
            joins = valid & (cos >= group_cos)
            near.append(np.stack([best[joins], rows[joins]], axis=1))
            rows, block = rows[~joins], block[~joins]
        lead = _leaders(block, group_cos)  # near copies within the block itself
        joins = lead >= 0
        near.append(np.stack([rows[lead[joins]], rows[joins]], axis=1))
        if (~joins).any():
            index.add(rows[~joins].astype(np.uint64), block[~joins], threads=threads)
        if reporter is not None:
            reporter.update(int(keep[min(len(keep), start + GROUP_BLOCK) - 1]) + 1,
                            "building the search index")
    index.save(str(target))
    return _sorted_pairs(near), repeats


def load_or_build(matrix: np.ndarray, cache_base: Path, reporter: Reporter | None = None,
                  threads: int = 0, group_cos: float = DEFAULT_THRESHOLD) -> AnnIndex:
    """The cached index for this matrix (checked), built and cached first when absent or bad.

    `threads=1` builds the same graph every time (several threads insert in scheduling order).
    """
    Index = _usearch_index()
    path, meta = _paths(cache_base)
    groups = path.with_suffix(".groups.npz")
    with contextlib.suppress(OSError, ValueError, TypeError, RuntimeError, KeyError):
        info = json.loads(meta.read_text(encoding="utf-8"))
        if (info.get("recipe") == RECIPE and info.get("rows") == int(matrix.shape[0])
                and info.get("group_cos") == float(group_cos)
                and info.get("sha256") == files.sha256(path)
                and info.get("groups_sha256") == files.sha256(groups)):
            index = Index.restore(str(path), view=True)
            with np.load(groups, allow_pickle=False) as z:
                near, repeats = z["near"], z["repeats"]
            if index is not None and index.ndim == matrix.shape[1]:
                return AnnIndex(index, near, repeats)
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(path, durable=False) as tmp:
        near, repeats = build(matrix, tmp, reporter, threads=threads, group_cos=group_cos)
    with files.atomic_path(groups, durable=False) as tmp, open(tmp, "wb") as f:
        np.savez(f, near=near, repeats=repeats)
    files.write_text_atomic(meta, json.dumps({
        "recipe": RECIPE, "rows": int(matrix.shape[0]), "group_cos": float(group_cos),
        "sha256": files.sha256(path, force=True),
        "groups_sha256": files.sha256(groups, force=True)}), durable=False)
    return AnnIndex(Index.restore(str(path), view=True), near, repeats)


def top_k_indexed(index, matrix: np.ndarray, query: np.ndarray, k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Like analysis.search.top_k, through the index: candidates re-scored exactly, best first."""
    want = max(k * OVERFETCH, EXPANSION_SEARCH)
    index.index.expansion_search = want  # a restored index forgets it
    found = index.index.search(np.asarray(query, np.float32), want)
    keys = np.asarray(found.keys, np.int64).reshape(-1)
    keys = index.expand(np.unique(keys[keys >= 0]), k)
    keys = np.unique(keys[(keys >= 0) & (keys < matrix.shape[0])])  # a forged index stays inside
    if keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    scores = np.asarray(matrix[keys] @ query.astype(np.float32), np.float32)
    keep = scores != 0.0
    keys, scores = keys[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:k]
    return keys[order], scores[order]
