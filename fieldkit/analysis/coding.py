"""Coding open-ended answers: learn codes from the analyst's own tags and a codebook, apply them.

The coder is a linear softmax over sentence embeddings (small, fast, saved as plain arrays),
taught by the labelled rows, by the codebook's names, descriptions and examples (so a code no
row has is still assigned, zero-shot), and by label spreading over the nearest-neighbour graph
of the uncoded answers, over embeddings a SetFit-style linear adapter may reshape
(coding_adapter.py); C, the adapter's steps and the spread weight are what the coder's own
out-of-fold accuracy on the analyst's codes chooses (bench/bench_code.py). Scores are calibrated by a temperature fitted on out-of-fold
predictions, so that answers scored 0.9 are right about 90% of the time.

CONTRACT (the pipeline and the TUI rely on it):
    fit_coder(vectors, row_codes, model_id, codebook=None, codebook_vectors=None, reporter=None) -> Coder
    Coder.predict(vectors) -> Prediction; Coder.save(path); Coder.load(path)
    code_rows(vectors, row_codes, coder) -> CodingResult  (human rows kept, others predicted)
    suggest_rows(result, n, texts) -> row indices whose coding would teach the model most
    suggest_tags(vectors, tags, model_id) -> Suggestions  (the TUI's "suggest tags")
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fieldkit.analysis.codebook import SEP, Codebook, split_codes
from fieldkit.analysis.coding_calibration import (  # noqa: F401  (re-exported)
    agreement_temperature, expected_calibration_error, fit_temperature as _fit_temperature)
from fieldkit.analysis.coding_adapter import ADAPTER_MAX, adapt, fold_into, train_adapter
from fieldkit.analysis.coding_graph import ALPHA, KNN, spread_labels, spread_matrix
from fieldkit.errors import UsageError
from fieldkit.progress import Reporter

# inverse regularisation, picked per coder by out-of-fold accuracy on the analyst's codes: the
# best C grows with the coded answers (Banking77 MiniLM: 30 at 10 per code and with all 7k
# labels; the Chinese reviews: 10), and one C fixed for few labels cost the all-labels coder
C_GRID = (3.0, 10.0, 30.0, 100.0)
C_REG = 10.0  # the C when nothing can be held out to pick one
# lbfgs stops when the largest gradient entry falls under this; sklearn's default (1e-4): at
# 1e-3 the class-balanced all-labels fit stopped after 13 iterations, 0.907 against 0.914
TOL = 1e-4
# SetFit-style adapter (analysis/coding_adapter.py): Adam steps tried, picked out of fold (0: none)
ADAPTER_STEPS = (0, 10, 20, 30)
# label spreading (analysis/coding_graph.py): the weights a spread label may take, picked per coder
# out of fold (0.3 on Banking77; 0 on the Chinese reviews, whose neighbours share the kind, not the sentiment)
SPREAD_WEIGHTS = (0.3, 0.0)  # the first wins ties
# the weight when the pick cannot be measured: too few coded answers to hold any out, or codes
# taught by the codebook alone (held-out answers never carry them, yet spreading is what
# carries them from the codebook's texts to the answers); and for answers with several codes,
# as no shared set has them to check a pick on (leave-one-dataset-out covers one-code sets)
PSEUDO_WEIGHT = 0.3
# uncoded answers in the spreading graph: bounds its cost (kNN is quadratic) for any file size
POOL_MAX = 4000
# answers with several codes: each code is a yes/no question (sigmoid), given when p >= 0.5;
# a spread label counts for every code within this share of the answer's strongest one
MULTI_SHARE = 0.5
MAX_CODES = 3
# needs_review: more likely wrong than right, or a runner-up this close
REVIEW_SCORE = 0.5
REVIEW_MARGIN = 0.1


def settings() -> dict[str, Any]:
    """How coders are trained now (kept in every saved coder, so a merge knows what it averages)."""
    return {"C": C_REG, "C_grid": list(C_GRID), "tol": TOL, "adapter_steps": list(ADAPTER_STEPS),
            "adapter_max": ADAPTER_MAX, "knn": KNN, "alpha": ALPHA, "spread_weights": list(SPREAD_WEIGHTS),
            "default_spread_weight": PSEUDO_WEIGHT, "pool_max": POOL_MAX, "multi_share": MULTI_SHARE, "max_codes": MAX_CODES}


# ----------------------------------------------------------------------------- the model


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass
class Prediction:
    """Calibrated probabilities of every code for some rows, best first."""

    proba: np.ndarray  # (n, L) float32
    labels: list[str]
    multi_code: bool
    threshold: float = 0.5  # several codes: the score a further code needs (coding_multi.py)

    def codes(self) -> tuple[list[str | None], np.ndarray, np.ndarray]:
        """Per row: codes joined by `;`, score of the first, needs_review."""
        n = self.proba.shape[0]
        if n == 0:
            return [], np.zeros(0), np.zeros(0, dtype=bool)
        order = np.argsort(-self.proba, axis=1)[:, : MAX_CODES + 1]
        top = np.take_along_axis(self.proba, order, axis=1)
        keep = np.zeros_like(top, dtype=bool)
        keep[:, 0] = True
        if self.multi_code:  # independent yes/no per code: every "yes" (the best one always)
            keep[:, 1:MAX_CODES] = top[:, 1:MAX_CODES] >= self.threshold
        runner_up = np.where(keep, 0.0, top).max(axis=1) if top.shape[1] > 1 else np.zeros(n)
        score = top[:, 0].astype(np.float64)
        if self.multi_code:  # a left-out code near the cut is the close call
            review = (score < REVIEW_SCORE) | (runner_up >= self.threshold - REVIEW_MARGIN)
        else:
            review = (score < REVIEW_SCORE) | (runner_up >= score - REVIEW_MARGIN)
        names = np.asarray(self.labels, dtype=object)
        codes = names[order[:, 0]]  # one code per answer: no per-row Python
        for i in np.flatnonzero(keep[:, 1:].any(axis=1)):  # the few answers with several codes
            codes[i] = SEP.join(names[order[i, keep[i]]])
        return codes.tolist(), score, review

    def margin(self) -> np.ndarray:
        """How sure the coder is (small = it hesitates): first minus second, or distance to the cut."""
        if self.multi_code:
            return 2 * np.abs(self.proba - self.threshold).min(axis=1)
        if self.proba.shape[1] < 2:
            return np.ones(self.proba.shape[0])
        part = -np.partition(-self.proba, 1, axis=1)[:, :2]
        return part[:, 0] - part[:, 1]


@dataclass
class Coder:
    """A learned coder: softmax weights over one model's embeddings, with its label counts.

    Saved as a folder of plain arrays + JSON (no pickle, analysis/coder_file.py); `n_labelled`
    per code lets a later merge average coders weighted by the answers that taught each code (FedAvg).
    """

    model_id: str
    labels: list[str]
    weight: np.ndarray  # (L, dim) float32
    bias: np.ndarray  # (L,) float32
    n_labelled: np.ndarray  # (L,) int64: labelled answers per code (0 = codebook only)
    temperature: float = 1.0
    multi_code: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5  # several codes per answer: the score a further code needs
    stats: Any = None  # analysis.coding_stats.LabelStats of the coded answers (exact merges)

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, vectors: np.ndarray, chunk: int = 65_536) -> np.ndarray:
        out = np.empty((len(vectors), len(self.labels)), dtype=np.float32)
        for s in range(0, len(vectors), chunk):
            x = np.asarray(vectors[s:s + chunk], dtype=np.float32)
            out[s:s + chunk] = x @ self.weight.T + self.bias
        return out

    def predict(self, vectors: np.ndarray) -> Prediction:
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise UsageError(f"the coder was trained on {self.dim}-d vectors of {self.model_id}, "
                             f"these are {vectors.shape[-1]}-d",
                             f"embed with --model {self.model_id}")
        z = self.logits(vectors) / np.float32(self.temperature)
        proba = 1.0 / (1.0 + np.exp(-z)) if self.multi_code else _softmax(z)
        return Prediction(proba, self.labels, self.multi_code, self.threshold)

    def save(self, folder: str | Path) -> Path:
        """Write the coder as a folder of plain arrays + JSON (format: analysis/coder_file.py)."""
        from fieldkit.analysis import coder_file

        return coder_file.save(self, folder)

    @classmethod
    def load(cls, folder: str | Path) -> "Coder":
        """Read a coder folder written by `save`; anything else is refused with a clear message."""
        from fieldkit.analysis import coder_file

        return cls(**coder_file.read(folder))


# ----------------------------------------------------------------------------- training


def _fit_softmax(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_labels: int, c_reg: float = C_REG):
    """Class-balanced multinomial logistic regression; weights (L, d), bias (L,)."""
    from sklearn.linear_model import LogisticRegression

    mass = np.bincount(y, weights=w, minlength=n_labels)
    present = mass > 0
    balance = np.where(present, w.sum() / (present.sum() * np.maximum(mass, 1e-12)), 0.0)
    clf = LogisticRegression(C=c_reg, max_iter=1000, tol=TOL)
    with warnings.catch_warnings():  # "more classes than half the samples" is few-shot coding
        warnings.simplefilter("ignore", UserWarning)
        clf.fit(x, y, sample_weight=w * balance[y])
    weight = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    bias = np.full(n_labels, -1e4, dtype=np.float32)  # a code never taught is never predicted
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes
        coef = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        icpt = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        coef, icpt = clf.coef_, clf.intercept_
    weight[clf.classes_] = coef
    bias[clf.classes_] = icpt
    return weight, bias


@dataclass
class _Seeds:
    """Training points: vectors, label index, weight (several codes share an answer's weight)."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    row: np.ndarray  # which labelled answer each point came from (-1 = codebook text)


def _indicator(seeds: _Seeds, use: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point per coded answer with all its codes (and one per codebook text): x, Y, weight."""
    where: dict[tuple[str, int], int] = {}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for j in np.flatnonzero(use):
        r = int(seeds.row[j])
        key = ("row", r) if r >= 0 else ("book", j)
        if key not in where:
            where[key] = len(xs)
            xs.append(seeds.x[j])
            ys.append(np.zeros(n_labels, dtype=bool))
        ys[where[key]][seeds.y[j]] = True
    return np.vstack(xs), np.vstack(ys), np.ones(len(xs))


def _fit_yes_no(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                c_reg: float = C_REG) -> tuple[np.ndarray, np.ndarray]:
    """One class-balanced logistic regression per code (answers may have several codes)."""
    from sklearn.linear_model import LogisticRegression

    n_labels = y.shape[1]
    weight = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    bias = np.full(n_labels, -1e4, dtype=np.float32)  # a code never taught is never given
    for j in range(n_labels):
        pos = y[:, j]
        if not pos.any():
            continue
        if pos.all():
            bias[j] = 1e4
            continue
        balance = np.where(pos, w.sum() / (2 * w[pos].sum()), w.sum() / (2 * w[~pos].sum()))
        clf = LogisticRegression(C=c_reg, max_iter=1000, tol=TOL)
        clf.fit(x, pos.astype(int), sample_weight=w * balance)
        weight[j] = clf.coef_[0]
        bias[j] = clf.intercept_[0]
    return weight, bias


def _train(seeds: _Seeds, pool: np.ndarray, s_matrix, n_labels: int,
           reporter: Reporter | None, use: np.ndarray | None = None,
           multi: bool = False, spread: float = PSEUDO_WEIGHT,
           c_reg: float = C_REG) -> tuple[np.ndarray, np.ndarray]:
    """Spread the seeds' labels over the pool graph, then fit the coder on seeds + pool.

    The graph holds the pool then every seed; `use` picks the seeds that teach (a fold's);
    `spread` is the weight of a spread label (0: the coded answers alone).
    """
    use = np.ones(len(seeds.y), dtype=bool) if use is None else use
    x, y, w = seeds.x[use], seeds.y[use], seeds.w[use]
    f = got = None
    if len(pool) and spread > 0:
        n_pool = len(pool)
        f = spread_labels(s_matrix, np.flatnonzero(use) + n_pool, y, w, n_labels)[:n_pool]
        got = f.sum(axis=1) > 0
    if reporter is not None:
        reporter.check()
    if multi:
        x, ymat, w = _indicator(seeds, use, n_labels)
        if f is not None:
            pseudo = (f >= MULTI_SHARE * f.max(axis=1, keepdims=True)) & (f > 0)
            x = np.vstack([x, pool[got]])
            ymat = np.vstack([ymat, pseudo[got]])
            w = np.concatenate([w, np.full(int(got.sum()), spread)])
        return _fit_yes_no(x, ymat, w, c_reg)
    if f is not None:
        x = np.vstack([x, pool[got]])
        y = np.concatenate([y, f.argmax(axis=1)[got]])
        w = np.concatenate([w, np.full(int(got.sum()), spread, dtype=np.float64)])
    return _fit_softmax(x, y, w, n_labels, c_reg)


def fit_coder(vectors: np.ndarray, row_codes: Sequence[list[str]], model_id: str,
              codebook: Codebook | None = None, codebook_vectors: dict[str, np.ndarray] | None = None,
              reporter: Reporter | None = None, folds: int = 3, seed: int = 0,
              spread: bool = True) -> Coder:
    """Learn a coder from the coded rows of `vectors`, the codebook, and the uncoded rows.

    `row_codes[i]` is [] for an uncoded answer; uncoded answers (up to POOL_MAX) carry labels
    by spreading (`spread=False`: not, e.g. when a merged coder labelled them into
    `codebook_vectors`). The temperature comes from `folds`-fold predictions on the coded answers.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = list(codebook.codes) if codebook else []
    for codes in row_codes:
        labels += [c for c in codes if c not in labels]
    index = {c: i for i, c in enumerate(labels)}
    coded = [i for i, codes in enumerate(row_codes) if codes]
    n_labelled = np.zeros(len(labels), dtype=np.int64)
    xs, ys, ws, rows = [], [], [], []
    for i in coded:
        share = 1.0 / len(row_codes[i])
        for c in row_codes[i]:
            xs.append(vectors[i]), ys.append(index[c]), ws.append(share), rows.append(i)
            n_labelled[index[c]] += 1
    for code, vecs in (codebook_vectors or {}).items():
        for v in np.asarray(vecs, dtype=np.float32):
            xs.append(v), ys.append(index[code]), ws.append(1.0), rows.append(-1)
    taught = {ys[j] for j in range(len(ys))}
    if len(taught) < 2:
        only = f" (all are {labels[next(iter(taught))]!r})" if taught else ""
        raise UsageError(f"coding needs at least two codes to tell apart{only}",
                         "code a few answers with other codes, or give a --codebook with "
                         "two or more codes")
    seeds = _Seeds(np.vstack(xs), np.asarray(ys), np.asarray(ws, dtype=np.float64), np.asarray(rows))
    uncoded = np.flatnonzero([spread and not c and np.any(vectors[i]) for i, c in enumerate(row_codes)])
    rng = np.random.default_rng(seed)
    if len(uncoded) > POOL_MAX:
        uncoded = np.sort(rng.choice(uncoded, POOL_MAX, replace=False))
    pool = vectors[uncoded]
    multi = any(len(row_codes[i]) > 1 for i in coded)
    book_only = any(n == 0 and j in taught for j, n in enumerate(n_labelled))
    spreads = (0.0,) if not len(pool) else (PSEUDO_WEIGHT,) if book_only or multi else SPREAD_WEIGHTS
    fits = folds * (len(C_GRID) + len(ADAPTER_STEPS) - 1 + sum(1 for s in spreads if s != 0))
    rep = reporter.child("learn codes", fits + 2) if reporter is not None else None
    graph = spread_matrix(np.vstack([pool, seeds.x]), rep) if len(pool) else None
    # the fits are small (a few thousand rows): on one thread they cost 5 CPU-s where BLAS and
    # OpenMP threads spinning against other jobs cost 64 (bench_code.py --only speed, load 25)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        c_reg, steps, spread, temperature, held_out = _calibrate(
            seeds, pool, graph, len(labels), folds, rng, rep, multi, spreads=spreads)
        m_map = train_adapter(seeds.x, seeds.y, (steps,), rep, seed=seed)[steps] if steps else None
        # no warm starts anywhere: lbfgs stopping near a start that saw other data (held-out
        # rows, another spread weight) gave coders other than the ones measured, 4-9 points off
        weight, bias = _train_adapted(seeds, pool, graph, len(labels), rep, m_map, multi=multi,
                                      spread=spread, c_reg=c_reg)
    if held_out["method"] == "none" and len(pool) and not multi:  # codebook only: coding_calibration.py
        temperature, held_out = agreement_temperature(pool @ weight.T + bias, pool, seeds.x, seeds.y)
    info = {"coded_answers": len(coded), "codebook_codes": len(codebook.codes) if codebook else 0,
            "pool": int(len(pool)), "C": c_reg, "adapter_steps": steps, "spread_weight": spread,
            "calibration": held_out, "settings": settings()}
    if rep is not None:
        rep.finish()
    stats = None
    if not multi:  # one code per answer: statistics a merge can pool exactly (coding_stats.py)
        from fieldkit.analysis.coding_stats import label_stats

        mine = seeds.row >= 0
        stats = label_stats(seeds.x[mine], seeds.y[mine], len(labels))
    return Coder(model_id, labels, weight, bias, n_labelled, temperature, multi_code=multi,
                 info=info, stats=stats, threshold=float(held_out.get("code_threshold", 0.5)))


def _train_adapted(seeds: _Seeds, pool: np.ndarray, graph, n_labels: int, rep: Reporter | None,
                   m_map: np.ndarray | None, **kw) -> tuple[np.ndarray, np.ndarray]:
    """`_train` over adapted embeddings (coding_adapter.py), its weights folded back onto raw ones."""
    if m_map is None:
        return _train(seeds, pool, graph, n_labels, rep, **kw)
    adapted = _Seeds(adapt(seeds.x, m_map), seeds.y, seeds.w, seeds.row)
    weight, bias = _train(adapted, adapt(pool, m_map), graph, n_labels, rep, **kw)
    return fold_into(weight, m_map), bias


def _calibrate(seeds: _Seeds, pool: np.ndarray, graph, n_labels: int, folds: int,
               rng: np.random.Generator, rep: Reporter | None, multi: bool = False,
               spreads: Sequence[float] = (PSEUDO_WEIGHT,)) -> tuple[float, int, float, float, dict[str, Any]]:
    """C, adapter steps, spread weight and temperature from out-of-fold logits of the coded answers.

    On the same folds (over answers, not codes): first every C in C_GRID on the coded answers
    alone (cheap, no spread labels); then, with that C, every number of ADAPTER_STEPS (one
    adapter run per fold, on the fold's own answers); then every weight in `spreads` (0 reuses
    the earlier fits). Best out-of-fold accuracy wins, ties the first (smaller C, fewer steps,
    the first weight); the winner's logits fit the temperature. Returns (C, steps, spread
    weight, temperature, what was measured).
    """
    answers = np.unique(seeds.row[seeds.row >= 0])
    default = PSEUDO_WEIGHT if len(pool) else 0.0
    if len(answers) < 2 * folds or folds < 2:
        return C_REG, 0, default, 1.0, {"method": "none", "why": "too few coded answers to hold any out"}
    fold_of = dict(zip(rng.permutation(answers).tolist(), np.arange(len(answers)) % folds))
    fold = np.array([fold_of.get(r, -1) for r in seeds.row])
    maps: dict[int, dict[int, np.ndarray]] = {}

    def out_of_fold(c_reg: float, spread: float, steps: int = 0):
        logits, truth = [], []
        for k in range(folds):
            held = fold == k
            if len(np.unique(seeds.y[~held])) < 2:
                continue
            if steps and k not in maps:
                maps[k] = train_adapter(seeds.x[~held], seeds.y[~held], ADAPTER_STEPS, rep, seed=k)
            weight, bias = _train_adapted(seeds, pool, graph, n_labels, rep,
                                          maps[k][steps] if steps else None, use=~held,
                                          multi=multi, spread=spread, c_reg=c_reg)
            if multi:
                x, ymat, _ = _indicator(seeds, held, n_labels)
                logits.append(x @ weight.T + bias)
                truth.append(ymat)
            else:
                logits.append(seeds.x[held] @ weight.T + bias)
                truth.append(seeds.y[held])
            if rep is not None:
                rep.advance()
        if not logits:
            return None
        # a held-out code that training never saw cannot be predicted: keep it out of the fit's way
        z = np.clip(np.vstack(logits), -50.0, 50.0)
        y = np.vstack(truth) if multi else np.concatenate(truth)
        first = z.argmax(axis=1)
        right = y[np.arange(len(y)), first] if multi else first == y
        return float(np.mean(right)), z, y

    by_c: dict[float, tuple[float, np.ndarray, np.ndarray]] = {}
    for c_reg in C_GRID:
        got = out_of_fold(c_reg, 0.0)
        if got is None:
            return C_REG, 0, default, 1.0, {"method": "none", "why": "no fold had two codes"}
        by_c[c_reg] = got
    c_best = max(by_c, key=lambda c: by_c[c][0])  # max keeps the first of equals
    by_steps = {n: (by_c[c_best] if n == 0 else out_of_fold(c_best, 0.0, n))
                for n in (ADAPTER_STEPS if not multi else (0,))}
    steps = max(by_steps, key=lambda n: by_steps[n][0])
    tried = {s: (by_steps[steps] if s == 0 else out_of_fold(c_best, s, steps)) for s in spreads}
    spread = max(tried, key=lambda s: tried[s][0])
    _, z, y = tried[spread]
    t = _fit_temperature(z, y.astype(np.float64) if multi else y)
    extra = {}
    if multi:
        from fieldkit.analysis.coding_multi import pick_threshold

        p = 1.0 / (1.0 + np.exp(-z / t))
        first_right = y[np.arange(len(y)), p.argmax(axis=1)]
        cut, exact = pick_threshold(p, y, MAX_CODES)
        extra = {"code_threshold": cut, "exact_codes_by_threshold": exact}
    else:
        p = _softmax(z / t)
        first_right = p.argmax(axis=1) == y
    ece = expected_calibration_error(p.max(axis=1), first_right)
    return c_best, steps, spread, t, {
        "method": "temperature", "folds": folds, "held_out_points": int(len(y)),
        "held_out_accuracy": round(float(np.mean(first_right)), 4), "ece": round(float(ece), 4),
        "C": c_best, "C_accuracy": {f"{c:g}": round(v[0], 4) for c, v in by_c.items()},
        "adapter_steps": steps, "adapter_accuracy": {str(n): round(v[0], 4) for n, v in by_steps.items()},
        "spread_weight": spread, "spread_accuracy": {str(s): round(v[0], 4) for s, v in tried.items()},
        **extra}


# ----------------------------------------------------------------------------- applying


@dataclass
class CodingResult:
    """Per row: code (joined by `;`), score, source, needs_review; plus the raw prediction."""

    code: list[str | None]
    score: np.ndarray
    source: list[str | None]
    needs_review: np.ndarray
    prediction: Prediction
    human: np.ndarray  # bool per row

    def summary(self, texts: Sequence[Any], examples: int = 3) -> list[dict[str, Any]]:
        """Per code: rows, share, mean score, a few example answers (highest scores first)."""
        n = len(self.code)
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(self.code):
            for part in split_codes(c):
                groups.setdefault(part, []).append(i)
        out = []
        for code in self.prediction.labels + [c for c in groups if c not in self.prediction.labels]:
            rows = groups.get(code, [])
            scores = self.score[rows] if rows else np.zeros(0)
            best: list[int] = []
            seen: set[str] = set()
            for j in np.argsort(-scores, kind="stable"):  # distinct answers, best scored first
                t = texts[rows[j]]
                key = " ".join(str(t).split()).lower() if t is not None else ""
                if key and key not in seen:  # an empty answer (coded by hand) is no example
                    seen.add(key)
                    best.append(rows[j])
                if len(best) >= examples:
                    break
            out.append({"code": code, "rows": len(rows), "share": len(rows) / n if n else 0.0,
                        "mean_score": float(scores.mean()) if rows else float("nan"),
                        "human": int(self.human[rows].sum()) if rows else 0,
                        "examples": [str(texts[i]) for i in best]})
        out.sort(key=lambda d: -d["rows"])
        return out


def code_rows(vectors: np.ndarray | None, row_codes: Sequence[list[str]], coder: Coder,
              empty: Sequence[bool] | None = None, prediction: Any = None) -> CodingResult:
    """Human codes where the analyst gave them, the coder's elsewhere (empty answers: none).

    `prediction`: the coder's prediction made elsewhere (the Ray workers, fieldkit.scale.coder), instead of here.
    """
    pred = prediction if prediction is not None else coder.predict(np.asarray(vectors, dtype=np.float32))
    codes, score, review = pred.codes()
    human = np.array([bool(c) for c in row_codes], dtype=bool)
    empty = np.zeros(len(codes), dtype=bool) if empty is None else np.asarray(empty, dtype=bool)
    out_codes: list[str | None] = list(codes)
    source: list[str | None] = ["model"] * len(codes)
    score = score.copy()
    review = review.copy()
    for i in np.flatnonzero(human | empty):
        if human[i]:
            out_codes[i], score[i], source[i], review[i] = SEP.join(row_codes[i]), 1.0, "human", False
        else:
            out_codes[i], score[i], source[i], review[i] = None, np.nan, None, False
    return CodingResult(out_codes, score, source, review, pred, human)


def suggest_rows(result: CodingResult, n: int, texts: Sequence[Any] | None = None) -> list[int]:
    """The n uncoded answers the coder is least sure between two codes about (margin sampling).

    Exact repeats of an answer are offered once: tagging the same text twice teaches nothing.
    """
    margin = result.prediction.margin()
    model = np.asarray(result.source, dtype=object) == "model"
    order = np.argsort(np.where(model, margin, np.inf), kind="stable")
    candidates = order[: int(model.sum())]
    out: list[int] = []
    seen: set[str] = set()
    for i in candidates:
        key = " ".join(str(texts[i]).lower().split()) if texts is not None else str(i)
        if key in seen:
            continue
        seen.add(key)
        out.append(int(i))
        if len(out) >= n:
            break
    return out


@dataclass
class Suggestions:
    """Suggested tags for the TUI: per row a code (None where tagged), its score, rows to ask next."""

    code: list[str | None]
    score: np.ndarray
    needs_review: np.ndarray
    ask_next: list[int]
    model: str


def suggest_tags(vectors: np.ndarray, tags: Sequence[Sequence[str] | None], model_id: str,
                 n_next: int = 20, texts: Sequence[Any] | None = None,
                 reporter: Reporter | None = None) -> Suggestions:
    """Fit on the tagged rows and suggest a tag for the others (tags on one row only are left out).

    One example teaches a code too little to suggest it elsewhere, so a tag needs two rows.
    """
    row_codes = [split_codes(list(t) if t else None) for t in tags]
    counts: dict[str, int] = {}
    for codes in row_codes:
        for c in codes:
            counts[c] = counts.get(c, 0) + 1
    taught = [[c for c in codes if counts[c] >= 2] for codes in row_codes]
    coder = fit_coder(np.asarray(vectors, dtype=np.float32), taught, model_id, reporter=reporter)
    result = code_rows(vectors, taught, coder)
    code = [None if result.human[i] else result.code[i] for i in range(len(taught))]
    return Suggestions(code, np.where(result.human, np.nan, result.score),
                       result.needs_review & ~result.human,
                       suggest_rows(result, n_next, texts), coder.model_id)
