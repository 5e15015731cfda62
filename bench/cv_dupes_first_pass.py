"""Dupes with a distilled static model as a first pass: which answers the teacher must still embed.

For each set, the distinct answers (as `fieldkit dupes` compares them) are embedded by MiniLM (the
teacher) and by its distilled static model; a pair is a near duplicate at teacher cosine >= 0.95. A
first pass at static cosine >= t keeps only the answers with some neighbour at t (and those the static
model cannot read: zero vectors); the teacher then embeds those alone. Per set and t: the share of
the teacher's pairs still found (pair recall) and the share of answers the teacher embeds. t is
picked leaving one set out: the largest t whose mean pair recall on the other sets is >= RECALL.

    FIELDKIT_HOME=<home with minilm-static> python bench/cv_dupes_first_pass.py [--extra FILE.tsv:COLUMN]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = [round(0.6 + 0.025 * k, 3) for k in range(13)]  # 0.600 .. 0.900
RECALL = 0.99
TEACHER_T = 0.95
MAX_TEXTS = 6000


def measure(texts, teacher, static):
    from fieldkit.analysis.dupes import exact_keys

    _, reps = exact_keys(texts)
    reps = reps[:MAX_TEXTS]
    rep_texts = [texts[i] for i in reps]
    vt, vs = teacher.embed_all(rep_texts), static.embed_all(rep_texts)
    ct, cs = vt @ vt.T, vs @ vs.T
    np.fill_diagonal(ct, 0)
    np.fill_diagonal(cs, 0)
    blind = ~vs.any(axis=1)  # no word the static model knows: always kept
    iu = np.triu_indices(len(rep_texts), 1)
    dup = ct[iu] >= TEACHER_T
    out = {}
    for t in GRID:
        kept = (cs >= t).any(axis=1) | blind
        found = kept[iu[0][dup]] & kept[iu[1][dup]]
        out[t] = (float(found.mean()) if dup.any() else 1.0, float(kept.mean()))
    return len(rep_texts), int(dup.sum()), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", action="append", default=[], help="FILE.tsv:COLUMN, reported beside the CV")
    a = ap.parse_args()
    import polars as pl

    from fieldkit.inference.embedder import get_embedder
    from tests.golden.texts import SETS

    teacher, static = get_embedder(), get_embedder("minilm-static")
    sets = {n: SETS[n]() for n in ("survey", "banking77", "dialog", "logs")}
    res = {n: measure(t, teacher, static) for n, t in sets.items()}
    print(f"{'set':10s} {'answers':>7s} {'pairs':>6s}  " + "  ".join(f"t={t:.3f}" for t in GRID[4:]))
    for n, (k, p, out) in res.items():
        print(f"{n:10s} {k:7d} {p:6d}  " + "  ".join(f"{out[t][0]:.2f}/{out[t][1]:.2f}" for t in GRID[4:]))
    print("(pair recall / share of answers the teacher embeds)")
    print(f"\nleave one set out: the largest t with mean pair recall >= {RECALL} on the others")
    picks = []
    for left in res:
        others = [n for n in res if n != left]
        ok = [t for t in GRID if np.mean([res[n][2][t][0] for n in others]) >= RECALL]
        t = max(ok) if ok else min(GRID)
        picks.append(t)
        r, share = res[left][2][t]
        print(f"  {left:10s} t={t:.3f}: left-out pair recall {r:.3f}, teacher embeds {share:.2f} of the answers")
    for spec in a.extra:
        path, col = spec.rsplit(":", 1)
        texts = pl.read_csv(path, separator="\t", infer_schema=False, quote_char=None)[col].to_list()
        k, p, out = measure(texts, teacher, static)
        t = min(picks)
        print(f"  extra {Path(path).name} ({k} answers, {p} pairs) at t={t:.3f}: pair recall {out[t][0]:.3f}, "
              f"teacher embeds {out[t][1]:.2f}")
    print(f"picked t per fold: {picks}")


if __name__ == "__main__":
    main()
