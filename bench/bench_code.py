"""Coding benchmark: fieldkit's coder beside TF-IDF + linear SVM and plain logistic regression.

Every figure is accuracy on rows the coder never saw (not their labels, not their texts): each
file is split once (seeded) into 70% for the coder (its labelled examples and its uncoded
answers) and 30% held out. Few-shot figures are means over --repeats draws of the examples.
ECE = expected calibration error of `code_score` on the held-out rows (10 bins).

  1. Banking77 (77 codes): 10 per code, all labels, codebook names only (zero-shot);
  2. Chinese reviews (18 classes = 9 product kinds x sentiment), 10 per class, with each model;
  3. leave-one-dataset-out (--only lodo): C, adapter steps and label-spreading weight (fixed, or
     picked per file out of fold) chosen on one set, measured on the other;
  4. speed: learn from 770 coded answers and code 100,000 answers from cached embeddings
     (min-max over --rounds runs).

Embeddings come from fieldkit's cache (computed once, ~15-30 s per 10k texts per model).
Usage: python bench/bench_code.py [--repeats 3] [--rounds 3] [--skip-use] [--skip-speed]
       [--only banking|chinese|lodo|speed] [--models ID,ID,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "coding"
MINILM, USE = "all-minilm-l6-v2", "use-multilingual"


def load(name: str, model: str):
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.io import load_dataset

    if name == "banking77":
        ds, col = load_dataset(DATA / "banking77_train.csv"), "text"
        y = ds.frame.collect()["category"].to_list()
    else:
        ds, col = load_dataset(DATA / "online_shopping_9cats_zh.csv"), "review"
        df = ds.frame.collect()
        y = [f"{c}/{'pos' if int(v) else 'neg'}" for c, v in zip(df["cat"], df["label"])]
    x = np.asarray(embed_column(ds, col, model), dtype=np.float32)
    return x, np.asarray(y), ds.text_column(col).to_list()


def split(n: int, seed: int = 0, held: float = 0.3):
    idx = np.random.default_rng(seed).permutation(n)
    k = int(n * held)
    return np.sort(idx[k:]), np.sort(idx[:k])


def few(y: np.ndarray, rows: np.ndarray, k: int | None, seed: int) -> np.ndarray:
    if k is None:
        return rows
    rng = np.random.default_rng(seed)
    out = [rng.choice(rows[y[rows] == c], min(k, int((y[rows] == c).sum())), replace=False)
           for c in np.unique(y[rows])]
    return np.sort(np.concatenate(out))


def tfidf_svm(texts, y, lab, test, analyzer="word") -> float:
    """The usual non-neural baseline, C chosen by 3-fold cross-validation on the labelled rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    ngrams = (1, 2) if analyzer == "word" else (1, 3)
    pipe = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True),
                         LinearSVC())
    n_min = min(np.bincount(np.unique(y[lab], return_inverse=True)[1]))
    grid = GridSearchCV(pipe, {"linearsvc__C": [0.1, 1, 10]},
                        cv=StratifiedKFold(min(3, n_min), shuffle=True, random_state=0))
    grid.fit([texts[i] for i in lab], y[lab])
    return float((grid.predict([texts[i] for i in test]) == y[test]).mean())


def plain_lr(x, y, lab, test) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=10, max_iter=2000).fit(x[lab], y[lab])
    return float((clf.predict(x[test]) == y[test]).mean())


def fieldkit_coder(x, y, lab, pool, test, model, codebook=None, book_vectors=None):
    from fieldkit.analysis.coding import code_rows, expected_calibration_error, fit_coder

    rows = np.concatenate([lab, pool])
    row_codes = [[str(y[i])] for i in lab] + [[] for _ in pool]
    coder = fit_coder(x[rows], row_codes, model, codebook=codebook, codebook_vectors=book_vectors)
    res = code_rows(x[test], [[] for _ in test], coder)
    first = np.array([c.split(";")[0] for c in res.code])
    ok = first == y[test]
    return float(ok.mean()), expected_calibration_error(res.score, ok), coder, res


def row(name, *cells):
    print(f"{name:<44}" + "".join(f"{c:>12}" for c in cells), flush=True)


