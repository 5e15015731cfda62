"""Coder levers measured and not kept (README "Coding open-ended answers"): same splits as bench_code.py.

  lexical  TF-IDF word 1-2 + char_wb 2-4 n-gram logistic regression (class-balanced, C 10)
           stacked on the coder: log p = (1 - a) log p_coder + a log p_lexical, `a` picked among
           0/0.1/0.2/0.3/0.5 by 3-fold out-of-fold accuracy on the coded answers (nested), then
           scored on the held-out rows; also every `a` on the held-out rows (the oracle).
  encoders the coder of each model, log-probabilities averaged (2 or 3 encoders; "oracle" weights)
  names    the code names ("card_arrival" -> "card arrival") as extra codebook texts at 10 per code
           (part of `encoders`, on Banking77)
  smoothing  test-time smoothing: coder log p + b log softmax(cos(answer, code name) / 0.05)
  all      all labels: plain LR (C 30) per model and the lexical LR, mixed

Usage: python bench/bench_code_levers.py lexical banking77 all-minilm-l6-v2 [--repeats 2]
       python bench/bench_code_levers.py encoders banking77 all-minilm-l6-v2,multilingual-e5-small,use-multilingual
       python bench/bench_code_levers.py all banking77 all-minilm-l6-v2,multilingual-e5-small,use-multilingual
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_code import fieldkit_coder, few, load, split  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)


def lexical_logp(texts, y, lab, rows, labels, c_reg=10.0):
    """Log-probabilities (rows, L) of a TF-IDF word + character n-gram logistic regression taught by `lab`."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    views = [TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
             TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)]
    train = hstack([v.fit_transform([texts[i] for i in lab]) for v in views]).tocsr()
    test = hstack([v.transform([texts[i] for i in rows]) for v in views]).tocsr()
    clf = LogisticRegression(C=c_reg, max_iter=2000, class_weight="balanced").fit(train, y[lab])
    out = np.full((len(rows), len(labels)), 1e-9)
    out[:, [labels.index(c) for c in clf.classes_]] += clf.predict_proba(test)
    return np.log(out)


def coder_logp(x, y, lab, pool, rows, model, labels):
    from fieldkit.analysis.coding import fit_coder

    coder = fit_coder(x[np.concatenate([lab, pool])], [[str(y[i])] for i in lab] + [[] for _ in pool], model)
    p = coder.predict(x[rows]).proba.astype(np.float64)
    return np.log(p[:, [coder.labels.index(c) for c in labels]] + 1e-9)


def lexical(args):
    from fieldkit.analysis.coding import _fit_temperature, _softmax, expected_calibration_error

    x, y, texts = load(args.set, args.models[0])
    texts = [t or "" for t in texts]
    train, test = split(len(y))
    labels = sorted(set(y))
    yi = np.array([labels.index(v) for v in y])
    for r in range(args.repeats):
        lab, t0 = few(y, train, 10, r), time.time()
        pool = np.setdiff1d(train, lab)
        fold = np.random.default_rng(100 + r).permutation(len(lab)) % 3
        oof_c, oof_l = np.zeros((len(lab), len(labels))), np.zeros((len(lab), len(labels)))
        for f in range(3):
            tr, he = lab[fold != f], lab[fold == f]
            oof_c[fold == f] = coder_logp(x, y, tr, pool, he, args.models[0], labels)
            oof_l[fold == f] = lexical_logp(texts, y, tr, he, labels)
        oof = {a: np.mean(((1 - a) * oof_c + a * oof_l).argmax(1) == yi[lab]) for a in WEIGHTS}
        pick = max(WEIGHTS, key=lambda a: oof[a])
        tc = coder_logp(x, y, lab, pool, test, args.models[0], labels)
        tl = lexical_logp(texts, y, lab, test, labels)
        acc = {a: np.mean(((1 - a) * tc + a * tl).argmax(1) == yi[test]) for a in WEIGHTS}
        t = _fit_temperature((1 - pick) * oof_c + pick * oof_l, yi[lab])
        p = _softmax(((1 - pick) * tc + pick * tl) / t)
        ece = expected_calibration_error(p.max(1), p.argmax(1) == yi[test])
        print(f"{args.set} {args.models[0]} draw {r}: held out by weight "
              + " ".join(f"{a}:{acc[a]:.3f}" for a in WEIGHTS) + " | out of fold "
              + " ".join(f"{a}:{oof[a]:.3f}" for a in WEIGHTS)
              + f" | picked {pick} -> {acc[pick]:.3f} ECE {ece:.3f} ({time.time() - t0:.0f} s)", flush=True)


