"""Choose the embedder's padded-token budget per batch leaving one text set out; quote the left-out gain.

Why: onnxruntime's per-token cost of MiniLM on this CPU is flat from ~100 to ~500 padded tokens
per batch and rises by up to half beyond (the FFN's 1,536-wide activations leave the 2 MB L2
cache), while the embedder let a batch of 32 rows hold up to 2,048 padded tokens. For each
budget on the grid, each shared text set (first N texts) is embedded on one thread and its
best-of-R process CPU time kept (budgets interleaved, order rotated). For each set in turn the
budget with the least total CPU time, each set's time divided by its time at the old budget,
on the *other* sets is picked, and its CPU time on the left-out set is printed against the old
budget's: that is the figure to quote. Vectors must not change (per-token quantization: a text's
vector does not depend on its batch), checked here too.

Usage: python bench/cv_embed_batches.py [--per-set 1000] [--budgets 128,192,256,384,512,768,2048]
       [--rounds 3] [--batch-size 32]
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

from tests.golden.texts import SETS  # noqa: E402

OLD = 2048  # 32 rows x 64 tokens: the budget before this choice


def measure(per_set: int, budgets: list[int], rounds: int, batch_size: int) -> dict[str, dict[int, float]]:
    """{set: {budget: best CPU seconds}} for the first `per_set` texts of each shared set."""
    import fieldkit.inference.embedder as E
    from fieldkit.inference.manifest import get_entry

    emb = E.load_embedder(get_entry(None), threads=1)
    out: dict[str, dict[int, float]] = {}
    for name, load in SETS.items():
        texts = [t for t in load() if t and str(t).strip()][:per_set]
        best = {b: float("inf") for b in budgets}
        ref = None
        emb.embed_all(texts[:64], batch_size=batch_size)  # warm-up
        for r in range(rounds):
            for b in budgets[r % len(budgets):] + budgets[:r % len(budgets)]:
                E.TOKEN_BUDGET = b
                t = time.process_time()
                vecs = emb.embed_all(texts, batch_size=batch_size)
                best[b] = min(best[b], time.process_time() - t)
                if ref is None:
                    ref = vecs
                else:  # the budget changes batches, never a vector (beyond float noise)
                    assert np.abs(vecs - ref).max() < 1e-4, (name, b, float(np.abs(vecs - ref).max()))
        out[name] = best
        print(f"{name:10s} {len(texts):5d} texts  " + "  ".join(
            f"{b}: {len(texts) / s:5.0f}/CPU-s" for b, s in best.items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-set", type=int, default=1000)
    ap.add_argument("--budgets", default="128,192,256,384,512,768,2048")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    budgets = [int(x) for x in a.budgets.split(",")]
    if OLD not in budgets:
        budgets.append(OLD)
    print(f"load {os.getloadavg()[0]:.1f}; 1 thread, texts per CPU-second (best of {a.rounds})")
    times = measure(a.per_set, budgets, a.rounds, a.batch_size)
    rel = {s: {b: t / v[OLD] for b, t in v.items()} for s, v in times.items()}
    print("\nleft-out set: budget picked on the other sets, its CPU time against the old budget (2,048)")
    for left in rel:
        others = [s for s in rel if s != left]
        pick = min(budgets, key=lambda b: sum(rel[s][b] for s in others))
        print(f"{left:10s} pick {pick:5d}  left-out CPU time x{rel[left][pick]:.3f} "
              f"({1 / rel[left][pick]:.2f}x texts per CPU-second)")
    overall = min(budgets, key=lambda b: sum(rel[s][b] for s in rel))
    print(f"all sets: {overall}")


if __name__ == "__main__":
    main()