def fmt(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def banking(args, models):
    from fieldkit.analysis.codebook import Codebook, humanize
    from fieldkit.inference.embedder import get_embedder

    print("\n## Banking77 (77 codes), accuracy on 30% held-out rows (3,000)")
    row("method", "10/code", "ECE", "all", "ECE", "names only", "ECE")
    for model in models:
        x, y, texts = load("banking77", model)
        train, test = split(len(y))
        cells = {k: [] for k in ("svm10", "lr10", "fk10", "ece10")}
        for r in range(args.repeats):
            lab = few(y, train, 10, r)
            pool = np.setdiff1d(train, lab)
            if model == models[0]:
                cells["svm10"].append(tfidf_svm(texts, y, lab, test))
            cells["lr10"].append(plain_lr(x, y, lab, test))
            acc, ece, *_ = fieldkit_coder(x, y, lab, pool, test, model)
            cells["fk10"].append(acc)
            cells["ece10"].append(ece)
        lr_all = plain_lr(x, y, train, test)
        fk_all, ece_all, *_ = fieldkit_coder(x, y, train, np.array([], dtype=int), test, model)
        names = sorted(set(y))
        emb = get_embedder(model)
        name_vecs = emb.embed_all([humanize(c) for c in names])
        nearest = float((np.asarray(names)[(x[test] @ name_vecs.T).argmax(1)] == y[test]).mean())
        zs, zs_ece = zero_shot(x, y, train, test, model, Codebook(codes=names))
        if model == models[0]:
            svm_all = tfidf_svm(texts, y, train, test)
            row("TF-IDF + linear SVM (C by 3-fold CV)", fmt(np.mean(cells["svm10"])), "-", fmt(svm_all), "-", "-", "-")
        row(f"{model} + plain LR", fmt(np.mean(cells["lr10"])), "-", fmt(lr_all), "-",
            f"{nearest:.3f}*", "-")
        row(f"{model} + fieldkit coder", fmt(np.mean(cells["fk10"])), fmt(np.mean(cells["ece10"])),
            fmt(fk_all), fmt(ece_all), fmt(zs), fmt(zs_ece))
    print("* nearest code name (cosine), the zero-shot baseline")


def zh_codebook(names):
    """A codebook an analyst would write for the Chinese reviews: the kind, then 好评/差评 (good/bad review)."""
    from fieldkit.analysis.codebook import Codebook

    return Codebook(codes=list(names), descriptions={
        c: f"{c.split('/')[0]} {'好评' if c.endswith('/pos') else '差评'}" for c in names})


def zero_shot(x, y, train, test, model, book):
    """The coder taught by the codebook alone (each code's name and description), scored held out."""
    from fieldkit.inference.embedder import get_embedder

    texts, owner = [], []
    for c in book.codes:
        texts += book.seed_texts(c)
        owner += [c] * len(book.seed_texts(c))
    vecs = get_embedder(model).embed_all(texts)
    book_vectors = {c: vecs[[i for i, o in enumerate(owner) if o == c]] for c in book.codes}
    acc, ece, *_ = fieldkit_coder(x, y, np.array([], dtype=int), train, test, model, codebook=book,
                                  book_vectors=book_vectors)
    return acc, ece


def chinese(args, models):
    print("\n## Chinese reviews (18 classes = 9 kinds x sentiment), 10 per class, 30% held out (795)")
    row("method", "accuracy", "ECE", "names only", "ECE")
    for model in models:
        x, y, texts = load("zh", model)
        train, test = split(len(y))
        zs, zs_ece = zero_shot(x, y, train, test, model, zh_codebook(sorted(set(y))))
        svm, lr, fk, ece = [], [], [], []
        for r in range(args.repeats):
            lab = few(y, train, 10, r)
            if model == models[0]:
                svm.append(tfidf_svm(texts, y, lab, test, analyzer="char"))
            lr.append(plain_lr(x, y, lab, test))
            a, e, *_ = fieldkit_coder(x, y, lab, np.setdiff1d(train, lab), test, model)
            fk.append(a)
            ece.append(e)
        if svm:
            row("TF-IDF char 1-3 + linear SVM", fmt(np.mean(svm)), "-", "-", "-")
        row(f"{model} + plain LR", fmt(np.mean(lr)), "-", "-", "-")
        row(f"{model} + fieldkit coder", fmt(np.mean(fk)), fmt(np.mean(ece)), fmt(zs), fmt(zs_ece))
    print("names only: the codebook's code names and descriptions (kind + 好评/差评), no coded answer")


def lodo(args):
    """Settings chosen by leave-one-dataset-out: each set's figure comes from the setting best on the other.

    Grid: C fixed at 10 (the previous rounds' choice) or picked per file out of fold ("oof",
    among C_GRID); the SetFit-style adapter off (0 steps) or its steps picked out of fold; weight
    of spread labels fixed (0 = no label spreading, 0.3) or picked per file out of fold. "oof" is
    the shipped way: nested, the held-out rows play no part in the pick.
    Each set is coded with the model the automatic choice gives it (Banking77: MiniLM; Chinese:
    multilingual-e5-small when prepared, else USE).
    """
    import fieldkit.analysis.coding as coding
    from fieldkit.analysis.language import installed_multilingual

    sets = [("banking77", MINILM), ("zh", installed_multilingual() or USE)]
    grid = [("oof", "oof", "oof"), ("oof", "oof", 0), (10.0, "oof", 0), ("oof", 0.0, "oof"),
            ("oof", 0.3, "oof")]
    shipped = (coding.C_GRID, coding.SPREAD_WEIGHTS, coding.ADAPTER_STEPS)
    score: dict = {}
    print("\n## leave-one-dataset-out: 10 per code, 30% held out, mean of --repeats draws")
    row("set  C  weight  steps (picked C/weight/steps)", "accuracy", "ECE")
    for name, model in sets:
        x, y, _ = load(name, model)
        train, test = split(len(y))
        for c, pw, st in grid:
            coding.C_GRID = shipped[0] if c == "oof" else (c,)
            coding.SPREAD_WEIGHTS = shipped[1] if pw == "oof" else (pw,)
            coding.ADAPTER_STEPS = shipped[2] if st == "oof" else (st,)
            accs, eces, picked = [], [], []
            for r in range(args.repeats):
                lab = few(y, train, 10, r)
                acc, ece, coder, _ = fieldkit_coder(x, y, lab, np.setdiff1d(train, lab), test, model)
                accs.append(acc)
                eces.append(ece)
                picked.append(f"{coder.info.get('C', c):g}/{coder.info.get('spread_weight', pw):g}"
                              f"/{coder.info.get('adapter_steps', st)}")
            score[name, c, pw, st] = (float(np.mean(accs)), float(np.mean(eces)))
            row(f"{name}  C={c}  w={pw}  steps={st} ({','.join(picked)})",
                fmt(score[name, c, pw, st][0]), fmt(score[name, c, pw, st][1]))
    coding.C_GRID, coding.SPREAD_WEIGHTS, coding.ADAPTER_STEPS = shipped
    for name, _ in sets:
        other = [o for o, _ in sets if o != name]
        best = max(grid, key=lambda g: np.mean([score[o, *g][0] for o in other]))
        acc, ece = score[name, *best]
        print(f"left out {name}: setting chosen on {', '.join(other)} = C {best[0]}, spread weight "
              f"{best[1]}, adapter steps {best[2]} -> accuracy {acc:.3f}, ECE {ece:.3f} (shipped: "
              f"all chosen out of fold: {score[name, 'oof', 'oof', 'oof'][0]:.3f})")


def speed(args):
    """CPU and wall seconds to learn from 770 coded answers and code 100,000, beside plain LR (ranges)."""
    from sklearn.linear_model import LogisticRegression

    from fieldkit.analysis.coding import code_rows, fit_coder

    x, y, _ = load("banking77", MINILM)
    rng = np.random.default_rng(0)
    big = x[rng.integers(0, len(x), 100_000)] + rng.normal(0, 0.01, (100_000, x.shape[1])).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    lab = few(y, np.arange(len(y)), 10, 0)
    vecs = np.vstack([x[lab], big])
    row_codes = [[str(y[i])] for i in lab] + [[] for _ in range(len(big))]
    fit_coder(vecs[:2000], row_codes[:2000], MINILM)  # imports and first-call costs out of the way
    cpu: dict[str, list[float]] = {"learn + code": [], "apply saved coder": [], "plain LR": []}
    wall: dict[str, list[float]] = {k: [] for k in cpu}
    loads = []

    def timed(name, fn):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu[name].append(time.process_time() - c)
        wall[name].append(time.perf_counter() - w)
        return out

    def learn_and_code():
        learned = fit_coder(vecs, row_codes, MINILM)
        code_rows(vecs, row_codes, learned)
        return learned

    def plain_lr_all():
        LogisticRegression(C=10, max_iter=1000).fit(x[lab], y[lab]).predict(vecs)

    for _ in range(args.rounds):
        coder = timed("learn + code", learn_and_code)
        timed("apply saved coder", lambda: code_rows(vecs, row_codes, coder))  # --load-model
        timed("plain LR", plain_lr_all)
        loads.append(os.getloadavg()[0])
    print(f"\n## speed: {len(lab)} coded answers, {len(vecs):,} answers coded, cached embeddings "
          f"(min-max over {args.rounds} runs; load average {min(loads):.0f}-{max(loads):.0f} "
          f"on {os.cpu_count()} cores)")
    for name, v in cpu.items():
        print(f"  {name:<20} {min(v):6.2f} - {max(v):6.2f} s CPU   {min(wall[name]):6.2f} - "
              f"{max(wall[name]):6.2f} s wall")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-use", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--only", choices=["banking", "chinese", "speed", "lodo"], default=None)
    ap.add_argument("--models", help="comma-separated embedding model ids (default: MiniLM and USE), "
                                     "e.g. all-minilm-l6-v2,use-multilingual,multilingual-e5-small")
    args = ap.parse_args()
    models = [MINILM] if args.skip_use else [MINILM, USE]
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.only in (None, "banking"):
        banking(args, models)
    if args.only in (None, "chinese"):
        chinese(args, models)
    if args.only in (None, "lodo"):
        lodo(args)
    if not args.skip_speed and args.only in (None, "speed"):
        speed(args)


if __name__ == "__main__":
    main()
