"""Merge benchmark: N rows x 3 laptops through `fieldkit merge`, beside the floor a user would write.

1. speed and memory: three Parquet copies of one N-row survey (uuid, 4 data columns with real
   Banking77 answers, tags on ~10% of rows, the same note on 5%, 1% of rows noted differently by
   each laptop, each laptop missing a different 2% of rows) merged by `fieldkit merge` in a fresh
   process, min-max seconds and peak RSS over --runs runs; the same without an id column
   (rows matched by fingerprint); and the floor: a plain Polars script that reads the three
   files, keeps one row per uuid and writes it (no tag union, no winners, no conflicts).
2. federated coder (--federated): see bench_merge_federated() below.

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


def timed_run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS MB) of a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


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
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in jobs}
        for _ in range(runs):  # interleaved, so load changes hit every job alike
            for name, cmd in jobs.items():
                results[name].append(timed_run(cmd, env))
        floor = min(s for s, _ in results["floor: polars concat+unique"])
        print(f"\n{rows:,} rows x 3 laptops, {runs} runs (load average now {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores)")
        print(f"{'job':34} {'seconds':>12} {'peak RSS MB':>14} {'x floor (min)':>14}")
        for name, rs in results.items():
            secs, rss = [s for s, _ in rs], [r for _, r in rs]
            print(f"{name:34} {span(secs):>12} {span(rss, '{:.0f}'):>14} {min(secs) / floor:>14.2f}")
        m = pl.read_parquet(folder / "m_id.parquet", columns=["merge_conflicts"])
        print(f"merged rows {m.height:,}; rows with conflicts {m.filter(pl.col('merge_conflicts').list.len() > 0).height:,}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--federated", action="store_true")
    args = ap.parse_args()
    if not args.skip_speed:
        bench_speed(args.rows, args.runs)
    if args.federated:
        from bench_merge_federated import bench_federated  # noqa: E402  (beside this script)

        bench_federated()


if __name__ == "__main__":
    main()
