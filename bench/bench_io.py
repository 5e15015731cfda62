"""Benchmark: `fieldkit inspect` and `convert` on a ~1 GB generated CSV beside polars.read_csv.

Run: python bench/bench_io.py [--size-mb 1024] [--path /tmp/fieldkit_bench_1gb.csv] [--rounds 3]
Each measured job runs in its own subprocess so its peak RSS is its own (psutil polling +
ru_maxrss of the child). The machine is shared with other engineers: figures are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

WORDS = ("water well pump broken queue long clinic staff helpful road flooded market prices "
         "high school far children safe latrine clean distribution late food voucher").split()


def generate(path: Path, size_mb: int, seed: int = 7) -> None:
    """Write a CSV of roughly size_mb megabytes in chunks (deterministic, never whole in memory)."""
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".partial")
    target = size_mb * 1024 * 1024
    written = 0
    chunk_rows = 200_000
    start_id = 0
    with open(tmp, "wb") as f:
        header = True
        while written < target:
            n = chunk_rows
            words = np.array(WORDS)[rng.integers(0, len(WORDS), size=(n, 8))]
            comments = [" ".join(w) for w in words]
            df = pl.DataFrame({
                "id": np.arange(start_id, start_id + n),
                "submitted": pl.Series(rng.integers(1_546_300_800, 1_700_000_000, n) * 1_000_000)
                .cast(pl.Datetime("us")),
                "region": np.array(["north", "south", "east", "west", "centre"])[rng.integers(0, 5, n)],
                "household_size": rng.integers(1, 12, n),
                "score": rng.normal(50, 15, n).round(3),
                "comment": comments,
            })
            data = df.write_csv(include_header=header).encode()
            f.write(data)
            written += len(data)
            header = False
            start_id += n
    os.replace(tmp, path)


def _anon_rss(pid: int) -> int:
    """Anonymous resident memory (heap), which excludes file pages Polars maps from the input."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(args: list[str]) -> tuple[float, int, int, int, str]:
    """Run a command; return (seconds, peak RSS, peak anonymous RSS, exit code, stderr tail)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = peak_anon = 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
            peak_anon = max(peak_anon, _anon_rss(proc.pid))
        except psutil.Error:
            pass
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    _, err = proc.communicate()
    return elapsed, peak, peak_anon, proc.returncode, err.decode(errors="replace")[-300:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--path", default="/tmp/fieldkit_bench_1gb.csv")
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    path = Path(ns.path)
    if not path.exists() or path.stat().st_size < ns.size_mb * 1024 * 1024 * 0.95:
        print(f"generating {path} (~{ns.size_mb} MB)...", flush=True)
        generate(path, ns.size_mb)
    size = path.stat().st_size
    load0 = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"file: {path} {size / 1e6:,.0f} MB; cores: {os.cpu_count()}; shared machine, figures are noisy")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"
        env_home = Path(tmp) / "home"
        os.environ["FIELDKIT_HOME"] = str(env_home)
        fk = [sys.executable, "-m", "fieldkit"]
        jobs = [
            ("fieldkit inspect (schema, 50 rows, count)", fk + ["inspect", str(path), "--json"]),
            ("polars scan_csv: schema + head(50) + count",
             [sys.executable, "-c", f"import polars as pl; lf = pl.scan_csv({str(path)!r}); "
              "lf.collect_schema(); lf.head(50).collect(); print(lf.select(pl.len()).collect().item())"]),
            ("fieldkit convert (Polars streaming sink)", fk + ["convert", str(path), "-o", str(out)]),
            ("fieldkit convert --progress (batch writer)",
             fk + ["convert", str(path), "-o", str(out), "--progress"]),
            ("polars.read_csv (whole file in memory)",
             [sys.executable, "-c", f"import polars as pl; print(pl.read_csv({str(path)!r}).height)"]),
            ("polars read_csv + write_parquet",
             [sys.executable, "-c", f"import polars as pl; pl.read_csv({str(path)!r})"
              f".write_parquet({str(Path(tmp) / 'pl.parquet')!r}, compression='zstd')"]),
        ]
        # a non-UTF-8 file must be transcoded once (streamed into the cache), then opens fast
        cp = Path(ns.path).with_name("fieldkit_bench_cp1252_200mb.csv")
        if not cp.exists():
            with open(path, "rb") as f:
                data = f.read(200_000_000)
            data = data[: data.rindex(b"\n") + 1].replace(b"comment", "commentaire_é".encode("cp1252"), 1)
            cp.write_bytes(data)
        jobs += [
            ("fieldkit inspect cp1252 200 MB (re-encode)", fk + ["inspect", str(cp), "--json"]),
            ("fieldkit inspect cp1252 200 MB (cached)", fk + ["inspect", str(cp), "--json"]),
            ("polars scan_csv cp1252 200 MB head(50)+count",
             [sys.executable, "-c", f"import polars as pl; lf = pl.scan_csv({str(cp)!r}, "
              "encoding='utf8-lossy'); lf.head(50).collect(); print(lf.select(pl.len()).collect().item())"]),
        ]
        runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name, _ in jobs}
        for _ in range(ns.rounds):  # interleaved rounds; medians damp the shared machine's noise
            shutil.rmtree(env_home, ignore_errors=True)  # the cp1252 re-encode starts cold
            for name, cmd in jobs:
                t, rss, anon, rc, err = run_measured(cmd)
                assert rc == 0, (name, err)
                runs[name].append((t, rss, anon))
        res = {name: tuple(statistics.median(x[i] for x in v) for i in range(3))
               for name, v in runs.items()}
        print(f"medians of {ns.rounds} interleaved round(s); load average before: {load0}")
        print(f"{'job':46s} {'seconds':>8s} {'peak RSS MB':>12s} {'peak anon MB':>13s}")
        for name, (t, r, a) in res.items():
            print(f"{name:46s} {t:8.2f} {r / 1e6:12,.0f} {a / 1e6:13,.0f}")
        ins, scan = res[jobs[0][0]], res[jobs[1][0]]
        conv, convp, rd, rdw = (res[j[0]] for j in jobs[2:6])
        tc, tc2, tcp = (res[j[0]] for j in jobs[6:9])
        print("ratios (fieldkit / polars; < 1 is better for fieldkit)")
        print(f"  inspect vs polars scan+head+count:   time x{ins[0] / scan[0]:.2f}")
        print(f"  convert vs read_csv+write_parquet:   time x{conv[0] / rdw[0]:.2f}, "
              f"peak RSS x{conv[1] / rdw[1]:.2f}, peak anon x{conv[2] / rdw[2]:.2f}")
        print(f"  convert --progress vs same:          time x{convp[0] / rdw[0]:.2f}, "
              f"peak RSS x{convp[1] / rdw[1]:.2f}, peak anon x{convp[2] / rdw[2]:.2f}")
        print(f"  convert vs polars.read_csv alone:    time x{conv[0] / rd[0]:.2f}, "
              f"peak RSS x{conv[1] / rd[1]:.2f}")
        print(f"  cp1252 200 MB: re-encode + inspect x{tc[0] / tcp[0]:.1f} of polars' lossy scan "
              f"(which garbles the accents), cached re-open x{tc2[0] / tcp[0]:.2f}")
        print(f"  convert peak RSS / file size: {conv[1] / size:.2f} "
              f"(anon {conv[2] / size:.2f}); output parquet {out.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
