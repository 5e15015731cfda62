"""Ray engine benchmark: the same jobs local vs `--engine ray` on this machine, and a cluster projection.

Run (the whole table, <= 15 min on a quiet 2-core machine):
      python bench/bench_scale.py --answers 20000,1000000:static --lines 2000000 --runs 1 --modes joined
Options: [--answers N[:MODEL],...] [--lines N,...] [--runs 3] [--modes cold,joined]
         [--variants local,ray,ray-parts] [--model ID]

1. Answers: N survey answers resampled from the real R survey answers (both free-text
   columns), written to Parquet; `embed` timed local (one process) and on a local Ray (one
   embedding actor per core, one thread each), each in a fresh subprocess whose FIELDKIT_HOME
   is a copy of a template (model ready: int8 graph built, or `static` = MiniLM distilled to a
   static table, the fastest embedder, so Ray's share is largest: an upper bound), no vectors.
   Each run prints wall time, Ray's start-up (start or join), the first rows back, the steady
   rows/s after them, and CPU-seconds (the driver's and, joined, the Ray head's whole process
   tree during the run: load-independent, unlike wall time on a shared machine).
2. Log lines: the 8 loghub sets repeated into 8 files of N/8 lines (a fleet's files);
   `logs` timed local vs Ray the same way. The driver's serial parts (the template merge,
   writing the one output file) are timed inside the Ray run.
3. Two ways to meet Ray: `cold` (each command starts and stops its own local Ray) and
   `joined` (a Ray this benchmark starts once in a process of its own, as a cluster's head
   would be running; the command joins it). Two Ray outputs: `ray` (one file, written by the
   driver) and `ray-parts` (a folder of parts written by the workers, `--parts`).
4. A projection for 100M answers and 1 TB of logs on a 16-node cluster, from the measured
   per-worker throughput and the measured serial (driver) rates, with its assumptions.
Variants alternate within each run, so load changes hit them alike; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
COLUMNS = ["What do you like best about using R?", "What do you like least about using R?"]
SYSTEMS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Spark", "Zookeeper"]

CHILD = r"""
import json, os, sys, time, resource
sys.path.insert(0, {root!r})
job, engine, out = sys.argv[1], sys.argv[2], sys.argv[3]
args = json.loads(sys.argv[4])
t0 = time.perf_counter()
timings = {{}}
from contextlib import nullcontext
ctx = nullcontext()
if engine == "ray":
    from fieldkit.scale import ray_engine
    ctx = ray_engine(address=args.get("address"), workers=args.get("workers"))
