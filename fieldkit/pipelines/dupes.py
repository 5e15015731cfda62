"""The dupes job: exact and near-duplicate answers in a text column, one group id per set."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from fieldkit.analysis.dupes import DEFAULT_THRESHOLD, NO_GROUP, DupesResult, find_duplicates
from fieldkit.errors import UsageError
from fieldkit.inference.manifest import get_entry
from fieldkit.pipelines.core import Data, Result, dataset, make_step, require_some_text, text_column, timed
from fieldkit.pipelines.dupes_first_pass import first_pass_vectors
from fieldkit.pipelines.embed import vectors
from fieldkit.pipelines.engine import current, mark_step
from fieldkit.progress import Reporter


@dataclass
class Dupes:
    """The groups found, the texts they were found in, and how (exact only or near too)."""

    result: DupesResult
    column: str
    texts: list[str | None]
    threshold: float
    exact_only: bool
    model: str | None = None
    first_pass: dict | None = None  # the static model, its cosine, answers it kept of those compared

    def top_groups(self, top: int = 10) -> list[tuple[int, list[int]]]:
        """(group id, member rows) of the largest groups, largest first."""
        members: dict[int, list[int]] = {}
        for i, g in enumerate(self.result.dup_group.tolist()):
            if g != NO_GROUP:
                members.setdefault(int(g), []).append(i)
        return sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]


def dupes(data: Data, column: str, *, threshold: float | None = None, exact_only: bool = False,
          model_id: str | None = None, reporter: Reporter | None = None,
          first_pass: str | None = None) -> Result[Dupes]:
    """Adds `dup_group` (null = unique) and `dup_size`; near duplicates by cosine >= threshold.

    `exact_only` (or threshold 1) compares normalised text only and needs no model.
    `first_pass`: a static model distilled from the model that runs; only the answers it finds a
    neighbour for (static cosine >= FIRST_PASS_COSINE) are embedded by the model (dupes_first_pass).
    """
    asked = threshold
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} is outside (0, 1]",
                         f"cosine similarity: try {DEFAULT_THRESHOLD} (higher = stricter)")
    exact_only = exact_only or threshold >= 1.0
    reporter = reporter or Reporter("dupes")
    ds = dataset(data)
    col = text_column(ds, column)
    with timed() as clock:
        texts = ds.text_column(col).to_list()
        require_some_text(texts, col, ds)
        passed = None
        if exact_only:
            embedder, vecs = None, None
        elif first_pass:
            embedder, vecs, passed = first_pass_vectors(ds, col, texts, model_id, first_pass,
                                                             reporter.child("embed"))
        else:
            embedder, vecs = vectors(ds, col, texts, model_id, reporter.child("embed"))
        if asked is None and embedder is not None:  # a model whose cosines run high (e5) has its own
            threshold = float(get_entry(embedder.model_id).raw.get("dupes_threshold", threshold))
        engine = current()
        result = find_duplicates(texts, vecs, threshold, reporter=reporter.child("duplicates"),
                                 pairs=engine.near_pairs if engine is not None else None)
    group = pl.Series("dup_group", result.dup_group, dtype=pl.Int64)
    unique = group == NO_GROUP
    columns = {
        "dup_group": pl.select(pl.when(unique).then(None).otherwise(group)).to_series(),
        "dup_size": pl.select(pl.when(unique).then(None)
                              .otherwise(pl.Series(result.dup_size, dtype=pl.Int64))).to_series(),
    }
    params = {"column": col, "threshold": threshold, "exact_only": exact_only}
    if passed is not None:
        params["first_pass"] = passed
    step = mark_step(make_step("dupes", params, clock, embedder))
    out = Dupes(result, col, texts, threshold, exact_only, embedder.model_id if embedder else None, passed)
    return Result(out, columns, step)
