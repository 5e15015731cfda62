"""What runs on the Ray workers: long-lived actors that hold one verified model each.

Each actor loads its model from the model store once (`get_embedder` checks every file's
sha256 before the session is created), so a worker never runs a file that differs from the
manifest, and never fetches one: the model comes from the pinned package or an installed kit.
"""

from __future__ import annotations

import os
from pathlib import Path

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

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Rows plus `embedding`, embedded window by window exactly as a local run groups them.

        The int8 graph quantizes activations per batch, so a vector depends (by ~1e-2) on which
        texts share its batch; embedding each SORT_WINDOW of row numbers on its own gives the
        same batches, hence the same vectors, as `Embedder.embed` over the whole column.
        """
        from fieldkit.inference.embedder import SORT_WINDOW

        rows = batch.column(ROW).to_numpy()
        texts = batch.column(TEXT).to_pylist()
        vecs = np.zeros((len(texts), self.embedder.dim), np.float32)
        empty = truncated = 0
        windows = rows // max(SORT_WINDOW, self.batch_size)  # Embedder.embed's windows
        for w in np.unique(windows):
            at = np.flatnonzero(windows == w)
            vecs[at] = self.embedder.embed_all([texts[i] for i in at], batch_size=self.batch_size)
            empty += self.embedder.last_stats.empty
            truncated += self.embedder.last_stats.truncated
        n = batch.num_rows
        return batch.append_column("embedding", _fixed_list(vecs)).append_column(
            "_empty", pa.array([empty] + [0] * (n - 1), pa.int64())).append_column(
            "_truncated", pa.array([truncated] + [0] * (n - 1), pa.int64()))


def vectors_of(batch: pa.Table) -> np.ndarray:
    """The `embedding` column of a result batch as an (n, dim) float32 array."""
    emb = batch.column("embedding").combine_chunks()
    return emb.flatten().to_numpy(zero_copy_only=False).reshape(-1, emb.type.list_size)


def assign_batch(batch: pa.Table, model) -> pa.Table:
    """Theme of each embedded row by the fit's own rule (`assign_themes`): a map_batches task."""
    from fieldkit.analysis.themes import assign_themes

    theme_id, score = assign_themes(batch.column(TEXT).to_pylist(), vectors_of(batch), model)
    return pa.table({ROW: batch.column(ROW), "theme_id": pa.array(theme_id, pa.int64()),
                     "theme_score": pa.array(score, pa.float32())})


def rows_in(batch: pa.Table, wanted: np.ndarray) -> pa.Table:
    """The rows of a batch whose row number is in `wanted` (sorted): the themes fit sample."""
    rows = batch.column(ROW).to_numpy()
    return batch.filter(pa.array(np.isin(rows, wanted, assume_unique=True)))


def pair_block(vectors: np.ndarray, start: int, block: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One block of the near-duplicate search (the local loop's step, as a Ray task)."""
    from fieldkit.analysis.dupes import block_pairs

    return block_pairs(vectors, start, block, threshold)


def scratch_folder(kind: str) -> Path:
    """A new folder under FIELDKIT_HOME/cache/scale named after this process; dead processes' ones go first.

    Why: a driver or actor killed outright (SIGKILL, a power cut, a lost node) cannot remove
    its own scratch; the next run on the machine removes every folder whose process is gone.
    """
    from fieldkit.files import temp_name

    root = sweep_scratch()
    root.mkdir(parents=True, exist_ok=True)
    path = temp_name(root / kind)
    path.mkdir()
    return path


def sweep_scratch() -> Path:
    """Remove the scratch folders of processes that are gone (on this machine); returns their root."""
    from fieldkit.config import cache_home
    from fieldkit.files import remove_stale_temps

    root = cache_home() / "scale"
    remove_stale_temps(root)
    return root


def from_arrow(tables: list[pa.Table]):
    """`ray.data.from_arrow` with each block's row count and schema taken here, not by a Ray task per block.

    Why: from_arrow asks one task per block for its metadata and waits for them all before
    the pipeline starts; those tasks wait for worker processes, 5.6 s of an 11 s two-block run
    at load 18 here, for facts the driver holds. Ray 2.60's own calls (the extra pins
    ray[data]==2.60.0); with any other layout it falls back to ray.data.from_arrow.
    """
    import ray

    try:
        from ray.data._internal.logical.interfaces import LogicalPlan
        from ray.data._internal.logical.operators import FromArrow
        from ray.data._internal.stats import DatasetStats
        from ray.data._internal.util import get_table_block_metadata_schema
        from ray.data.context import DataContext
        from ray.data.dataset import MaterializedDataset
    except ImportError:  # pragma: no cover - another Ray version
        return ray.data.from_arrow(tables)
    meta = [get_table_block_metadata_schema(t) for t in tables]
    context = DataContext.get_current().copy()
    plan = LogicalPlan(FromArrow([ray.put(t) for t in tables], meta), context)
    return MaterializedDataset(plan, context, DatasetStats(metadata={"FromArrow": meta}, parent=None))


def _env() -> dict[str, str]:
    """The driver's fieldkit settings, handed to every actor (same store, same caches)."""
    return {k: v for k, v in os.environ.items() if k.startswith("FIELDKIT_") and k != "FIELDKIT_THREADS"}
