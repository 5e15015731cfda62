"""What runs on the Ray workers: long-lived actors that hold one verified model each.

Each actor loads its model from the model store once (`get_embedder` checks every file's
sha256 before the session is created), so a worker never runs a file that differs from the
manifest, and never fetches one: the model comes from the pinned package or an installed kit.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

ROW = "_fk_row"  # the input row each result belongs to (Ray does not keep a global order)
TEXT = "text"


def _fixed_list(vecs: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(vecs, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, int(vecs.shape[1]))


class EmbedWorker:
    """Embeds a batch's texts with the one model this actor loaded (one ONNX session, 1 thread)."""

    def __init__(self, model_id: str, env: dict[str, str], batch_size: int = 32, threads: int = 1):
        os.environ.update(env)  # FIELDKIT_HOME and friends of the driver: same store, same settings
        from fieldkit.inference.embedder import get_embedder

        self.embedder = get_embedder(model_id, threads=threads)
        self.batch_size = batch_size

    def vectors(self, batch: pa.Table) -> np.ndarray:
        return self.embedder.embed_all(batch.column(TEXT).to_pylist(), batch_size=self.batch_size)

    def stats(self) -> tuple[int, int]:
        s = self.embedder.last_stats
        return s.empty, s.truncated

    def __call__(self, batch: pa.Table) -> pa.Table:
        vecs = self.vectors(batch)
        empty, truncated = self.stats()
        n = batch.num_rows
        return pa.table({ROW: batch.column(ROW), "embedding": _fixed_list(vecs),
                         "_empty": pa.array([empty] + [0] * (n - 1), pa.int64()),
                         "_truncated": pa.array([truncated] + [0] * (n - 1), pa.int64())})


class ThemeWorker(EmbedWorker):
    """Embeds a batch and assigns each row to a theme by the fit's own rule (`assign_themes`)."""

    def __init__(self, model_id: str, env: dict[str, str], theme_model, batch_size: int = 32,
                 threads: int = 1):
        super().__init__(model_id, env, batch_size, threads)
        self.model = theme_model

    def __call__(self, batch: pa.Table) -> pa.Table:
        from fieldkit.analysis.themes import assign_themes

        texts = batch.column(TEXT).to_pylist()
        theme_id, score = assign_themes(texts, self.vectors(batch), self.model)
        return pa.table({ROW: batch.column(ROW), "theme_id": pa.array(theme_id, pa.int64()),
                         "theme_score": pa.array(score, pa.float32())})


def pair_block(vectors: np.ndarray, start: int, block: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One block of the near-duplicate search (the local loop's step, as a Ray task)."""
    from fieldkit.analysis.dupes import block_pairs

    return block_pairs(vectors, start, block, threshold)