def encoders(args):
    from fieldkit.analysis.codebook import Codebook, humanize
    from fieldkit.inference.embedder import get_embedder

    data = {m: load(args.set, m) for m in args.models}
    y = data[args.models[0]][1]
    train, test = split(len(y))
    names = sorted(set(y))
    yt = np.array([names.index(v) for v in y[test]])
    for r in range(args.repeats):
        lab = few(y, train, 10, r)
        pool = np.setdiff1d(train, lab)
        logp, line = {}, f"{args.set} draw {r}:"
        for m in args.models:
            x = data[m][0]
            logp[m] = coder_logp(x, y, lab, pool, test, m, names)
            line += f" {m} {np.mean(logp[m].argmax(1) == yt):.3f}"
            if m == args.models[0] and args.set == "banking77":
                vecs = get_embedder(m).embed_all([humanize(c) for c in names])
                acc, *_ = fieldkit_coder(x, y, lab, pool, test, m, codebook=Codebook(codes=names),
                                         book_vectors={c: vecs[i:i + 1] for i, c in enumerate(names)})
                line += f" (+ code names as codebook texts {acc:.3f})"
        first, rest = logp[args.models[0]], [logp[m] for m in args.models[1:]]
        for a in (0.3, 0.5, 0.7):
            mix = a * first + (1 - a) * sum(rest) / len(rest)
            line += f" | mix {a}: {np.mean(mix.argmax(1) == yt):.3f}"
        print(line, flush=True)


def smoothing(args):
    """Test-time smoothing with the codebook: coder log p + b log softmax(cos(answer, code name) / 0.05)."""
    from fieldkit.analysis.codebook import humanize
    from fieldkit.analysis.coding import _softmax
    from fieldkit.inference.embedder import get_embedder

    x, y, _ = load(args.set, args.models[0])
    train, test = split(len(y))
    names = sorted(set(y))
    yt = np.array([names.index(v) for v in y[test]])
    prior = np.log(_softmax((x[test] @ get_embedder(args.models[0]).embed_all(
        [humanize(c) for c in names]).T).astype(np.float64) / 0.05) + 1e-9)
    for r in range(args.repeats):
        lab = few(y, train, 10, r)
        logp = coder_logp(x, y, lab, np.setdiff1d(train, lab), test, args.models[0], names)
        print(f"{args.set} draw {r}: coder {np.mean(logp.argmax(1) == yt):.3f} | " + " ".join(
            f"b {b}: {np.mean((logp + b * prior).argmax(1) == yt):.3f}" for b in (0.1, 0.2, 0.3, 0.5, 1.0)),
            flush=True)


def all_labels(args):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    data = {m: load(args.set, m) for m in args.models}
    y, texts = data[args.models[0]][1], [t or "" for t in data[args.models[0]][2]]
    train, test = split(len(y))
    names = sorted(set(y))
    yt = np.array([names.index(v) for v in y[test]])
    logp = {}
    with threadpool_limits(1):
        for m in args.models:
            clf = LogisticRegression(C=30, max_iter=2000).fit(data[m][0][train], y[train])
            logp[m] = np.log(clf.predict_proba(data[m][0][test]) + 1e-9)
        logp["lexical"] = lexical_logp(texts, y, train, test, names)
    for k, v in logp.items():
        print(f"all labels, plain LR {k}: {np.mean(v.argmax(1) == yt):.3f}", flush=True)
    first = logp[args.models[0]]
    for k in list(logp)[1:]:
        print(f"  {args.models[0]} + {k}: " + " ".join(
            f"{a}: {np.mean(((1 - a) * first + a * logp[k]).argmax(1) == yt):.3f}" for a in (0.2, 0.3, 0.5)))
    emb = sum(logp[m] for m in args.models) / len(args.models)
    print(f"  every encoder averaged {np.mean(emb.argmax(1) == yt):.3f}; + lexical " + " ".join(
        f"{a}: {np.mean(((1 - a) * emb + a * logp['lexical']).argmax(1) == yt):.3f}" for a in (0.2, 0.3, 0.5)))


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lever", choices=["lexical", "encoders", "smoothing", "all"])
    ap.add_argument("set", choices=["banking77", "zh"])
    ap.add_argument("models", type=lambda s: [m for m in s.split(",") if m])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    {"lexical": lexical, "encoders": encoders, "smoothing": smoothing, "all": all_labels}[args.lever](args)


if __name__ == "__main__":
    main()
