"""A learned sentence scorer for reports, cross-validated: does it beat Lead-3 held out?

Run:  python bench/bench_summarize_learned.py [--folds 10]

Logistic regression (numpy, Newton steps, L2) on few general features: position (exp(-i/8),
first sentence), TF-IDF centrality, similarity to the first sentence, length (log words, under
8 words, over 70), quotes, numbers, capitalised-word share. Labels: the greedy ROUGE-1 oracle of
3 sentences, computed inside each training fold. Scored on the held-out fold two ways: top 3 by
the learned score alone (near-duplicates skipped), and the learned content score (features
without position) as the centrality beside the shipped position prior (rank_sentences). Prints
each fold's gain over Lead-3 and the fitted weights, so a reader sees the spread.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
FEATURES = ("pos", "first", "central", "sim_first", "log_words", "short", "long", "quote", "number", "caps")
CONTENT = tuple(f for f in FEATURES if f not in ("pos", "first"))


def features(sentences: list[str], v: np.ndarray) -> np.ndarray:
    i = np.arange(len(sentences))
    w = np.array([len(s.split()) for s in sentences], float)
    c = v @ (v.mean(axis=0) / (np.linalg.norm(v.mean(axis=0)) + 1e-9))
    f = {"pos": np.exp(-i / 8), "first": (i == 0).astype(float),
         "central": (c - c.min()) / (c.max() - c.min() + 1e-9), "sim_first": np.where(i == 0, 0, v @ v[0]),
         "log_words": np.log1p(w), "short": (w < 8).astype(float), "long": (w > 70).astype(float),
         "quote": np.array([bool(re.search("[\"“”‘]|^'", s)) for s in sentences], float),
         "number": np.array([bool(re.search(r"\d", s)) for s in sentences], float),
         "caps": np.array([sum(t[:1].isupper() for t in s.split()[1:]) / max(1, len(s.split()) - 1)
                           for s in sentences])}
    return np.stack([f[k] for k in FEATURES], axis=1)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (last = bias), mean and scale of standardised features."""
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    w = np.zeros(Z.shape[1])
    reg = l2 * np.r_[np.ones(len(w) - 1), 0.0]
    for _ in range(100):
        p = 1 / (1 + np.exp(-Z @ w))
        step = np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg), Z.T @ (p - y) + reg * w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w, mu, sd


def score(X, model) -> np.ndarray:
    w, mu, sd = model
    return np.hstack([(X - mu) / sd, np.ones((len(X), 1))]) @ w


def oracle(sentences: list[str], reference: str, k: int = 3) -> np.ndarray:
    from fieldkit.analysis.rouge import rouge1

    picked: list[int] = []
    best = 0.0
    while len(picked) < k:
        cand = [(rouge1(" ".join(sentences[j] for j in sorted(picked + [i])), reference), i)
                for i in range(len(sentences)) if i not in picked]
        if not cand or max(cand)[0] <= best:
            break
        best, i = max(cand)
        picked.append(i)
    y = np.zeros(len(sentences))
    y[picked] = 1
    return y


def main() -> None:
    from fieldkit.analysis import summarize as S
    from fieldkit.analysis.rouge import rouge1
    from fieldkit.analysis.sentences import split_sentences
    from fieldkit.analysis.summary_vectors import tfidf_vectors

    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=10)
    folds = ap.parse_args().folds
    arts = [json.loads(x) for x in (DATA / "summarization" / "cnndm_dev_100.jsonl").open(encoding="utf-8")]
    sents = [split_sentences(a["article"]) for a in arts]
    vecs = [tfidf_vectors(s) for s in sents]
    X = [features(s, v) for s, v in zip(sents, vecs)]
    Y = [oracle(s, a["reference"]) for s, a in zip(sents, arts)]
    content = [FEATURES.index(f) for f in CONTENT]
    r1 = lambda s, p, a: 100 * rouge1(" ".join(s[i] for i in sorted(p)), a["reference"])  # noqa: E731
    lead = np.array([r1(s, range(min(3, len(s))), a) for s, a in zip(sents, arts)])
    alone, mixed = np.zeros(len(arts)), np.zeros(len(arts))
    fold = np.arange(len(arts)) % folds
    print(f"### CNN/DM, learned sentence scorer, {folds}-fold CV (oracle labels fitted in each training fold)")
    print("| fold | Lead-3 | learned alone | gain | learned content + shipped position prior | gain |")
    print("|---|---:|---:|---:|---:|---:|")
    for f in range(folds):
        tr = np.flatnonzero(fold != f)
        full = fit_logistic(np.vstack([X[j] for j in tr]), np.concatenate([Y[j] for j in tr]))
        part = fit_logistic(np.vstack([X[j][:, content] for j in tr]), np.concatenate([Y[j] for j in tr]))
        for j in np.flatnonzero(fold == f):
            s, v = sents[j], vecs[j]
            order = [int(i) for i in np.argsort(-score(X[j], full), kind="stable")]
            pick: list[int] = []
            for i in order:  # top 3, near-duplicates skipped
                if len(pick) < 3 and all(float(v[i] @ v[p]) < S.NEAR_DUPLICATE for p in pick):
                    pick.append(i)
            alone[j] = r1(s, pick, arts[j])
            words = [len(x.split()) for x in s]
            mixed[j] = r1(s, S.rank_sentences(v, words, 3, centrality=score(X[j][:, content], part)), arts[j])
        m = fold == f
        print(f"| {f} | {lead[m].mean():.2f} | {alone[m].mean():.2f} | {alone[m].mean() - lead[m].mean():+.2f} | "
              f"{mixed[m].mean():.2f} | {mixed[m].mean() - lead[m].mean():+.2f} |")
    print(f"| all | {lead.mean():.2f} | {alone.mean():.2f} | {alone.mean() - lead.mean():+.2f} | "
          f"{mixed.mean():.2f} | {mixed.mean() - lead.mean():+.2f} |")
    w = fit_logistic(np.vstack(X), np.concatenate(Y))[0]
    print("weights fitted on all 100 (standardised features): "
          + ", ".join(f"{k} {x:+.2f}" for k, x in zip(FEATURES, w)))


if __name__ == "__main__":
    main()
