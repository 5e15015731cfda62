"""Federated averaging of saved coders: one coder from several laptops' coders, no answers moved.

Why per label: each laptop codes its own answers, so a code may be taught on one laptop and
missing on another. Each label's weight row is the average of the coders' rows for that label,
weighted by the answers that taught it there (`n_labelled`, FedAvg); a coder that never saw
the label contributes nothing to it. Softmax coders are centred first (the same constant taken
off every code's logit changes no prediction, but coders trained apart drift by different
constants), so their rows average on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fieldkit.errors import UsageError

NEVER = -1e3  # a bias below this marks a code the coder was never taught (saved as -1e4)


@dataclass
class Averaged:
    """The merged coder, and per label how many coders taught it."""

    coder: Any
    coders_per_label: dict[str, int]


def check_compatible(coders: Sequence[Any], names: Sequence[str]) -> None:
    """Refuse coders of different embedding models (or weights, sizes, kinds) with one clear error."""
    first = coders[0]

    def ident(c: Any) -> tuple:
        return (c.model_id, c.info.get("model_sha256") or "", c.dim)

    models = {ident(c) for c in coders}
    if len({m[0] for m in models}) > 1 or len({m[2] for m in models}) > 1:
        listed = ", ".join(f"{n}: {c.model_id}" for n, c in zip(names, coders))
        raise UsageError(f"the coders were trained on different embedding models ({listed})",
                         "merge coders of one model; retrain the others with "
                         f"`fieldkit code ... --model {first.model_id} --save-model DIR`")
    shas = {m[1] for m in models if m[1]}
    if len(shas) > 1:
        listed = ", ".join(f"{n}: {(c.info.get('model_sha256') or 'unknown')[:12]}" for n, c in zip(names, coders))
        raise UsageError(f"the coders used different weights of {first.model_id} ({listed})",
                         "install the same model version on every laptop (`fieldkit models verify`), "
                         "then save the coders again")
    if len({bool(c.multi_code) for c in coders}) > 1:
        kinds = ", ".join(f"{n}: {'several codes' if c.multi_code else 'one code'} per answer"
                          for n, c in zip(names, coders))
        raise UsageError(f"the coders code differently ({kinds})",
                         "code the same way on every laptop (one code per answer, or several)")


def fedavg(coders: Sequence[Any], names: Sequence[str], weighting: str = "label",
           centre: bool = True) -> Averaged:
    """One coder from `coders` (same model): rows averaged per label, weighted by its answers.

    `weighting` "coder" weights every row of a coder by all its answers (textbook FedAvg) and
    `centre=False` skips the centring: both only for the benchmark's comparison.
    """
    from fieldkit.analysis.coding import Coder

    if len(coders) < 2:
        raise UsageError("a federated merge needs two or more coders", "fieldkit merge --models m1 m2 ... -o merged")
    check_compatible(coders, names)
    labels = sorted({lab for c in coders for lab in c.labels})  # any order of inputs gives the same coder
    index = {lab: i for i, lab in enumerate(labels)}
    dim, multi = coders[0].dim, bool(coders[0].multi_code)
    w_sum = np.zeros((len(labels), dim), dtype=np.float64)
    b_sum = np.zeros(len(labels), dtype=np.float64)
    mass = np.zeros(len(labels), dtype=np.float64)
    n_total = np.zeros(len(labels), dtype=np.int64)
    teachers = np.zeros(len(labels), dtype=np.int64)
    for c in coders:
        weight = np.asarray(c.weight, dtype=np.float64)
        bias = np.asarray(c.bias, dtype=np.float64)
        taught = bias > NEVER
        if centre and not multi and taught.any():
            weight = weight - weight[taught].mean(axis=0)
            bias = bias - bias[taught].mean()
        n = np.asarray(c.n_labelled, dtype=np.float64)
        # a code taught by the codebook only (n = 0) still counts, as one answer would
        per_label = np.where(n > 0, n, 1.0) if weighting == "label" else np.full(len(n), max(n.sum(), 1.0))
        share = np.where(taught, per_label, 0.0)
        for j, lab in enumerate(c.labels):
            if share[j] <= 0:
                continue
            i = index[lab]
            w_sum[i] += share[j] * weight[j]
            b_sum[i] += share[j] * bias[j]
            mass[i] += share[j]
            n_total[i] += int(c.n_labelled[j])
            teachers[i] += 1
    known = mass > 0
    weight = np.zeros((len(labels), dim), dtype=np.float32)
    bias = np.full(len(labels), -1e4, dtype=np.float32)
    weight[known] = (w_sum[known] / mass[known, None]).astype(np.float32)
    bias[known] = (b_sum[known] / mass[known]).astype(np.float32)
    answers = np.array([int(np.sum(c.n_labelled)) for c in coders], dtype=np.float64)
    temps = np.array([c.temperature for c in coders], dtype=np.float64)
    temperature = float(np.sum(answers * temps) / answers.sum()) if answers.sum() else float(temps.mean())
    info = {"settings": dict(coders[0].info.get("settings", {})),
            "federated": {"coders": len(coders), "answers_per_coder": [int(a) for a in answers],
                          "weighting": weighting, "centred": centre and not multi,
                          "method": "FedAvg"},
            **{k: coders[0].info[k] for k in ("model_sha256", "graph_sha256") if coders[0].info.get(k)}}
    cuts = np.array([c.threshold for c in coders], dtype=np.float64)
    threshold = float(np.sum(answers * cuts) / answers.sum()) if answers.sum() else float(cuts.mean())
    merged = Coder(coders[0].model_id, labels, weight, bias, n_total, temperature, multi_code=multi, info=info,
                   threshold=threshold)
    return Averaged(merged, {lab: int(teachers[i]) for lab, i in index.items()})


def _aligned_stats(coder: Any, labels: list[str]):
    """A coder's label statistics with rows in `labels` order (zeros for codes it lacks)."""
    from fieldkit.analysis.coding_stats import LabelStats

    s = coder.stats
    at = [labels.index(lab) for lab in coder.labels]
    class_sum = np.zeros((len(labels), s.class_sum.shape[1]))
    count = np.zeros(len(labels))
    class_sum[at] = s.class_sum
    count[at] = s.class_count
    return LabelStats(class_sum, count, s.moment, s.withheld)


