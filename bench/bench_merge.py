"""Merge benchmark: N rows x 3 laptops through `fieldkit merge`, beside the floor a user would write.

1. speed and memory: three Parquet copies of one N-row survey (uuid, 4 data columns with real
   Banking77 answers, tags on ~10% of rows, the same note on 5%, 1% of rows noted differently by
   each laptop, each laptop missing a different 2% of rows) merged by `fieldkit merge` in a fresh
   process, min-max seconds and peak RSS over --runs runs; the same without an id column
   (rows matched by fingerprint); and the floor: a plain Polars script that reads the three
   files, keeps one row per uuid and writes it (no tag union, no winners, no conflicts).
2. federated coder (--federated): Banking77 split 70/30 (seeded); the training answers spread over
   4 laptops at random, each learning a coder from its own answers and labels (10 per code in
   total over the 4, then every label); the merge of the 4 coders vs one coder trained on all
   labels at once, accuracy (and ECE) on the held-out 30%: exact merge of the pooled label
   statistics (fieldkit's, with codes of fewer than 2 answers per laptop withheld, and with 1 and
   3 for comparison), FedAvg per label, textbook FedAvg (per coder) and the single laptop.

Usage: python bench/bench_merge.py [--rows 1000000] [--runs 3] [--skip-speed] [--federated]
"""

from __future__ import annotations

import argparse
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
DATA = ROOT.parent / "shared" / "data" / "coding"

FLOOR = """
import sys, polars as pl
out, paths = sys.argv[1], sys.argv[2:]
pl.concat([pl.scan_parquet(p) for p in paths], how="diagonal_relaxed").unique("_uuid", keep="first") \\
  .sink_parquet(out)
"""


def make_laptops(folder: Path, rows: int, with_id: bool = True, seed: int = 0) -> list[Path]:
    """Three annotated copies of one synthetic survey whose answers are real Banking77 texts."""
    rng = np.random.default_rng(seed)
    texts = pl.read_csv(DATA / "banking77_train.csv")["text"]
    base = pl.DataFrame({
        "_uuid": [f"{i:08x}-5a1e-4c00-8000-{i * 2654435761 % 2**48:012x}" for i in range(rows)],
        "district": rng.choice(["north", "south", "east", "west", "camp 3"], rows),
        "hh_size": rng.integers(1, 12, rows),
        "answer": texts.sample(rows, with_replacement=True, seed=seed),
        "submitted": pl.datetime_range(pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 1) + pl.duration(seconds=rows - 1),
                                       "1s", eager=True),
    })
    if not with_id:
        base = base.drop("_uuid").with_columns(pl.int_range(pl.len()).alias("row_no"))  # rows stay distinct
    paths = []
    tags = ["water", "shelter", "urgent", "food", "health"]
    noted = rng.random(rows) < 0.05  # the same rows checked on every laptop: agreement, no conflict
    for lap in range(3):
        keep = rng.random(rows) > 0.02
        tagged = rng.random(rows) < 0.10
        clash = rng.random(rows) < 0.01
        tag_col = [[tags[(i + lap) % 5]] if t else [] for i, t in enumerate(tagged)]
        note = [f"laptop {lap} says so" if c else ("checked" if n else None) for c, n in zip(clash, noted)]
        df = base.with_columns(pl.Series("tags", tag_col, dtype=pl.List(pl.String)),
                               pl.Series("note", note, dtype=pl.String)).filter(pl.Series(keep))
        p = folder / f"laptop{lap}.parquet"
        df.write_parquet(p)
        paths.append(p)
    return paths


