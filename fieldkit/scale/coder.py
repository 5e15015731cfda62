"""The coder on Ray: the fitted (or saved) coder broadcast once and applied beside the vectors in `map_batches`.

Why: applying a coder is one small matrix product per answer, but on the driver it needs every
vector there (100M answers x 384 floats); on the workers only each answer's code, score, review
flag and margin come back. A saved coder applied to new answers never brings a vector to the
driver; a coder learnt in this run is fitted on the driver (it needs the coded answers' vectors)
and applied on the workers to the embedded answers they kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fieldkit.progress import Reporter
from fieldkit.scale.workers import ROW, vectors_of


@dataclass
class Applied:
    """What `code_rows` and `suggest_rows` ask of a Prediction, gathered from the workers (no n x L matrix)."""

    labels: list[str]
    multi_code: bool
    threshold: float
    code: list
    score: np.ndarray
    review: np.ndarray
    margins: np.ndarray

    def codes(self) -> tuple[list, np.ndarray, np.ndarray]:
        return list(self.code), self.score, self.review

    def margin(self) -> np.ndarray:
        return self.margins


def code_batch(batch: pa.Table, coder) -> pa.Table:
    """On a worker: the coder's prediction for a batch of embedded rows (the local `Coder.predict`)."""
    import ray

    if isinstance(coder, ray.ObjectRef):  # broadcast once with ray.put; read from the node's object store
        coder = ray.get(coder)
    pred = coder.predict(vectors_of(batch))
    codes, score, review = pred.codes()
    return pa.table({ROW: batch.column(ROW), "code": pa.array(codes, pa.string()),
                     "score": pa.array(score, pa.float64()), "review": pa.array(review, pa.bool_()),
                     "margin": pa.array(pred.margin(), pa.float64())})


def apply_coder(engine, embedded, n: int, coder, reporter: Reporter | None = None) -> Applied:
    """Every row's code, score, review flag and margin from the coder applied on the workers, in row order."""
    import ray

    ref = ray.put(coder)
    code: list = [None] * n
    score, margin = np.full(n, np.nan), np.full(n, np.nan)
    review = np.zeros(n, dtype=bool)
    out = embedded.map_batches(code_batch, fn_kwargs={"coder": ref}, batch_format="pyarrow")
    for batch in engine.collect(out, n, reporter):
        rows = batch.column(ROW).to_numpy()
        for r, c in zip(rows.tolist(), batch.column("code").to_pylist()):
            code[r] = c
        score[rows] = batch.column("score").to_numpy(zero_copy_only=False)
        review[rows] = batch.column("review").to_numpy(zero_copy_only=False)
        margin[rows] = batch.column("margin").to_numpy(zero_copy_only=False)
    return Applied(list(coder.labels), bool(coder.multi_code), float(coder.threshold), code, score, review, margin)