def pooled(coders: Sequence[Any], names: Sequence[str]) -> Averaged:
    """One coder from the coders' pooled label statistics: exactly what one holder of all labels fits.

    The head is a shrunk LDA on the summed statistics (analysis/coding_stats.py). A code whose
    statistics no laptop shared (fewer than MIN_ANSWERS answers on each) takes its FedAvg row,
    mapped onto the LDA's scale by the least-squares fit over the codes that have both.
    Falls back to `fedavg` when any coder has no statistics (format /2, several codes per answer),
    and averages coders relearnt from one merged coder (a second round, `teacher_seeds`): their
    statistics were pooled already, and their logistic heads are the stronger ones to average.
    """
    from fieldkit.analysis.coding import Coder
    from fieldkit.analysis.coding_stats import lda_head, pool

    averaged = fedavg(coders, names)  # also checks the coders can be merged at all
    taught = {c.info.get("teacher") for c in coders}
    if len(taught) == 1 and None not in taught:  # a second round: their statistics were pooled already
        averaged.coder.info["federated"]["method"] = "FedAvg of coders taught by one merged coder (round 2)"
        return averaged
    if any(getattr(c, "stats", None) is None for c in coders):
        return averaged
    avg = averaged.coder
    labels = list(avg.labels)
    total = pool([_aligned_stats(c, labels) for c in coders])
    weight, bias, has, shrink = lda_head(total)
    taught = avg.bias > NEVER
    both, fill = taught & has, taught & ~has
    if both.sum() < 2:
        return averaged
    if fill.any():
        a = float((avg.weight[both] * weight[both]).sum() / max((avg.weight[both] ** 2).sum(), 1e-12))
        c = float(np.mean(bias[both] - a * avg.bias[both]))
        weight[fill] = a * avg.weight[fill]
        bias[fill] = a * avg.bias[fill] + c
    bias[~taught] = -1e4
    info = {**avg.info, "federated": {**avg.info["federated"], "method": "pooled statistics (LDA)",
                                      "shrinkage": round(shrink, 4), "answers_pooled": total.answers,
                                      "codes_from_average": int(fill.sum())}}
    merged = Coder(avg.model_id, labels, weight.astype(np.float32), bias.astype(np.float32),
                   avg.n_labelled, 1.0, multi_code=False, info=info, stats=total)
    return Averaged(merged, averaged.coders_per_label)


def teacher_seeds(teacher: Any, vectors: np.ndarray, row_codes: Sequence[list[str]],
                  empty: Sequence[bool]) -> dict[str, np.ndarray]:
    """A second round: the merged coder's code for each uncoded answer, as extra teaching points.

    Why: the merged (pooled LDA) coder is exact but a weaker head than the laptops' logistic
    regression; each laptop relearns from its own codes plus its uncoded answers labelled by the
    merged coder, and the office averages these coders (Banking77, 4 laptops, 10 labels per code
    in all: 0.825 pooled -> 0.840 after the second round, one coder on all labels 0.858;
    bench/bench_merge.py --federated).
    """
    rows = [i for i, c in enumerate(row_codes) if not c and not empty[i]]
    if not rows:
        return {}
    x = np.asarray(vectors, dtype=np.float32)[rows]
    best = teacher.predict(x).proba.argmax(axis=1)
    return {teacher.labels[j]: x[best == j] for j in np.unique(best)}


def teacher_id(teacher: Any) -> str:
    """The merged coder a laptop relearned from (sha256 of its weights): round-2 coders share it."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(teacher.weight, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(teacher.bias, dtype=np.float32).tobytes())
    return h.hexdigest()