def timed_run(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of a fresh process (CPU time is what load cannot inflate)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def span(vals: list[float], fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(min(vals))}-{fmt.format(max(vals))}"


def bench_speed(rows: int, runs: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        (folder / "id").mkdir()
        (folder / "fp").mkdir()
        with_id = make_laptops(folder / "id", rows)
        no_id = make_laptops(folder / "fp", rows, with_id=False)
        print(f"made 2 x 3 laptops of {rows:,} rows in {time.perf_counter() - t0:.1f}s "
              f"({sum(p.stat().st_size for p in with_id) / 1e6:.0f} MB with ids); load before: {os.getloadavg()}")
        jobs = {
            "fieldkit merge (by _uuid)": [sys.executable, "-m", "fieldkit", "merge", *map(str, with_id),
                                          "-o", str(folder / "m_id.parquet")],
            "fieldkit merge (fingerprint)": [sys.executable, "-m", "fieldkit", "merge", *map(str, no_id),
                                             "-o", str(folder / "m_fp.parquet")],
            "floor: polars concat+unique": [sys.executable, "-c", FLOOR, str(folder / "floor.parquet"),
                                            *map(str, with_id)],
        }
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in jobs}
        for _ in range(runs):  # interleaved, so load changes hit every job alike
            for name, cmd in jobs.items():
                results[name].append(timed_run(cmd, env))
        floor = min(c for _, _, c in results["floor: polars concat+unique"])
        print(f"\n{rows:,} rows x 3 laptops, {runs} runs (load average now {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores)")
        print(f"{'job':34} {'wall s':>12} {'CPU s':>12} {'peak RSS MB':>14} {'CPU x floor':>12}")
        for name, rs in results.items():
            secs, rss, cpu = [s for s, _, _ in rs], [r for _, r, _ in rs], [c for _, _, c in rs]
            print(f"{name:34} {span(secs):>12} {span(cpu):>12} {span(rss, '{:.0f}'):>14} {min(cpu) / floor:>12.2f}")
        m = pl.read_parquet(folder / "m_id.parquet", columns=["merge_conflicts"])
        print(f"merged rows {m.height:,}; rows with conflicts {m.filter(pl.col('merge_conflicts').list.len() > 0).height:,}")


# ----------------------------------------------------------------------------- federated coder

def _split_rows(n: int, seed: int = 0, held: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(seed).permutation(n)
    k = int(n * held)
    return np.sort(idx[k:]), np.sort(idx[:k])


def _per_code(y: np.ndarray, rows: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(rows[y[rows] == c], min(k, int((y[rows] == c).sum())), replace=False)
                                   for c in np.unique(y[rows])]))