with ctx:
    t1 = time.perf_counter()
    if job == "embed":
        from fieldkit import pipelines
        from fieldkit.progress import Reporter
        marks = []  # (time, rows done) at each progress report: the steady-state rate after the first rows
        rep = Reporter("embed", callback=lambda p: marks.append((time.perf_counter(), p.done)), max_per_second=20)
        ds = pipelines.dataset(args["path"])
        s0 = time.perf_counter()
        if args.get("parts"):  # the workers embed and write the parts; nothing is left to write
            from fieldkit.pipelines.embed import embed_parts
            r = embed_parts(ds, "answer", out + ".parts", args["parts"], model_id=args.get("model"), reporter=rep)
            s1 = time.perf_counter()
        else:
            from fieldkit.pipelines.embed import embed_file  # what `fieldkit embed -o OUT` runs
            r = embed_file(ds, "answer", out, model_id=args.get("model"), reporter=rep)
            s1 = time.perf_counter()
        # the embedding (to the last rows back); the driver's write left after it (on Ray it runs beside the embedding)
        last = marks[-1][0] if marks else s0
        timings.update(mine=last - s0, write=s1 - last)
        done = [(t, d) for t, d in marks if d > 0]
        if done:
            timings["ready"] = done[0][0] - s0  # the model loaded (on every worker) and the first rows back
            t_a, d_a = done[0]
            t_b, d_b = done[-1]
            if d_b - d_a >= 0.5 * d_b and t_b > t_a:  # half the rows or more came after the first
                # rows/s once the first rows are back (the parts' reporter counts parts: scaled to rows)
                timings["steady"] = (d_b - d_a) / (t_b - t_a) * r.outcome.rows / d_b
        rows = r.outcome.rows
    else:
        from fieldkit import pipelines
        if engine == "ray":
            import fieldkit.scale.logs as L
            inner = L.merge
            def merge(shards, folded, base):
                s = time.perf_counter(); got = inner(shards, folded, base); timings["merge"] = time.perf_counter() - s
                timings["folded"] = sum(f.height for f in folded)  # rows the driver's merge reads
                timings["distinct"] = int(pl.concat([f.select("_masked") for f in folded])["_masked"].n_unique()) if folded else 0
                return got
            L.merge = merge
            read_all = L._read_all
            def timed_read(*a, **k):  # the workers' reading, masking and folding, up to the merge
                s = time.perf_counter(); got = read_all(*a, **k); timings["read"] = time.perf_counter() - s
                return got
            L._read_all = timed_read
            owner, name = L, "mine_logs_on_ray"
        else:
            import fieldkit.pipelines.logs
            owner, name = sys.modules["fieldkit.pipelines.logs"], "mine_logs"  # (the package's `logs` is the job)
        import polars as pl
        first_pass = getattr(owner, name)
        def timed_pass(*a, **k):  # the reading + mining pass; the rest is the driver's annotating and writing
            s = time.perf_counter(); got = first_pass(*a, **k); timings["mine"] = time.perf_counter() - s
            return got
        setattr(owner, name, timed_pass)
        s0 = time.perf_counter()
        parts = bool(args.get("parts"))  # the workers write the parts: what is left is publishing them
        res = pipelines.logs(args["paths"], out + ".parts" if parts else out, parts=parts).outcome
        timings["write"] = time.perf_counter() - s0 - timings["mine"]
        rows = res.digest.lines
u = resource.getrusage(resource.RUSAGE_SELF)
c = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps(dict(rows=rows, seconds=time.perf_counter() - t0, start=t1 - t0, **timings,
                      rss_mb=u.ru_maxrss / 1024, cpu=u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime)))
"""


def child(job: str, engine: str, out: Path, args: dict, home: Path, head: "RayHead | None" = None) -> dict:
    """Run one command in a fresh process; with `head`, also the CPU-seconds its Ray processes spent meanwhile."""
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    code = CHILD.format(root=str(ROOT))
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        proc = subprocess.Popen([sys.executable, "-c", code, job, engine, str(out), json.dumps(args)],
                                stdout=so, stderr=se, text=True, env=env)
        start = tree_times(head.proc.pid) if head is not None else {}
        seen = dict(start)
        while proc.poll() is None:  # sampled: a worker killed at the end is gone before it could be read once more
            if head is not None:
                seen.update(tree_times(head.proc.pid))
            time.sleep(0.25)
        if head is not None:
            seen.update(tree_times(head.proc.pid))
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    if proc.returncode != 0:
        raise SystemExit(f"{job}/{engine} failed:\n{stderr[-3000:]}")
    got = json.loads(stdout.strip().splitlines()[-1])
    if head is not None:  # the joined Ray's head, raylet, GCS and workers during this run
        got["cpu"] += sum(t - start.get(pid, 0.0) for pid, t in seen.items())
    return got


def make_answers(n: int, folder: Path) -> Path:
    from fieldkit.io import load_dataset

    ds = load_dataset(SURVEY)
    texts = [t for c in COLUMNS for t in ds.text_column(c).to_list() if t and t.strip()]
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(texts), n)
    path = folder / f"answers_{n}.parquet"
    pl.DataFrame({"id": np.arange(n), "answer": [texts[i] for i in picks]}).write_parquet(path)
    return path


def make_logs(n: int, folder: Path) -> list[Path]:
    """8 files of ~n/8 lines, each one loghub system repeated (a fleet: one file per machine)."""
    out = []
    for name in SYSTEMS:
        lines = (DATA / "logs" / f"{name}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines(True)
        need = max(1, n // len(SYSTEMS))
        reps, rest = divmod(need, len(lines))
        p = folder / f"{name.lower()}.log"
        with open(p, "w", encoding="utf-8") as f:
            for _ in range(reps):
                f.writelines(lines)
            f.writelines(lines[:rest])
        out.append(p)
    return out


def rng_fmt(xs: list[float], fmt: str = "{:,.1f}") -> str:
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if abs(hi - lo) < 1e-9 else f"{fmt.format(lo)}-{fmt.format(hi)}"


HEAD = r"""
import logging, sys, ray
ray.init(address="local", num_cpus=int(sys.argv[1]), include_dashboard=False, log_to_driver=False,
         logging_level=logging.ERROR)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the benchmark closes this pipe
