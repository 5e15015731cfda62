"""Dupes with a distilled static model as a first pass: the model embeds only the answers it may group.

The static model (`fieldkit models distill`) reads every distinct answer in a few milliseconds per
thousand; an answer without any neighbour at static cosine >= FIRST_PASS_COSINE cannot be a near
duplicate at the model's own 0.95 in practice, so the model embeds only the others (and those the
static model cannot read: no word it knows). `python bench/cv_dupes_first_pass.py` picks the cosine
leaving one shared set out (survey answers, banking77, dialogue turns, log lines): 0.775 in 3 of 4
folds; the teacher's near-duplicate pairs still found 0.90-1.00 left out (the survey lost 4 of 39),
1.00 on 6,000 PyPI package summaries never used to pick it, where the model embedded 23% of them.
"""

from __future__ import annotations

import numpy as np

from fieldkit.analysis import embeddings
from fieldkit.analysis.dupes import exact_keys, near_pairs
from fieldkit.errors import UsageError
from fieldkit.inference.embedder import get_embedder
from fieldkit.pipelines.core import resolve_model
from fieldkit.progress import Reporter

FIRST_PASS_COSINE = 0.775


def first_pass_vectors(ds, col: str, texts: list, model_id: str | None, first_pass: str,
                       reporter: Reporter | None = None):
    """(model, vectors with zero rows for answers the first pass cleared, what the first pass did).

    When the model's vectors of this column are cached already (an earlier embed, search or dupes), they
    are used whole and the first pass does nothing.
    """
    model = get_embedder(resolve_model(texts, model_id))
    static = get_embedder(first_pass)
    source = getattr(static, "distilled_from", None)
    if getattr(static, "graph_kind", "") != "static-embeddings" or source != model.model_id:
        raise UsageError(f"--first-pass {first_pass} is not a static model distilled from {model.model_id}",
                         f"make one: fieldkit models distill {model.model_id} -o {model.model_id}-static")
    cached = embeddings.load_cached(embeddings.cache_key(ds.sha256, col, model), rows=len(texts), mmap=True)
    if cached is not None:
        return model, cached, {"model": static.model_id, "cosine": FIRST_PASS_COSINE, "cached": True}
    _, reps = exact_keys(texts)  # distinct answers, as the grouping compares them
    rep_texts = [str(texts[i]) for i in reps]
    fast = static.embed_all(rep_texts)
    i, j = near_pairs(fast, FIRST_PASS_COSINE)
    keep = np.zeros(len(reps), bool)
    keep[i] = keep[j] = True
    keep |= ~fast.any(axis=1)  # no word the static model knows: it cannot judge them
    rows = np.flatnonzero(keep)
    out = np.zeros((len(texts), model.dim), np.float32)
    if len(rows):
        out[np.asarray(reps, np.int64)[rows]] = model.embed_all([rep_texts[k] for k in rows], reporter=reporter)
    info = {"model": static.model_id, "cosine": FIRST_PASS_COSINE, "distinct": len(reps), "embedded": int(len(rows))}
    return model, out, info
