"""The embedder base: streaming over any iterable of texts, in input order, bounded memory.

Kept apart from embedder.py so that other runtimes (the distilled static model) subclass it
without importing the onnxruntime path, and the import graph has no cycle.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from fieldkit.inference.manifest import ModelEntry
from fieldkit.progress import Reporter

# texts tokenized and sorted together; larger windows cut padding, smaller ones bound memory
SORT_WINDOW = 2048

@dataclass
class EmbedStats:
    """What one embed call met: how many texts, how many were empty, cut, or without a known word."""

    texts: int = 0
    empty: int = 0
    truncated: int = 0
    unknown: int = 0  # texts with no token the model has a vector for (a static model's zero vectors)

    def message(self) -> str:
        parts = []
        if self.empty:
            parts.append(f"{self.empty:,} empty")
        if self.truncated:
            parts.append(f"{self.truncated:,} truncated")
        if self.unknown:
            parts.append(f"{self.unknown:,} with no word the model knows: zero vectors")
        return ", ".join(parts)


def _is_empty(t: Any) -> bool:
    if t is None:
        return True
    if isinstance(t, float) and math.isnan(t):
        return True
    return not str(t).strip()


class Embedder:
    """Base class: streaming over any iterable of texts, in input order, bounded memory."""

    def __init__(self, entry: ModelEntry, sha256: str, dim: int):
        self.entry = entry
        self.model_id = entry.id
        self.sha256 = sha256
        self.dim = dim
        self.graph_sha256: str | None = None  # the graph actually run, when derived
        self.last_stats = EmbedStats()

    def provenance(self) -> dict[str, Any]:
        info = {"model": self.model_id, "model_sha256": self.sha256, "dim": self.dim}
        if self.graph_sha256 and self.graph_sha256 != self.sha256:
            info["graph_sha256"] = self.graph_sha256
            info["graph"] = self.graph_kind
        return info

    graph_kind = "as shipped"
    role = ""  # "passage": the view that embeds texts to be searched (for_passages)

    def for_passages(self) -> "Embedder":
        """This model as it embeds texts to be found by a query: e5's "passage: " (itself for symmetric models)."""
        prefix = self.entry.raw.get("passage_prefix")
        if not prefix or not hasattr(self, "prefix"):
            return self
        other = copy.copy(self)
        other.prefix, other.role, other.last_stats = str(prefix), "passage", EmbedStats()
        return other

    def _embed_window(self, texts: list[str], batch_size: int, stats: EmbedStats,
                      reporter: Reporter | None, done: int) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Iterable[Any], batch_size: int = 32,
              reporter: Reporter | None = None) -> Iterator[np.ndarray]:
        """Yield (<= batch_size, dim) float32 arrays in input order; cancel via the reporter."""
        batch_size = max(1, int(batch_size))
        for out in self._windows(texts, batch_size, reporter):
            for start in range(0, len(out), batch_size):
                yield out[start:start + batch_size]

    def _windows(self, texts: Iterable[Any], batch_size: int, reporter: Reporter | None) -> Iterator[np.ndarray]:
        """Yield one (n, dim) array per window of up to SORT_WINDOW texts, in input order."""
        if reporter is not None and reporter.total is None and hasattr(texts, "__len__"):
            reporter.total = len(texts)  # type: ignore[arg-type]
        stats = EmbedStats()
        it = iter(texts)
        done = 0
        window = max(SORT_WINDOW, batch_size)
        while chunk := list(itertools.islice(it, window)):
            if reporter is not None:
                reporter.check()
            present = [i for i, t in enumerate(chunk) if not _is_empty(t)]
            stats.texts += len(chunk)
            stats.empty += len(chunk) - len(present)
            if len(present) == len(chunk):  # no empty text: the window's own array, not a copy
                out = self._embed_window([str(t) for t in chunk], batch_size, stats, reporter, done)
            else:
                out = np.zeros((len(chunk), self.dim), np.float32)
                if present:
                    out[present] = self._embed_window([str(chunk[i]) for i in present], batch_size, stats,
                                                      reporter, done)
            done += len(chunk)
            if reporter is not None:
                reporter.update(done, stats.message())
            yield out
        self.last_stats = stats

    def embed_all(self, texts: Iterable[Any], reporter: Reporter | None = None,
                  batch_size: int = 32) -> np.ndarray:
        # whole windows, not batch slices: for a fast model the copies were a fifth of the time
        parts = list(self._windows(texts, max(1, int(batch_size)), reporter))
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _l2(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]  # np.linalg.norm took 3x as long
    np.maximum(norms, 1e-12, out=norms)
    return v / norms
