"""Themes benchmark: the themes of real survey answers, how well sentiment separates, and scale.

Run:  python bench/bench_themes.py [--sizes 10000,100000] [--skip-scale]

1. Theme tables for the "like best" / "like least" answers of the R community survey 2019.
2. Separation (k=2) against a known label: purity and adjusted Rand index of k-means on
   sentence embeddings beside k-means on TF-IDF (word and character n-grams), same run.
   - waimai_reviews_600.csv with the multilingual model (`use-multilingual`);
   - R "like best" vs "like least" answers pooled (positive vs negative by construction).
3. Scale: time and peak RSS of `themes` (embed + cluster + keywords) and `dupes` on 10k and
   100k answers synthesised by resampling real ones, each in a fresh subprocess (peak RSS is
   the child's ru_maxrss), beside TF-IDF + MiniBatchKMeans on the same texts.
The machine is shared with other engineers while this runs: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SURVEY = DATA / "survey" / "rstudio_r_community_survey_2019_en.tsv"
WAIMAI = DATA / "nonlatin" / "waimai_reviews_600.csv"
BEST = "What do you like best about using R?"
LEAST = "What do you like least about using R?"


def print_themes(title: str, result, n: int, seconds: float) -> None:
    print(f"\n### {title}: {len(result.themes) - 1} themes in {n:,} rows, k={result.k} "
          f"({result.chosen_by}), {seconds:.1f} s")
    if result.silhouette:
        print("silhouette by k: " + ", ".join(f"{k}:{v:.3f}" for k, v in result.silhouette.items()))
    print(f"| id | rows | share | label | keywords | most representative answers |")
    print("|---:|---:|---:|---|---|---|")
    for t in result.themes:
        ex = " / ".join(f"“{' '.join(e.split())[:60]}”" for e in t.examples)
        print(f"| {t.id} | {t.size} | {t.share:.1%} | {t.label} | {', '.join(t.keywords[:6])} | {ex} |")


def survey_themes() -> list[str]:
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.themes import find_themes
    from fieldkit.io import load_dataset

    ds = load_dataset(SURVEY)
    for col in (BEST, LEAST):
        texts = ds.text_column(col).to_list()
        vecs = embed_column(ds, col)
        t0 = time.perf_counter()
        r = find_themes(texts, vecs)
        print_themes(col, r, len(texts), time.perf_counter() - t0)
    return []


def purity(truth: np.ndarray, pred: np.ndarray) -> float:
    total = 0
    for c in np.unique(pred):
        _, counts = np.unique(truth[pred == c], return_counts=True)
        total += counts.max()
    return total / len(truth)


def _kmeans2(x, seed=0, k=2):
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit_predict(x)


def separation_rows(name: str, texts: list[str], truth: np.ndarray, embeddings: dict) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import normalize

    from fieldkit.analysis.themes import find_themes

    rows = []
    auto_k = None
    for model, vecs in embeddings.items():
        t0 = time.perf_counter()
        r = find_themes(texts, vecs, k=2)
        pred = r.theme_id.copy()  # "other" rows count as a third cluster: honest, not dropped
        rows.append((f"fieldkit themes --k 2 ({model})", pred, time.perf_counter() - t0))
        t0 = time.perf_counter()
        pred = _kmeans2(normalize(vecs))
        rows.append((f"k-means k=2 on {model} embeddings", pred, time.perf_counter() - t0))
        t0 = time.perf_counter()
        r = find_themes(texts, vecs)
        auto_k = auto_k or r.k
        rows.append((f"fieldkit themes, automatic k={r.k} ({model})", r.theme_id.copy(),
                     time.perf_counter() - t0))
    for label, vec in (
        ("k-means k=2 on TF-IDF char 2-3-grams", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3))),
        ("k-means k=2 on TF-IDF words", TfidfVectorizer()),
    ):
        t0 = time.perf_counter()
        x = vec.fit_transform(texts)
        pred = _kmeans2(x)
        rows.append((label, pred, time.perf_counter() - t0))
        if auto_k:
            t0 = time.perf_counter()
            rows.append((label.replace("k=2", f"k={auto_k}"), _kmeans2(x, k=auto_k),
                         time.perf_counter() - t0))
    print(f"\n### separation, {name}: {len(texts)} texts, label counts "
          + ", ".join(f"{k}={v}" for k, v in zip(*np.unique(truth, return_counts=True))))
    print("(purity rises with the number of clusters: compare rows with the same k)")
    print("| method | purity | ARI | seconds |")
    print("|---|---:|---:|---:|")
    for label, pred, secs in rows:
        print(f"| {label} | {purity(truth, pred):.3f} | {adjusted_rand_score(truth, pred):.3f} | {secs:.2f} |")


def separation() -> None:
    from fieldkit.errors import ModelError
    from fieldkit.inference.embedder import get_embedder

    def embed_with(model_id, texts):
        try:
            return get_embedder(model_id).embed_all(texts)
        except ModelError as e:
            print(f"(skipped {model_id}: {e.message}; {e.hint})")
            return None

    wm = pl.read_csv(WAIMAI)
    texts = wm["review"].cast(pl.String).fill_null("").to_list()
    truth = wm["label"].to_numpy()
    embs = {m: v for m in ("use-multilingual", "all-minilm-l6-v2")
            if (v := embed_with(m, texts)) is not None}
    separation_rows("waimai_reviews_600 (label)", texts, truth, embs)
    if len(np.unique(truth)) < 2:
        print("NOTE: this file holds only one label value, so every clustering has purity 1.000 and "
              "ARI 0.000 against it: it cannot show separation. The R survey rows below can.")

    from fieldkit.io import load_dataset

    ds = load_dataset(SURVEY)
    best = [t for t in ds.text_column(BEST).to_list() if t and t.strip()]
    least = [t for t in ds.text_column(LEAST).to_list() if t and t.strip()]
    texts = best + least
    truth = np.array([1] * len(best) + [0] * len(least))
    embs = {m: v for m in ("all-minilm-l6-v2", "use-multilingual")
            if (v := embed_with(m, texts)) is not None}
    separation_rows("R survey 'like best' (1) vs 'like least' (0)", texts, truth, embs)


# ------------------------------------------------------------------------------- scale

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from fieldkit.io import load_dataset
from fieldkit.analysis.embeddings import embed_column
from fieldkit.analysis.themes import find_themes
from fieldkit.analysis.dupes import find_duplicates
from fieldkit.progress import Reporter
mode = sys.argv[2]
ds = load_dataset(sys.argv[1])
texts = ds.text_column("answer").to_list()
out = {{"rows": len(texts)}}
if mode == "fieldkit":
    t = time.perf_counter(); vecs = embed_column(ds, "answer"); out["embed_s"] = time.perf_counter() - t
    t = time.perf_counter(); r = find_themes(texts, vecs); out["themes_s"] = time.perf_counter() - t
    out["k"] = r.k
    t = time.perf_counter(); d = find_duplicates(texts, vecs); out["dupes_s"] = time.perf_counter() - t
    out["dup_groups"] = d.groups
else:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.cluster import MiniBatchKMeans
    t = time.perf_counter()
    x = TfidfVectorizer(min_df=2).fit_transform([s or "" for s in texts])
    MiniBatchKMeans(8, n_init=3, random_state=0).fit(x)
    out["themes_s"] = time.perf_counter() - t
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def synthesise(n: int, path: Path, seed: int = 0) -> None:
    """n answers resampled from the real R survey answers; half are two answers joined, so
    most are distinct texts (as real answers are) rather than exact copies."""
    from fieldkit.io import load_dataset

    ds = load_dataset(SURVEY)
    pool = [t for c in (BEST, LEAST) for t in ds.text_column(c).to_list() if t and t.strip()]
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(pool), n)
    b = rng.integers(0, len(pool), n)
    join = rng.random(n) < 0.5
    texts = [pool[i] + (" " + pool[j] if k else "") for i, j, k in zip(a, b, join)]
    pl.DataFrame({"id": np.arange(n), "answer": texts}).write_csv(path)


def scale(sizes: list[int], workdir: str | None = None) -> None:
    print("\n### scale (fresh subprocess each; 2 cores shared with other work)")
    print("fieldkit runs twice: first with an empty embedding cache, then again from the cache "
          "(themes + dupes alone)")
    print("| rows | method | embed s | themes s | dupes s | total s | peak RSS MB | k | dup groups |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for n in sizes:
            path = Path(tmp) / f"answers_{n}.csv"
            synthesise(n, path)
            home = Path(tmp) / f"home_{n}"
            for mode, label in (("fieldkit", "fieldkit themes+dupes (MiniLM), cache empty"),
                                ("fieldkit", "fieldkit themes+dupes, embeddings cached"),
                                ("tfidf", "TF-IDF + MiniBatchKMeans(8)")):
                env = {**os.environ, "FIELDKIT_HOME": str(home)}
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path), mode],
                                      capture_output=True, text=True, env=env)
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    print(f"| {n:,} | {label} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"| {n:,} | {label} | {r.get('embed_s', 0):.1f} | {r['themes_s']:.1f} | "
                      f"{r.get('dupes_s', 0):.1f} | {wall:.1f} | {r['peak_rss_mb']:.0f} | "
                      f"{r.get('k', '-')} | {r.get('dup_groups', '-')} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only-scale", action="store_true")
    ap.add_argument("--workdir", default=None, help="where the synthetic files go (default /tmp)")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit("../shared/data is missing")
    if not args.only_scale:
        survey_themes()
        separation()
    if not args.skip_scale:
        scale([int(s) for s in args.sizes.split(",")], args.workdir)


if __name__ == "__main__":
    main()
