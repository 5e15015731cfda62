"""Does refitting the distilled table on the teacher's sentence vectors help? (ridge toward the table)

Why: the distilled table (fieldkit models distill: each vocabulary token alone through the
teacher, PCA, Zipf/SIF weights) ranks pairs of real answers only loosely like its teacher
(Spearman ~0.5). Here the table T0 is refitted so that a sentence's mean of rows approaches the
teacher's vector of that sentence (same PCA space), over a corpus that is none of the evaluation
sets: CNN/DailyMail sentences and DialogSum turns. Ridge toward T0:
    min ||X T - c Y||^2 + lam ||T - T0||^2      (X: token means per sentence, block CG)
lam is chosen on a held-out fifth of the corpus (cosine to the teacher), never on the measures
(fieldkit.inference.distill.refit_table, what `fieldkit models distill --refit-texts FILE` runs).
Then the measures bench_embed.py quotes for the distilled model, T0 against the refit: Spearman of
pairwise similarities over survey answers, recall@10 against the teacher on banking77 and
banking77 coding accuracy. Usage: python bench/distill_refit.py [--dim 256]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"


def corpus() -> list[str]:
    """CNN/DailyMail article sentences and distinct DialogSum turns (no evaluation set)."""
    from tests.golden.texts import dialog

    sents: list[str] = []
    for line in (DATA / "summarization" / "cnndm_dev_100.jsonl").read_text(encoding="utf-8").splitlines():
        article = json.loads(line)["article"]
        sents += [s.strip() for s in re.split(r"(?<=[.!?])\s+", article) if len(s.strip()) > 3]
    return sents + dialog()


def measures(static_vecs, teacher_vecs, labels) -> tuple[float, float, float]:
    """(Spearman over survey pairs, recall@10 vs teacher on banking77, banking77 accuracy)."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression

    from fieldkit.analysis.search import top_k

    (sv, bv), (tv, bt) = static_vecs, teacher_vecs
    iu = np.triu_indices(len(sv), 1)
    rho = spearmanr((sv @ sv.T)[iu], (tv @ tv.T)[iu]).statistic
    corpus_rows, queries = slice(0, 8000), range(8000, 8200)
    hit = sum(len(set(top_k(bt[corpus_rows], bt[q], 10)[0].tolist())
                  & set(top_k(bv[corpus_rows], bv[q], 10)[0].tolist())) for q in queries)
    train = np.arange(len(bv)) % 5 != 0
    y = np.asarray(labels)
    acc = LogisticRegression(C=10, max_iter=2000).fit(bv[train], y[train]).score(bv[~train], y[~train])
    return float(rho), hit / 2000, float(acc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=256)
    a = ap.parse_args()
    import polars as pl

    from bench_embed import survey_answers
    from fieldkit.inference import distill as D
    from fieldkit.inference.embed_base import _l2
    from fieldkit.inference.embedder import get_embedder

    t0 = time.process_time()
    teacher = get_embedder()
    tok = teacher.tokenizer
    vocab = tok.get_vocab_size(with_added_tokens=True)
    ids, ranks = D._vocabulary(tok)
    vecs = D.teacher_token_vectors(teacher, ids)
    mean, axes = D.pca_axes(vecs, a.dim)
    T0 = np.zeros((vocab, a.dim), np.float32)
    T0[ids] = ((vecs - mean) @ axes.T) * D.zipf_weights(ranks)[:, None]
    texts = corpus()
    T_fit, lam = D.refit_table(T0, teacher, axes, texts)
    print(f"refit corpus {len(texts):,} texts; ridge strength {lam:g} (grid {D.REFIT_LAMS}, picked on a "
          f"held-out fifth of the corpus); {time.process_time() - t0:.0f} CPU-s; load {os.getloadavg()[0]:.1f}")

    survey = survey_answers()[:1000]
    bank = pl.read_csv(DATA / "coding" / "banking77_train.csv")
    btexts, labels = bank["text"].to_list(), bank["category"].to_list()
    tvecs = (teacher.embed_all(survey), teacher.embed_all(btexts))

    def static(T, some):
        return _l2(np.asarray(D.token_means(tok, some, vocab) @ T, np.float32))

    print("\nmeasures (survey Spearman / banking77 recall@10 vs teacher / banking77 accuracy; teacher acc "
          f"{measures(tvecs, tvecs, labels)[2]:.3f}):")
    for name, T in (("as distilled", T0), (f"refit, lam {lam:g}", T_fit)):
        rho, rec, acc = measures((static(T, survey), static(T, btexts)), tvecs, labels)
        print(f"  {name:18s} {rho:.3f} / {rec:.3f} / {acc:.3f}")


if __name__ == "__main__":
    main()
