"""Log templates: grouping accuracy on the 8 loghub samples and 1M-line throughput, beside drain3.

    python bench/bench_logs.py [--lines 1000000] [--skip-throughput]

Accuracy is the loghub grouping accuracy (a line is right when its predicted group holds
exactly the lines of its true EventId), computed from the raw lines through fieldkit's
loader; drain3 (default settings) gets the same `message` strings in the same run.
Throughput runs each engine in its own subprocess and reports lines/s and peak RSS
(ru_maxrss) on a log built by repeating the 8 samples with their digits rotated, under
/tmp. The machine is shared with other work, so timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOGS = ROOT.parent / "shared" / "data" / "logs"
SETS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Spark", "Zookeeper"]


def grouping_accuracy(pred, truth) -> float:
    df = pl.DataFrame({"p": pred, "t": truth})
    true_size = df.group_by("t").len().rename({"len": "tn"})
    g = df.group_by("p").agg(pl.col("t").n_unique().alias("nu"), pl.col("t").first(), pl.len().alias("pn"))
    g = g.join(true_size, on="t")
    return g.filter((pl.col("nu") == 1) & (pl.col("pn") == pl.col("tn")))["pn"].sum() / df.height


def accuracy_table() -> None:
    import logging

    from drain3 import TemplateMiner as Drain3

    from fieldkit.analysis.logtemplates import TemplateMiner
    from fieldkit.io.logs import scan_log

    logging.getLogger("drain3").setLevel(logging.ERROR)
    print("## Grouping accuracy (loghub 2k samples, from the raw lines)\n")
    print(f"| set | lines | fieldkit | drain3 0.9.11 | fieldkit templates | drain3 clusters | true events |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ours, theirs = [], []
    for name in SETS:
        path = LOGS / f"{name}_2k.log"
        msgs = scan_log(path).collect()["message"]
        truth = pl.read_csv(str(path) + "_structured.csv", infer_schema=False)["EventId"]
        miner = TemplateMiner()
        a = grouping_accuracy(miner.add_messages(msgs), truth)
        d = Drain3()
        b = grouping_accuracy([d.add_log_message(m)["cluster_id"] for m in msgs], truth)
        ours.append(a)
        theirs.append(b)
        print(f"| {name} | {msgs.len():,} | {a:.4f} | {b:.4f} | {len(miner.clusters)} | {len(d.drain.clusters)} "
              f"| {truth.n_unique()} |")
    print(f"| **mean** | | **{sum(ours) / len(ours):.4f}** | **{sum(theirs) / len(theirs):.4f}** | | | |")
    wins = sum(a >= b for a, b in zip(ours, theirs))
    print(f"\nfieldkit >= drain3 on {wins}/{len(SETS)} sets; mean ratio {sum(ours) / sum(theirs):.3f}x\n")


def build_big_log(n_lines: int, target: Path) -> Path:
    """Repeat the 8 samples, rotating digits in the message part each round, until n_lines."""
    from fieldkit.io.logs import scan_log

    if target.exists() and sum(1 for _ in open(target, "rb")) == n_lines:
        return target
    frames = []
    for name in SETS:
        df = scan_log(LOGS / f"{name}_2k.log").collect()
        frames.append(df.select(
            pl.col("raw").str.head(pl.col("raw").str.len_chars() - pl.col("message").str.len_chars()).alias("head"),
            pl.col("message")))
    base = pl.concat(frames)
    digits = [str(i) for i in range(10)]
    parts, total, k = [], 0, 0
    while total < n_lines:
        rot = digits[k % 10:] + digits[: k % 10]
        part = base.select((pl.col("head") + pl.col("message").str.replace_many(digits, rot)).alias("raw"))
        parts.append(part.head(n_lines - total))
        total += parts[-1].height
        k += 1
    pl.concat(parts).write_csv(target, include_header=False, quote_style="never", separator="\x1f")
    return target


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
engine, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if engine == "fieldkit-mine":
    from fieldkit.analysis.logtemplates import TemplateMiner
    from fieldkit.io.logs import iter_log_batches
    miner, n = TemplateMiner(), 0
    for batch in iter_log_batches(path):
        miner.add_messages(batch["message"]); n += batch.height
    extra = len(miner.clusters)
elif engine == "fieldkit-cli":
    from fieldkit.analysis.logs import run_logs
    res = run_logs([path], out, use_model=False)
    n, extra = res.digest.lines, res.templates.height
elif engine == "drain3":
    import logging
    logging.getLogger("drain3").setLevel(logging.ERROR)
    from drain3 import TemplateMiner
    from fieldkit.io.logs import iter_log_batches
    d, n = TemplateMiner(), 0
    for batch in iter_log_batches(path):
        for m in batch["message"]:
            d.add_log_message(m)
        n += batch.height
    extra = len(d.drain.clusters)
dt = time.perf_counter() - t0
print(json.dumps(dict(lines=n, seconds=dt, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      templates=extra)))
"""


def run_child(engine: str, path: Path) -> dict:
    out = Path("/tmp/fieldkit_bench_logs_out.parquet")
    code = CHILD.format(root=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code, engine, str(path), str(out)], capture_output=True,
                         text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def throughput(n_lines: int) -> None:
    path = build_big_log(n_lines, Path(f"/tmp/fieldkit_bench_{n_lines}.log"))
    size_mb = path.stat().st_size / 1e6
    print(f"## Throughput on {n_lines:,} lines ({size_mb:,.0f} MB, the 8 samples repeated with digits rotated)\n")
    print("| engine | lines/s | seconds | peak RSS MB | templates |")
    print("|---|---:|---:|---:|---:|")
    rows = {}
    for engine in ("fieldkit-mine", "fieldkit-cli", "drain3"):
        r = run_child(engine, path)
        rows[engine] = r
        print(f"| {engine} | {r['lines'] / r['seconds']:,.0f} | {r['seconds']:.1f} | {r['rss_mb']:,.0f} | "
              f"{r['templates']} |")
    f, d = rows["fieldkit-mine"], rows["drain3"]
    print(f"\nfieldkit mining is {(f['lines'] / f['seconds']) / (d['lines'] / d['seconds']):.1f}x drain3's lines/s "
          f"(both read through fieldkit's loader; fieldkit-cli also writes the annotated Parquet and the digest).")
    print(f"CPU cores: {os.cpu_count()}; shared machine, timings are noisy.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    t = time.perf_counter()
    accuracy_table()
    if not args.skip_throughput:
        throughput(args.lines)
    print(f"\n(total {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