ray.shutdown()
"""


def tree_times(pid: int) -> dict[tuple[int, float], float]:
    """{(pid, start time): CPU-seconds so far} of a process and its live descendants (a process's own time only)."""
    import psutil

    out = {}
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return out
    for p in procs:
        try:
            t = p.cpu_times()
            out[(p.pid, p.create_time())] = t.user + t.system
        except psutil.Error:
            pass
    return out


class RayHead:
    """The one Ray the `joined` runs join, as a cluster's head would be running: this benchmark's own.

    A process of its own (not `ray start`), so stopping it stops this Ray only, never
    another one running on the machine.
    """

    def __init__(self, workers: int):
        env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
        self.proc = subprocess.Popen([sys.executable, "-c", HEAD, str(workers)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise SystemExit("could not start the benchmark's Ray head")

    def stop(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=60)


STATIC = "bench-static"  # MiniLM distilled to a static table (`fieldkit models distill`): the fastest embedder


def template_home(folder: Path, model: str) -> tuple[Path, str]:
    """A FIELDKIT_HOME with the model ready (its int8 graph built, or the static table distilled), no vectors.

    Why: each run gets a copy, so no run finds another's embedding cache, and none pays for a
    one-off preparation (local would build the graph once, each Ray actor again).
    """
    home = folder / f"home-template-{model}"
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    code = ("import sys; from fieldkit.inference.embedder import get_embedder\n"
            "m = sys.argv[1]\n"
            "if m == 'static':\n"
            f"    from fieldkit.inference.distill import distill; distill('all-minilm-l6-v2', {STATIC!r}); m = {STATIC!r}\n"
            "get_embedder(m); get_embedder(m, threads=1)\n")
    r = subprocess.run([sys.executable, "-c", code, model], capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"could not prepare the model {model}:\n{r.stderr[-3000:]}")
    return home, STATIC if model == "static" else model


def fresh_home(template: Path, home: Path) -> Path:
    """A copy of the template home for one run (models and built graphs, no embedding cache)."""
    shutil.copytree(template, home)
    return home


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def answer_sizes(text: str, model: str) -> list[tuple[int, str]]:
    """`20000,1000000:static` -> [(20000, model), (1000000, "static")]."""
    out = []
    for x in text.split(","):
        if x.strip():
            n, _, m = x.strip().partition(":")
            out.append((int(float(n)), m or model))
    return out


def sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", default="20000,1000000:static",
                    help="sizes, comma-separated, each with :MODEL to embed it with another model than --model "
                         "(e.g. 20000,1000000:static)")
    ap.add_argument("--lines", default="10000000", help="sizes, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="cold,joined",
                    help="cold: each command starts its own local Ray; joined: it joins a Ray started once (`ray start --head`)")
    ap.add_argument("--variants", default="local,ray,ray-parts",
                    help="local; ray (one output file written by the driver); ray-parts (a folder of parts written by the workers)")
    ap.add_argument("--workers", type=int, default=None, help="Ray actors (default: every CPU)")
    ap.add_argument("--model", default="all-minilm-l6-v2",
                    help="embedding model id, or `static` (MiniLM distilled to a static table here: the fastest "
                         "embedder, so the Ray overhead is the largest share of the time: an upper bound)")
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--cores", type=int, default=16, help="cores per node in the projection")
    a = ap.parse_args()
    cpus = os.cpu_count() or 1
    workers = a.workers or cpus
    modes = [m for m in a.modes.split(",") if m]
    variants = [v for v in a.variants.split(",") if v]
    print(f"# bench_scale: answers {a.answers} (default model {a.model}), log lines {a.lines}, {a.runs} runs, modes {modes}, "
          f"{cpus} CPUs, {workers} Ray workers; {uptime()} at start\n# {' '.join(sys.argv)}\n", flush=True)
    results: dict[tuple, list[tuple[dict, dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="fk-bench-scale-") as tmp:
        tmp = Path(tmp)
        templates: dict[str, tuple[Path, str]] = {}  # model asked -> (its template home, its id)
        jobs = []
        for n, m in answer_sizes(a.answers, a.model):
            if m not in templates:
                templates[m] = template_home(tmp, m)
            label = "embed" if m == "all-minilm-l6-v2" else f"embed ({m})"
            jobs.append((label, n, {"path": str(make_answers(n, tmp)), "model": templates[m][1],
                                    "template": str(templates[m][0])}))
        for n in sizes(a.lines):
            folder = tmp / f"logs-{n}"
            folder.mkdir()
            jobs.append(("logs", n, {"paths": [str(p) for p in make_logs(n, folder)]}))
        head = None
        try:
            for mode in modes:
                if mode == "joined":
                    head = RayHead(workers)
                for run in range(a.runs):  # local and Ray alternate, so load changes hit both alike
                    for label, n, args in jobs:
                        job = label.split(" ")[0]
                        runs = {}
                        for variant in variants:
                            engine = variant.split("-")[0]
                            home = tmp / f"home-{job}-{n}-{variant}-{mode}-{run}"
                            if "template" in args:
                                fresh_home(Path(args["template"]), home)
                            where = head.address if mode == "joined" else "local"  # cold: its own Ray, never another
                            parts = max(1_000, n // (4 * workers)) if variant == "ray-parts" else None
                            got = child(job, engine, tmp / f"out-{job}-{variant}.parquet",
                                        {**args, "workers": workers, "address": where, "parts": parts}, home,
                                        head if engine == "ray" else None)
                            got["load"] = os.getloadavg()[0]
                            shutil.rmtree(home, ignore_errors=True)
                            runs[variant] = got
                            extra = "".join(f", {k} {got[k]:.2f} s" for k in ("ready", "read", "mine", "merge", "write")
                                            if k in got)
                            extra += f", steady {got['steady']:,.0f} rows/s" if "steady" in got else ""
                            extra += f", {got['cpu']:.1f} CPU-s"
                            print(f"{mode:<6} run {run + 1} {label:<14} {variant:<9} {got['rows']:>11,} rows "
                                  f"{got['seconds']:8.1f} s (start {got['start']:.1f} s{extra}) "
                                  f"peak RSS {got['rss_mb']:,.0f} MB, load {got['load']:.1f}", flush=True)
                        results.setdefault((label, n, mode), []).append(runs)
                if head is not None:
                    head.stop()
                    head = None
        finally:
            if head is not None:
                head.stop()
    report(results, workers)
    projection(a, results, workers)
    print(f"\n{uptime()} at the end")


def report(results: dict, workers: int) -> None:
    """One row per job, size, mode and Ray variant: times and the ratios to local in the same runs.

    `variant/local` is the whole command; `without start` leaves out joining or starting Ray;
    `steady` compares the rows/s once the first rows are back (every model loaded, the pool
    busy): what the overhead is per row, the part that grows with the input.
    """
    print("\n| job | rows | Ray | variant | local s | variant s | Ray start s | first rows back s (local / variant) "
          "| variant/local | without start | steady rows/s (local / variant) | steady overhead "
          "| CPU-s (local / variant) | CPU overhead | per-worker rows/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (job, n, mode), runs in sorted(results.items()):
        for variant in [v for v in runs[0] if v != "local"]:
            loc, ray_ = [r["local"] for r in runs], [r[variant] for r in runs]
            ratio = [r["seconds"] / l["seconds"] for l, r in zip(loc, ray_)]
            warm = [(r["seconds"] - r["start"]) / l["seconds"] for l, r in zip(loc, ray_)]
            ready = (f"{rng_fmt([x['ready'] for x in loc])} / {rng_fmt([x['ready'] for x in ray_])}"
                     if all("ready" in x for x in loc + ray_) else "")
            steady = over = ""
            if all("steady" in x for x in loc + ray_):
                steady = f"{rng_fmt([x['steady'] for x in loc], '{:,.0f}')} / {rng_fmt([x['steady'] for x in ray_], '{:,.0f}')}"
                over = rng_fmt([l["steady"] / r["steady"] - 1 for l, r in zip(loc, ray_)], "{:+.0%}")
            print(f"| {job} | {loc[0]['rows']:,} | {mode} | {variant} | {rng_fmt([x['seconds'] for x in loc])} "
                  f"| {rng_fmt([x['seconds'] for x in ray_])} | {rng_fmt([x['start'] for x in ray_])} | {ready} "
                  f"| {rng_fmt(ratio, '{:.2f}')} | {rng_fmt(warm, '{:.2f}')} | {steady} | {over} "
                  f"| {rng_fmt([x['cpu'] for x in loc])} / {rng_fmt([x['cpu'] for x in ray_])} "
                  f"| {rng_fmt([r['cpu'] / l['cpu'] - 1 for l, r in zip(loc, ray_)], '{:+.0%}')} "
                  f"| {rng_fmt([rate(job, r, workers) for r in ray_], '{:,.0f}')} |")


def rate(job: str, r: dict, workers: int) -> float:
    """Rows per second per worker in the part that runs on the workers (no start-up, merge or driver write).

    For `embed`, the steady rate (once the first rows are back: every actor has its model).
    """
    if "steady" in r:
        return r["steady"] / workers
    return r["rows"] / max(r["mine"] - r.get("merge", 0.0), 1e-9) / workers


def merge_costs() -> tuple[float, float]:
    """(seconds per new line, seconds per seen line) of the driver's merge, on the 8 original loghub sets."""
    from fieldkit.analysis.logs import default_miner
    from fieldkit.scale.logs import BATCH_BYTES, Shard, fold_calls, merge_folded

    files = [DATA / "logs" / f"{name}_2k.log" for name in SYSTEMS]
    with tempfile.TemporaryDirectory(prefix="fk-bench-shards-") as tmp:
        folded = [Shard(f, Path(tmp) / str(i), BATCH_BYTES).read()[1] for i, f in enumerate(files)]
    calls = pl.concat([f.select("_masked", "count") for f in folded])
    t = time.perf_counter()
    merge_folded(folded, default_miner())
    new = time.perf_counter() - t
    miner = default_miner()
    merge_folded(folded, miner)
    seen = fold_calls(pl.concat([calls] * 20))  # every line seen before: the cost of a hit row
    t = time.perf_counter()
    for m, c in seen.select("_masked", "count").iter_rows():
        miner.add_masked(m, c)
    hit = (time.perf_counter() - t) / seen.height
    return new / calls["_masked"].n_unique(), hit


def projection(a, results: dict, workers: int) -> None:
    """Hours on N nodes x C cores from the largest size's measured per-worker rates and the driver's serial parts."""
    def largest(job: str, variant: str) -> list[dict]:
        keys = [k for k in results if k[0] == job and variant in results[k][0]]
        if not keys:
            return []
        mode = "joined" if any(k[2] == "joined" for k in keys) else keys[0][2]
        n = max(k[1] for k in keys if k[2] == mode)
        return [r[variant] for r in results[(job, n, mode)]]

    total = a.nodes * a.cores
    answers, tb_lines = 100_000_000, int(1e12 / 150)  # 1 TB of logs at ~150 bytes per line
    per_new, per_hit = merge_costs()
    cache, shards = 200_000, 1_000  # the exact fold's bound on distinct masked lines; 1 TB as 1 GB files
    merge_h = (cache * per_new + shards * cache * per_hit) / 3600  # every shard holding every distinct line: an upper bound
    print(f"\n## Projection: {a.nodes} nodes x {a.cores} cores = {total} Ray workers\n")
    print("| job | output | per-worker rate (measured, slowest run) | parallel part | serial part on the driver | total |")
    print("|---|---|---|---|---|---|")
    rates = {}
    for job, rows, unit in (("embed", answers, "answers"), ("logs", tb_lines, "lines")):
        name = "embed 100M answers" if job == "embed" else f"logs 1 TB ({tb_lines:,} lines)"
        for variant, output in (("ray", "one file (driver writes)"), ("ray-parts", "folder of parts (workers write)")):
            runs = largest(job, variant)
            if not runs:
                continue
            r = min(rate(job, x, workers) for x in runs)
            rates[(job, variant)] = r
            par = rows / (r * total) / 3600
            serial, parts = 0.0, []
            if job == "logs":
                serial += merge_h
                parts.append(f"template merge <= {merge_h:.2f} h")
            overlap = 0.0  # embed one file: the driver writes beside the workers, so the slower of the two counts
            if variant == "ray" and job == "embed":
                # the driver's rate at writing this output: the local run's write (the same columns, after its embedding)
                w = min(x["rows"] / max(x["write"], 1e-9) for x in largest(job, "local"))
                overlap = rows / w / 3600
                parts.append(f"writing the one file at {w:,.0f} rows/s (the local run's write), beside the "
                             f"workers: {overlap:.2f} h")
            elif variant == "ray":
                w = min(x["rows"] / x["write"] for x in runs)
                serial += rows / w / 3600
                parts.append(f"writing the one time-sorted file at {w:,.0f} rows/s: {rows / w / 3600:.2f} h")
            else:
                parts.append("publishing the folder (a rename and a manifest)")
            print(f"| {name} | {output} | {r:,.0f} {unit}/s | {par:.2f} h | {'; '.join(parts)} "
                  f"| {max(par, overlap) + serial:.2f} h |")
    print(f"\nMerge costs on the driver: {per_new * 1e6:,.0f} us per new masked line, {per_hit * 1e6:.2f} us per "
          f"line seen before (8 loghub sets).")
    print("Cost per million rows (CPU-hours = 1e6 / per-worker rate / 3600): "
          + ", ".join(f"{job} {variant} {1e6 / r / 3600:.3f} CPU-h" for (job, variant), r in rates.items()) + ".")
    print(f"""
Assumptions: every node runs one worker per core at this machine's measured per-core rate
(the slowest run of the largest size, joined to a running Ray; cloud cores are usually
faster than these shared ones); the parallel part scales linearly (no shared state between
blocks or files; the object store spills to local disk); the input sits on storage every worker
reads at >= the aggregate rate; 1 TB of logs = {tb_lines:,} lines at ~150 bytes, as {shards:,} files;
the template merge is exact while the logs hold <= {cache:,} distinct masked lines (the local
miner's cache; beyond, the driver replays every (batch, line) as the local run does), bounded
here as if every file held all of them; the one output file is written by the driver at this
machine's measured rate (for `embed`, while the workers embed: the total is the slower of the two;
for `logs`, after them: the file is merged by time); a folder of parts is written by the workers (their rate above includes
it) to storage every worker reaches (shared storage on a cluster) at >= the aggregate rate, and
published by the driver with one rename; for `embed` the driver still reads the input once with
fieldkit's loaders (minutes for 100M short answers, not counted here).""")


if __name__ == "__main__":
    main()
