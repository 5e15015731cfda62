"""Approximate nearest-neighbour index (usearch HNSW) for search over large embedded columns.

Below INDEX_ROWS an exact scan is fast enough and used; from there on the column's vectors get
an HNSW index, built once and cached beside the cached embeddings (same key). The index only
proposes candidates: every candidate is re-scored exactly against the embedding matrix, so a
damaged or forged index file can cost recall but never give a wrong score or a row outside the
column. The index file's sha256 is recorded in its metadata at build time and checked (through
fieldkit's hash stamps) on load; a mismatch, an unreadable file or a wrong size means rebuild.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from fieldkit import files
from fieldkit.progress import Reporter

# columns with at least this many rows are searched through the index (FIELDKIT_INDEX_ROWS)
INDEX_ROWS = 200_000
# HNSW settings: search breadth 64 (usearch's default) gave recall@10 0.967 on banking77 messages,
# 256 gives >= 0.98 (tests/unit/test_ann.py; 1M rows in bench/bench_embed.py)
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256
# candidates fetched per wanted hit, then re-scored exactly (recall goes up, scores are exact)
OVERFETCH = 4
ADD_CHUNK = 20_000
RECIPE = f"usearch-hnsw-f16-M{CONNECTIVITY}-ef{EXPANSION_ADD}"


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


def build(matrix: np.ndarray, target: Path, reporter: Reporter | None = None,
          threads: int = 0) -> None:
    """Build the index of the non-zero rows of `matrix` (keys = row numbers) into `target`."""
    Index = _usearch_index()
    index = Index(ndim=int(matrix.shape[1]), metric="ip", dtype="f16", connectivity=CONNECTIVITY,
                  expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)
    n = int(matrix.shape[0])
    if reporter is not None:
        reporter.total = n
    for start in range(0, n, ADD_CHUNK):
        if reporter is not None:
            reporter.check()
        block = np.asarray(matrix[start:start + ADD_CHUNK], np.float32)
        keep = np.flatnonzero(np.abs(block).sum(axis=1) > 0)  # empty texts are never hits
        if keep.size:
            index.add((keep + start).astype(np.uint64), block[keep], threads=threads)
        if reporter is not None:
            reporter.update(min(n, start + ADD_CHUNK), "building the search index")
    index.save(str(target))


def load_or_build(matrix: np.ndarray, cache_base: Path, reporter: Reporter | None = None,
                  threads: int = 0):
    """The cached index for this matrix (checked), built and cached first when absent or bad.

    `threads=1` builds the same graph every time (several threads insert in scheduling order).
    """
    Index = _usearch_index()
    path, meta = _paths(cache_base)
    with contextlib.suppress(OSError, ValueError, TypeError, RuntimeError):
        info = json.loads(meta.read_text(encoding="utf-8"))
        if (info.get("recipe") == RECIPE and info.get("rows") == int(matrix.shape[0])
                and info.get("sha256") == files.sha256(path)):
            index = Index.restore(str(path), view=True)
            if index is not None and index.ndim == matrix.shape[1]:
                return index
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(path, durable=False) as tmp:
        build(matrix, tmp, reporter, threads=threads)
    digest = files.sha256(path, force=True)
    files.write_text_atomic(meta, json.dumps({"recipe": RECIPE, "rows": int(matrix.shape[0]),
                                              "sha256": digest}), durable=False)
    return Index.restore(str(path), view=True)


def top_k_indexed(index, matrix: np.ndarray, query: np.ndarray, k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Like analysis.search.top_k, through the index: candidates re-scored exactly, best first."""
    want = k * OVERFETCH
    index.expansion_search = max(EXPANSION_SEARCH, want)  # a restored index forgets it
    found = index.search(np.asarray(query, np.float32), want)
    keys = np.asarray(found.keys, np.int64).reshape(-1)
    keys = np.unique(keys[(keys >= 0) & (keys < matrix.shape[0])])  # a forged index stays inside
    if keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    scores = np.asarray(matrix[keys] @ query.astype(np.float32), np.float32)
    keep = scores != 0.0
    keys, scores = keys[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:k]
    return keys[order], scores[order]
