"""Benchmark `fieldkit report` on N coded answers (default 1M) against a pandas + matplotlib notebook.

The input is real text: the 10,003 Banking77 questions tiled to N rows, coded with their
category (a quarter by people, the rest by a "model" with a score; low scores need review),
plus a district column for `--by`, written as a `fieldkit code` output with its provenance
step. Each run is a fresh `fieldkit report ... --by district` process (imports included), so
its time is what a user waits for and its peak RSS is the report's own. The alternative a
user would otherwise write, a notebook that reads the Parquet with pandas, counts the codes
overall/per district/per source and draws the same four charts to SVG with matplotlib
(no tables, no examples, no provenance), is run the same way; both are printed side by side.

    python bench/bench_report.py [--rows 1000000] [--runs 3] [--keep DIR]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "coding" / "banking77_train.csv"

NOTEBOOK = r"""
import sys, pandas as pd, matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
df = pd.read_parquet(sys.argv[1])
overall = df["code"].value_counts(normalize=True).head(20)
by = pd.crosstab(df["district"], df["code"], normalize="index")
who = pd.crosstab(df["code"], [df["code_source"], df["needs_review"]]).head(20)
out = open(sys.argv[2], "w")
for draw in (lambda ax: overall.plot.barh(ax=ax), lambda ax: by.plot.barh(stacked=True, ax=ax),
             lambda ax: who.plot.barh(stacked=True, ax=ax),
             lambda ax: df.loc[df["code_source"] == "model", "code_score"].plot.hist(bins=20, ax=ax)):
    fig, ax = plt.subplots(figsize=(8, 6)); draw(ax); fig.savefig(out, format="svg"); plt.close(fig)
out.close()
"""


def make_input(rows: int, target: Path) -> None:
    import numpy as np
    import polars as pl

    from fieldkit.store import make_provenance, write_frame

    src = pl.read_csv(DATA)
    reps = -(-rows // src.height)
    rng = np.random.default_rng(7)
    df = pl.concat([src] * reps).head(rows)
    human = rng.random(rows) < 0.25
    score = np.where(human, 1.0, np.round(rng.beta(8, 1.5, rows), 4))
    df = df.with_columns(
        pl.col("category").alias("code"),
        pl.Series("code_score", score),
        pl.Series("code_source", np.where(human, "human", "model")),
        pl.Series("needs_review", (~human) & (score < 0.6)),
        pl.Series("district", np.array([f"district {i}" for i in range(8)])[rng.integers(0, 8, rows)]),
    )
    step = {"operation": "code", "parameters": {"column": "text", "labels": "category"},
            "model": "all-minilm-l6-v2", "model_sha256": "bench", "started": "", "seconds": 0}
    write_frame(df, target, make_provenance({"path": str(DATA), "sha256": "bench", "format": "csv"}, [step]))


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, CPU seconds) of one child process (CPU is what load cannot inflate)."""
    import resource

    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    p = psutil.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        try:
            peak = max(peak, p.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr.read().decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, peak / 2**20, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="folder to keep the input and reports in")
    a = ap.parse_args()
    folder = a.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"coded_{a.rows}.parquet"
    if not data.exists():
        t0 = time.perf_counter()
        make_input(a.rows, data)
        print(f"input: {a.rows:,} coded answers, {data.stat().st_size / 2**20:.0f} MB ({time.perf_counter() - t0:.1f} s)")
    ours, theirs = [], []
    for i in range(a.runs):  # interleaved, so load changes hit both alike
        ours.append(timed([sys.executable, "-m", "fieldkit", "report", str(data), "-o",
                           str(folder / "report.html"), "--by", "district"]))
        theirs.append(timed([sys.executable, "-c", NOTEBOOK, str(data), str(folder / "notebook.svg")]))
    html = (folder / "report.html").read_text(encoding="utf-8")
    charts = html.count("<svg ")

    def rng(xs, k):
        vals = [x[k] for x in xs]
        return f"{min(vals):.0f}-{max(vals):.0f}" if k == 1 else f"{min(vals):.2f}-{max(vals):.2f}"

    print(f"rows {a.rows:,}, runs {a.runs}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':34} {'seconds':>12} {'CPU seconds':>12} {'peak RSS MB':>12}")
    print(f"{'fieldkit report (' + str(charts) + ' charts, tables)':34} {rng(ours, 0):>12} {rng(ours, 2):>12} "
          f"{rng(ours, 1):>12}")
    print(f"{'pandas + matplotlib (4 charts)':34} {rng(theirs, 0):>12} {rng(theirs, 2):>12} {rng(theirs, 1):>12}")
    ratio = [t[0] / o[0] for o, t in zip(ours, theirs)]
    print(f"notebook / fieldkit time, per run: {', '.join(f'{r:.2f}' for r in ratio)}")
    print(json.dumps({"rows": a.rows, "fieldkit_s": [round(o[0], 2) for o in ours],
                      "notebook_s": [round(t[0], 2) for t in theirs],
                      "fieldkit_cpu_s": [round(o[2], 2) for o in ours],
                      "notebook_cpu_s": [round(t[2], 2) for t in theirs],
                      "fieldkit_rss_mb": [round(o[1]) for o in ours],
                      "notebook_rss_mb": [round(t[1]) for t in theirs], "charts": charts}))


if __name__ == "__main__":
    main()
