"""Benchmark `fieldkit check`: N submissions x ~300 columns with an XLSForm, time and peak RSS.

Builds a synthetic Kobo-style export (Parquet) and its XLSForm: 100 select_one questions
with skip logic, 60 integers with constraints, 20 select_multiple with option columns for
5 of them, 10 'other (specify)' texts, GPS, start/end, enumerators; defects are planted at
known rates. The checks run in a child process so its peak RSS is the checks' own. The
alternative a user would otherwise script, a row-by-row evaluator of the same form rules
(the AST walked in Python per submission, as per-record validators do), is timed on a
sample and scaled, and printed side by side as a ratio.

    python bench/bench_check.py [--rows 1000000] [--runs 3] [--keep DIR]
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

N_SELECT, N_INT, N_MULTI, N_MULTI_OPTS, N_OTHER = 150, 89, 20, 5, 10
OPTS = ["a", "b", "c", "d", "dont_know"]
SPELLINGS = ["bottled water", "Bottled water", "botled water", "water vendor", "Water vendor",
             "neighbour", "neighbor", "mosque", "the mosque", "river"]


def write_form(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    # every question required, as in most Kobo forms (REACH Iraq: 214 of 224)
    ws.append(["type", "name", "label::English (en)", "label::Arabic (ar)", "relevant", "constraint",
               "required"])
    ws.append(["start", "start", "", "", "", "", ""])
    ws.append(["end", "end", "", "", "", "", ""])
    ws.append(["integer", "enumerator", "Enumerator", "العداد", "", "", "yes"])
    ws.append(["geopoint", "gps", "GPS", "GPS", "", "", ""])
    for i in range(N_SELECT):
        rel = f"selected(${{s{i - 1}}}, 'a') or ${{n0}} > 10" if i % 4 == 1 else ""
        ws.append(["select_one opts", f"s{i}", f"Question {i}", f"سؤال {i}", rel, "", "yes"])
    for i in range(N_INT):
        ws.append(["integer", f"n{i}", f"Number {i}", f"رقم {i}", "", ". >= 0 and . < 100", "yes"])
    for i in range(N_MULTI):
        ws.append(["select_multiple opts", f"m{i}", f"Multi {i}", f"متعدد {i}", "",
                   "not(selected(., 'dont_know') and count-selected(.) > 1)", "yes"])
    for i in range(N_OTHER):
        ws.append(["text", f"m{i}_other", "Other", "أخرى", f"selected(${{m{i}}}, 'd')", "", ""])
    wc = wb.create_sheet("choices")
    wc.append(["list_name", "name", "label::English (en)", "label::Arabic (ar)"])
    for o in OPTS:
        wc.append(["opts", o, o.upper(), o])
    wb.save(path)


def make_data(path: Path, rows: int, chunk: int = 100_000) -> int:
    """Write the synthetic export in chunks of Polars expressions (bounded memory; no row loop)."""
    import pyarrow.parquet as pq

    writer = None
    for offset in range(0, rows, chunk):
        part = _chunk(offset, min(chunk, rows - offset)).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, part.schema, compression="zstd")
        writer.write_table(part)
    writer.close()
    return part.num_columns


def _chunk(offset: int, rows: int):
    import polars as pl

    i = pl.col("__i")

    def rnd(seed: int, mod: int) -> pl.Expr:
        return (i.hash(seed) % mod).cast(pl.Int64)

    def pick(seed: int, values: list[str]) -> pl.Expr:
        return rnd(seed, len(values)).replace_strict(list(range(len(values))), values,
                                                     return_dtype=pl.String)

    cols = [pl.format("uuid-{}", i).alias("_uuid")]
    start = pl.datetime(2024, 3, 1, time_zone="UTC") + pl.duration(seconds=rnd(1, 30 * 86400))
    minutes = 20 + rnd(2, 40)
    minutes = pl.when(rnd(3, 1000) == 0).then(2).otherwise(minutes)  # 0.1% far too short
    cols += [start.alias("start"), (start + pl.duration(minutes=minutes)).alias("end"),
             rnd(4, 50).alias("enumerator"),
             (36.3 + rnd(5, 10_000) / 50_000).alias("_gps_latitude"),
             (42.4 + rnd(6, 10_000) / 50_000).alias("_gps_longitude")]
    for k in range(N_SELECT):
        v = pick(100 + k, OPTS[:4] + ["dont_know"] * (k % 2))
        if k % 4 in (2, 3):  # required, left blank in 1 of 20,000 (no skip logic reads these)
            v = pl.when(rnd(950 + k, 20_000) == 0).then(None).otherwise(v)
        cols.append(v.alias(f"s{k}"))
    # skip logic as the form says (s1, s5, ... only when the previous is 'a' or n0 > 10),
    # broken in 1 of 20,000 submissions
    follow = []
    for k in range(1, N_SELECT, 4):
        shown = (pl.col(f"s{k - 1}") == "a") | (pl.col("n0") > 10) | (rnd(900 + k, 20_000) == 0)
        follow.append(pl.when(shown).then(pl.col(f"s{k}")).alias(f"s{k}"))
    for k in range(N_INT):
        v = rnd(300 + k, 60)
        v = pl.when(rnd(400 + k, 20_000) == 0).then(250).otherwise(v)  # constraint broken
        cols.append(v.alias(f"n{k}"))
    for k in range(N_MULTI):
        a, b = pick(500 + k, OPTS[:4]), pick(600 + k, OPTS[:4])
        b = pl.when(rnd(650 + k, 20_000) == 0).then(pl.lit("dont_know")).otherwise(b)
        summary = pl.when(a == b).then(a).otherwise(pl.concat_str([a, b], separator=" "))
        cols.append(summary.alias(f"m{k}"))
        if k < N_MULTI_OPTS:
            for o in OPTS:
                cols.append(((a == o) | (b == o)).cast(pl.Int8).alias(f"m{k}/{o}"))
    others = []
    for k in range(N_OTHER):
        has = pl.col(f"m{k}").str.contains("d")
        others.append(pl.when(has & (rnd(700 + k, 20) == 0)).then(pick(800 + k, SPELLINGS))
                      .alias(f"m{k}_other"))
    base = pl.DataFrame({"__i": pl.int_range(offset, offset + rows, dtype=pl.UInt64, eager=True)})
    return base.select(i, *cols).with_columns(follow).with_columns(others).drop("__i")


def child(data: str, form: str, out: str) -> None:
    """Run in a fresh process: load, check, write findings; print JSON with time and peak RSS."""
    import resource

    from fieldkit.analysis.checks import run_checks
    from fieldkit.analysis.checks_config import load_config
    from fieldkit.io import load_dataset
    from fieldkit.io.xlsform import read_form

    t0 = time.perf_counter()
    ds = load_dataset(data)
    res = run_checks(ds.frame, survey=ds.survey, form=read_form(form), lang="ar",
                     config=load_config(overrides={"other": {"model": ""}}))
    res.findings.write_parquet(out)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = dict(res.findings.group_by("check").len().sort("check").iter_rows())
    print(json.dumps({"seconds": secs, "peak_mb": peak, "findings": res.findings.height,
                      "by_check": counts}))


def row_loop(data: Path, form_path: Path, sample: int) -> float:
    """Seconds per submission for the same constraints + relevant, walked per row in Python."""
    import polars as pl

    from fieldkit.analysis.checks_expr import parse
    from fieldkit.io.xlsform import match_columns, read_form

    form = read_form(form_path)
    df = pl.scan_parquet(data).head(sample).collect()
    m = match_columns(form, df.columns)
    rules = [(m.columns[q.name], parse(e)) for q in form.questions if q.name in m.columns
             for e in (q.constraint, q.relevant) if e]

    def ev(node, row, cur):
        k = node[0]
        if k in ("num", "str"):
            return node[1]
        if k == "self":
            return row[cur]
        if k == "ref":
            return row[m.columns[node[1]]]
        if k == "bin":
            a, b, op = ev(node[2], row, cur), ev(node[3], row, cur), node[1]
            if op == "and":
                return bool(a) and bool(b)
            if op == "or":
                return bool(a) or bool(b)
            try:
                a, b = float(a), float(b)
            except (TypeError, ValueError):
                a, b = str(a or ""), str(b or "")
            return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b,
                    ">=": a >= b}.get(op, False)
        if k == "call":
            args = [ev(a, row, cur) for a in node[2]]
            if node[1] == "selected":
                return str(args[1]) in str(args[0] or "").split()
            if node[1] == "count-selected":
                return len(str(args[0] or "").split())
            if node[1] == "not":
                return not args[0]
        return False

    t0 = time.perf_counter()
    bad = 0
    for row in df.iter_rows(named=True):
        for col, node in rules:
            if not ev(node, row, col):
                bad += 1
    return (time.perf_counter() - t0) / sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="folder to keep the generated data in (reused if present)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_check_"))
    folder.mkdir(parents=True, exist_ok=True)
    data, form = folder / f"survey_{args.rows}.parquet", folder / "form.xlsx"
    write_form(form)
    if not data.exists():
        t0 = time.perf_counter()
        ncols = make_data(data, args.rows)
        print(f"generated {args.rows:,} x {ncols} in {time.perf_counter() - t0:.1f}s "
              f"({data.stat().st_size / 1e6:.0f} MB Parquet)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--child", str(data), str(form),
                              str(folder / "findings.parquet")],
                             capture_output=True, text=True, env=env, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = [r["seconds"] for r in results]
    peaks = [r["peak_mb"] for r in results]
    print(f"fieldkit check: {args.rows:,} submissions: {min(secs):.1f}-{max(secs):.1f} s over "
          f"{args.runs} runs ({args.rows / min(secs):,.0f} submissions/s at best), peak RSS "
          f"{min(peaks):,.0f}-{max(peaks):,.0f} MB; {results[0]['findings']:,} findings "
          f"{results[0]['by_check']}")
    per_row = row_loop(data, form, 5_000)
    loop_secs = per_row * args.rows
    print(f"row-by-row Python evaluator of the same form rules (5,000-row sample, scaled): "
          f"{loop_secs:.0f} s for {args.rows:,} -> fieldkit check (all checks) is "
          f"{loop_secs / min(secs):.1f}x faster")


if __name__ == "__main__":
    main()
