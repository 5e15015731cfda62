"""Embeddings of a dataset column, cached by file sha256 + column + model so reruns are instant.

CONTRACT: embed_column(ds, column, model_id=None, reporter=None) -> np.ndarray (n, dim) float32,
one row per dataset row (null/empty texts are zero rows).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from fieldkit import files
from fieldkit.config import cache_home
from fieldkit.inference.embedder import Embedder, EmbedStats, get_embedder
from fieldkit.progress import Reporter


def cache_key(file_sha256: str, column: str, embedder: Embedder) -> str:
    """Keyed on the graph actually run too, so a new derived graph never reuses old vectors."""
    parts = [file_sha256, column, embedder.model_id, embedder.sha256, embedder.graph_sha256 or ""]
    parts += [embedder.role] if embedder.role else []  # e5's passage view: other vectors
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def cache_dir() -> Path:
    return cache_home() / "embeddings"


def _paths(key: str) -> tuple[Path, Path]:
    d = cache_dir()
    return d / f"{key}.npy", d / f"{key}.json"


def load_cached(key: str, rows: int | None = None, mmap: bool = False) -> np.ndarray | None:
    """The cached array for `key`, or None if absent, unreadable or of the wrong shape."""
    npy, meta = _paths(key)
    if not npy.exists() or not meta.exists():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        arr = np.load(npy, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    if arr.ndim != 2 or arr.shape[0] != info.get("rows") or (rows is not None and arr.shape[0] != rows):
        return None
    return arr


def save_cached(key: str, arr: np.ndarray, info: dict[str, Any]) -> None:
    """Write the array then its metadata atomically; a cache failure never fails the caller."""
    npy, _ = _paths(key)
    with contextlib.suppress(OSError):
        npy.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(npy, durable=False) as tmp, open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
        _write_meta(key, info, int(arr.shape[0]), int(arr.shape[1]))


def cached_stats(ds, column: str, embedder: Embedder) -> EmbedStats | None:
    """What embedding the column met (texts, empty, truncated), as recorded beside its cached vectors."""
    _, meta = _paths(cache_key(_dataset_sha256(ds), column, embedder))
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return EmbedStats(int(info.get("rows", 0)), int(info.get("empty", 0)), int(info.get("truncated", 0)),
                      int(info.get("unknown", 0)))


def _dataset_sha256(ds) -> str:
    """The dataset's sha256 (one stamped hash per change of the file)."""
    return ds.sha256


def embed_column(ds, column: str, model_id: str | None = None,
                 reporter: Reporter | None = None, mmap: bool = False,
                 batch_size: int = 32, texts: list[str | None] | None = None,
                 passages: bool = False) -> np.ndarray:
    """Embeddings of `column` (one row per dataset row), from the cache when the file is unchanged.

    Vectors stream into the cache file as they are made (plain writes, after a free-space
    check), so a million rows do not need their 1.5 GB of vectors in memory; `mmap=True`
    also returns them memory-mapped.
    `texts`: the column's values when the caller has read them already (no second read).
    `passages`: as texts to be searched (`Embedder.for_passages`: e5's "passage: "), cached apart.
    """
    col = ds.require_text_column(column)
    embedder = get_embedder(model_id)
    embedder = embedder.for_passages() if passages else embedder
    file_sha = _dataset_sha256(ds)
    key = cache_key(file_sha, col, embedder)
    cached = load_cached(key, mmap=mmap)
    if cached is not None:
        if reporter is not None:
            reporter.total = cached.shape[0]
            reporter.finish("from cache")
        return cached
    if texts is None:
        texts = ds.text_column(col).to_list()
    if reporter is not None:
        reporter.total = len(texts)
    info = {"source": str(ds.path), "sha256": file_sha, "column": col, **embedder.provenance()}
    npy, _ = _paths(key)
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(npy.parent, os.W_OK)
    except OSError:
        writable = False
    if not writable:  # no writable cache: compute in memory
        return embedder.embed_all(texts, reporter=reporter, batch_size=batch_size)
    with files.atomic_path(npy, durable=False) as tmp:
        _stream_vectors(tmp, embedder.embed(texts, batch_size=batch_size, reporter=reporter),
                        len(texts), embedder.dim)
    stats = embedder.last_stats
    _write_meta(key, {**info, "empty": stats.empty, "truncated": stats.truncated, "unknown": stats.unknown},
                len(texts), embedder.dim)
    if reporter is not None:
        reporter.finish(stats.message())
    result = load_cached(key, mmap=mmap)
    return result if result is not None else np.load(npy, mmap_mode="r" if mmap else None)


def _stream_vectors(tmp: Path, batches, rows: int, dim: int) -> None:
    """Write a .npy of (rows, dim) float32 batch by batch with ordinary writes.

    Not through mmap: on a full disk a memory-mapped write dies with SIGBUS and no message,
    while a write() fails with ENOSPC that becomes one plain error naming the folder.
    """
    import shutil

    folder = tmp.parent
    need = rows * dim * 4 + 4096
    free = None
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(folder).free
    if free is not None and free < need:
        raise _no_space(folder, need, free)
    try:
        with open(tmp, "wb") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
            pos = 0
            for batch in batches:
                f.write(np.ascontiguousarray(batch, dtype="<f4").tobytes())
                pos += len(batch)
            if pos != rows:
                raise RuntimeError(f"embedder returned {pos} vectors for {rows} texts")
    except OSError as e:
        import errno

        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _no_space(folder, need, None) from e
        raise


def _no_space(folder: Path, need: int, free: int | None):
    from fieldkit.errors import OutputError

    have = f", {free / 2**20:,.1f} MB free" if free is not None else ""
    return OutputError(f"no space left for the embedding cache in {folder} "
                       f"(needs {need / 2**20:,.1f} MB{have})",
                       "free some space there, or set FIELDKIT_HOME to a folder on a larger disk")


def _write_meta(key: str, info: dict[str, Any], rows: int, dim: int) -> None:
    _, meta = _paths(key)
    with contextlib.suppress(OSError):
        files.write_text_atomic(meta, json.dumps({**info, "rows": rows, "dim": dim}), durable=False)