def bench_federated(laptops: int = 4, repeats: int = 2) -> None:
    """Held-out accuracy: one coder on all labels vs the FedAvg of `laptops` coders on a share each."""
    import copy

    from fieldkit.analysis.coding import expected_calibration_error, fit_coder
    from fieldkit.analysis.coding_stats import label_stats
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.codebook import Codebook
    from fieldkit.analysis.merge_models import fedavg, pooled, teacher_seeds
    from fieldkit.io import load_dataset

    model = "all-minilm-l6-v2"
    ds = load_dataset(DATA / "banking77_train.csv")
    y = np.asarray(ds.frame.collect()["category"].to_list())
    t0 = time.perf_counter()
    x = np.asarray(embed_column(ds, "text", model), dtype=np.float32)
    print(f"\nfederated coder, Banking77 ({len(y):,} answers, 77 codes, {model}; vectors in "
          f"{time.perf_counter() - t0:.0f}s): train 70% / held out 30%; {laptops} laptops, each with a "
          f"random quarter of the training answers and of their labels; mean over {repeats} draws")
    train, held = _split_rows(len(y))

    def fit(rows: np.ndarray, labelled: set[int]):
        codes = [[y[r]] if r in labelled else [] for r in rows]
        coder = fit_coder(x[rows], codes, model)
        coder.info["rows"] = [r for r in rows if r in labelled]  # the bench's own: to redo statistics
        return coder

    eces: dict[str, list[float]] = {}

    def acc(coder, name: str | None = None) -> float:
        p = coder.predict(x[held]).proba
        right = np.asarray(coder.labels)[p.argmax(axis=1)] == y[held]
        if name:
            eces.setdefault(name, []).append(expected_calibration_error(p.max(axis=1), right))
        return float(right.mean())

    def restat(c, k: int):
        c = copy.copy(c)
        idx = {lab: i for i, lab in enumerate(c.labels)}
        rows = c.info["rows"]
        c.stats = label_stats(x[rows], np.array([idx[y[r]] for r in rows], dtype=int), len(c.labels), k)
        return c

    variants = {"central (all labels at once)": [], "pooled statistics, min 2 (fieldkit)": [],
                "second round (laptops relearn from it)": [],
                "pooled statistics, min 1": [], "pooled statistics, min 3": [],
                "FedAvg per label, centred": [], "FedAvg per coder (textbook)": [],
                "one laptop alone (mean)": []}
    table = []
    for setting, k in (("10 per code in total", 10), ("all labels", None)):
        scores = {v: [] for v in variants}
        missing = []
        for rep in range(repeats):
            labelled = _per_code(y, train, k, seed=rep) if k else train
            rng = np.random.default_rng(100 + rep)
            shard = rng.integers(0, laptops, len(train))  # each training answer lives on one laptop
            lab_set = set(labelled.tolist())
            scores["central (all labels at once)"].append(acc(fit(train, lab_set), f"central {setting}"))
            coders = [fit(train[shard == i], lab_set) for i in range(laptops)]
            names = [f"laptop{i}" for i in range(laptops)]
            missing.append(np.mean([77 - int((c.n_labelled > 0).sum()) for c in coders]))
            merged = pooled(coders, names).coder
            scores["pooled statistics, min 2 (fieldkit)"].append(acc(merged, f"pooled {setting}"))
            again = []  # round 2: each laptop relearns from its codes + its answers as the merged coder codes them
            for i in range(laptops):
                rows = train[shard == i]
                codes = [[y[r]] if r in lab_set else [] for r in rows]
                seeds = teacher_seeds(merged, x[rows], codes, [False] * len(rows))
                again.append(fit_coder(x[rows], codes, model, codebook=Codebook(codes=list(merged.labels)),
                                       codebook_vectors=seeds, spread=False))
            scores["second round (laptops relearn from it)"].append(
                acc(fedavg(again, names).coder, f"round 2 {setting}"))
            for least in (1, 3):
                scores[f"pooled statistics, min {least}"].append(
                    acc(pooled([restat(c, least) for c in coders], names).coder))
            scores["FedAvg per label, centred"].append(acc(fedavg(coders, names).coder, f"FedAvg {setting}"))
            scores["FedAvg per coder (textbook)"].append(acc(fedavg(coders, names, weighting="coder").coder))
            scores["one laptop alone (mean)"].append(float(np.mean([acc(c) for c in coders])))
        n_lab = len(_per_code(y, train, k, 0)) if k else len(train)
        table.append((setting, n_lab, np.mean(missing), {v: float(np.mean(s)) for v, s in scores.items()}))
    print(f"{'':38}" + "".join(f"{t[0]:>24}" for t in table))
    print(f"{'labelled answers (codes missing/laptop)':38}" + "".join(f"{f'{t[1]:,} ({t[2]:.1f})':>24}" for t in table))
    for v in variants:
        print(f"{v:38}" + "".join(f"{t[3][v]:>24.3f}" for t in table))
    for setting, _, _, sc in table:
        for v in ("pooled statistics, min 2 (fieldkit)", "second round (laptops relearn from it)"):
            gap = 100 * (sc["central (all labels at once)"] - sc[v])
            print(f"{setting}: {v}: {gap:+.1f} points below the central coder (goal: within 2)")
    print("ECE on the held-out 30%: " + "; ".join(f"{k} {np.mean(v):.3f}" for k, v in eces.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--federated", action="store_true")
    ap.add_argument("--repeats", type=int, default=2, help="draws of labels and laptops (federated table)")
    args = ap.parse_args()
    if not args.skip_speed:
        bench_speed(args.rows, args.runs)
    if args.federated:
        bench_federated(repeats=args.repeats)


if __name__ == "__main__":
    main()
