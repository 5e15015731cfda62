"""TUI benchmarks: paging a 1 GB CSV from disk, open-to-first-paint, and scroll latency (headless).

Each case runs in its own subprocess (clean imports, its own peak RSS). The paging section
runs the same user session (open, browse, End, sort a number, sort a text column, filter)
against this tree and against another checkout given with --before (for example main before
paging landed: `git -C /work/main archive b7dcc47 | tar -x -C /tmp/fk-before`), and prints
first paint and the peak RSS after each step side by side. The other sections compare with
textual-fastdatatable's Arrow-backed DataTable, which needs the whole frame read first. The
machine is shared with other engineers while this runs, so figures are noisy; ratios from
one run are what to read.

    python bench/bench_tui.py --before /tmp/fk-before            # all sections
    python bench/bench_tui.py --before /tmp/fk-before --sections pages
    python bench/bench_tui.py --csv BIG.csv --presses 100
    python bench/bench_tui.py --sections paint --runs 5                 # first paint only, as a range
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CSV = Path("/tmp/fieldkit_bench_tui_1gb.csv")
MILLION = Path("/tmp/fieldkit_bench_tui_1m.parquet")


def make_csv(path: Path, target_bytes: int = 1 << 30) -> None:
    """A 1 GB survey-like CSV, ~2.8M rows of ~380 bytes: ids, timestamps, categories, numbers, a 48-word answer."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    words = np.array(("water food clinic latrine market school road pump queue late far clean staff "
                      "price broken children night rain truck tank distribution women safety fee "
                      "chlorine taste smell borehole network leak repair committee").split())
    pool = np.array([" ".join(r) for r in words[rng.integers(0, len(words), (20_000, 48))].tolist()])
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("id,submitted,region,district,household_size,age,score,income,consent,comment\n")
        start, written = 0, 0
        while written < target_bytes:
            n = 100_000
            df = pl.DataFrame({
                "id": np.arange(start, start + n),
                "submitted": (np.datetime64("2019-01-01") + rng.integers(0, 10**8, n).astype("timedelta64[s]")).astype(str),
                "region": rng.choice(["north", "south", "east", "west", "centre"], n),
                "district": rng.choice([f"district-{i:02d}" for i in range(40)], n),
                "household_size": rng.integers(1, 12, n),
                "age": rng.integers(18, 90, n),
                "score": rng.normal(60, 12, n).round(3),
                "income": rng.lognormal(5, 1, n).round(2),
                "consent": rng.choice(["yes", "no"], n),
                "comment": pool[rng.integers(0, len(pool), n)],
            })
            text = df.write_csv(include_header=False)
            f.write(text)
            written += len(text.encode())
            start += n
    tmp.replace(path)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- cases (run in a subprocess)


def _hook_first_paint(out: dict, start) -> None:
    """Record `first_paint_s` after the refresh that follows the table's first model (its first rows)."""
    from fieldkit.tui.widgets.vtable import VirtualTable

    original = VirtualTable.set_model

    def set_model(self, model, keep_cursor: bool = False):
        original(self, model, keep_cursor)
        if "first_paint_s" not in out:
            self.call_after_refresh(lambda: out.setdefault("first_paint_s", time.perf_counter() - start()))

    VirtualTable.set_model = set_model


async def case_paint(csv: str, tree: str = "") -> dict:
    """Open `csv` and leave as soon as its first rows are painted: the first-paint figure alone."""
    if tree:
        sys.path.insert(0, tree)
    from fieldkit.tui.app import FieldkitApp

    assert not tree or Path(sys.modules["fieldkit"].__file__).resolve().is_relative_to(Path(tree).resolve())

    out: dict = {}
    _hook_first_paint(out, lambda: t0)
    t0 = time.perf_counter()
    app = FieldkitApp(csv)
    async with app.run_test(size=(120, 35)) as pilot:
        while "first_paint_s" not in out:
            await asyncio.sleep(0.01)
        await pilot.pause()
        app.exit()
    return out


async def case_fieldkit_open(csv: str) -> dict:
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.screens.dataset import DatasetScreen

    out: dict = {}
    _hook_first_paint(out, lambda: t0)
    t0 = time.perf_counter()
    app = FieldkitApp(csv)
    async with app.run_test(size=(120, 35)) as pilot:
        while not (isinstance(app.screen, DatasetScreen) and app.screen.loaded):
            await asyncio.sleep(0.02)
        await pilot.pause()
        out["all_rows_s"] = time.perf_counter() - t0
        out["rows"] = app.screen.model.base.height
    out["peak_rss_mb"] = rss_mb()
    return out


async def case_session(tree: str, csv: str) -> dict:
    """One user session on `csv` with the code of `tree`: first paint, then peak RSS after each step."""
    sys.path.insert(0, tree)
    from textual.widgets import Input

    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.screens.dataset import DatasetScreen
    from fieldkit.tui.widgets.vtable import VirtualTable

    assert Path(sys.modules["fieldkit"].__file__).resolve().is_relative_to(Path(tree).resolve())
    out: dict = {}
    _hook_first_paint(out, lambda: t0)

    async def until(pilot, done, limit: float = 900.0) -> float:
        start = time.perf_counter()
        while not done():
            if time.perf_counter() - start > limit:
                raise TimeoutError("step did not finish")
            await asyncio.sleep(0.05)
        await pilot.pause()
        return time.perf_counter() - start

    t0 = time.perf_counter()
    app = FieldkitApp(csv)
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DatasetScreen) and app.screen.loaded)
        out["ready_s"] = time.perf_counter() - t0
        out["open_mb"] = rss_mb()
        screen = app.screen
        table = screen.query_one(VirtualTable)
        table.focus()
        for _ in range(30):
            await pilot.press("pagedown")
        await pilot.press("end")
        await pilot.pause()
        out["last_row"] = screen.model.row_id(table.cursor_row)
        await pilot.press("home")
        out["browse_mb"] = rss_mb()
        for name, col in (("sort_number", "score"), ("sort_text", "comment")):
            table.move_to(col=screen.model.columns.index(col))
            await pilot.pause()
            await pilot.press("s")
            out[f"{name}_s"] = await until(pilot, lambda: screen.model.spec.sort_by == col)
            await pilot.press("end")
            out[f"{name}_mb"] = rss_mb()
        await pilot.press("f")
        await pilot.pause()
        where = "\"region\" = 'east' AND \"household_size\" > 6"
        app.screen.query_one(Input).value = where
        await pilot.press("enter")
        out["filter_s"] = await until(pilot, lambda: screen.model.spec.where == where)
        out["filter_rows"] = screen.model.row_count
        out["filter_mb"] = rss_mb()
    out["peak_rss_mb"] = rss_mb()
    return out


def run_session(tree: Path, csv: Path) -> dict:
    """The session in a fresh process whose imports come from `tree` (its own FIELDKIT_HOME, so no warm cache)."""
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="fk-bench-home-")
    try:
        cmd = [sys.executable, __file__, "--case", "session", str(tree), str(csv)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=tree,
                             env={**os.environ, "FIELDKIT_HOME": home, "PYTHONPATH": str(tree)})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_sessions(csv: Path, runs: list[tuple[str, dict]]) -> None:
    rows = [("first paint", "first_paint_s", "s"), ("all rows ready (paged: cache written)", "ready_s", "s"),
            ("peak RSS after open", "open_mb", "MB"), ("  + 30 PgDn, End, Home", "browse_mb", "MB"),
            ("  + sort by a number, End", "sort_number_mb", "MB"), ("  + sort by the text column, End", "sort_text_mb", "MB"),
            ("  + filter (region, household size)", "filter_mb", "MB"), ("sort by a number took", "sort_number_s", "s"),
            ("sort by text took", "sort_text_s", "s"), ("filter took", "filter_s", "s"), ("rows after the filter", "filter_rows", "")]
    print(f"one session on {csv.name} ({csv.stat().st_size / 1e9:.2f} GB), 130x40 headless")
    print(f"  {'':40}" + "".join(f"{name:>16}" for name, _ in runs))
    for label, key, unit in rows:
        cells = []
        for _, r in runs:
            v = r.get(key)
            cells.append(("error" if "error" in r else "-") if v is None else
                         (f"{v:,.2f} {unit}" if unit == "s" else f"{v:,.0f} {unit}".strip()))
        print(f"  {label:40}" + "".join(f"{c:>16}" for c in cells))
    for name, r in runs:
        if "error" in r:
            print(f"  {name}: {r['error']}")
    if len(runs) == 2 and all("peak_rss_mb" in r for _, r in runs):
        (a, ra), (b, rb) = runs
        print(f"  peak RSS: {a} / {b} = {ra['peak_rss_mb'] / rb['peak_rss_mb']:.2f}x;"
              f" first paint: {ra['first_paint_s']:.2f} s vs {rb['first_paint_s']:.2f} s")


async def case_fastdt_open(csv: str) -> dict:
    import polars as pl
    from textual.app import App
    from textual_fastdatatable import DataTable

    t0 = time.perf_counter()
    df = pl.read_csv(csv)  # the fast table needs the whole frame first

    class Viewer(App):
        def compose(self):
            yield DataTable(data=df)

    app = Viewer()
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        out = {"first_paint_s": time.perf_counter() - t0, "all_rows_s": time.perf_counter() - t0, "rows": df.height}
    out["peak_rss_mb"] = rss_mb()
    return out


async def _press_times(pilot, keys: list[str]) -> list[float]:
    times = []
    for k in keys:
        t = time.perf_counter()
        await pilot.press(k)
        await pilot.pause()
        times.append((time.perf_counter() - t) * 1000)
    return times


def _work_times(widget, actions: list[tuple[str, tuple]]) -> list[float]:
    """Time the work one key costs without Pilot's fixed sleeps: the action plus drawing every visible line."""
    times = []
    height = widget.size.height
    for name, args in actions:
        t = time.perf_counter()
        getattr(widget, name)(*args)
        for y in range(height):
            widget.render_line(y)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _keys(presses: int) -> list[str]:
    return ["pagedown"] * presses + ["down"] * presses + ["end", "home"] * 5


async def case_fieldkit_scroll(parquet: str, presses: int) -> dict:
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.widgets.vtable import VirtualTable

    app = FieldkitApp(parquet)
    async with app.run_test(size=(120, 35)) as pilot:
        while not getattr(app.screen, "loaded", False):
            await asyncio.sleep(0.02)
        await pilot.pause()
        table = app.screen.query_one(VirtualTable)
        table.focus()
        times = await _press_times(pilot, _keys(presses))
        rows = app.screen.model.row_count
        table.move_to(0)
        work = _work_times(table, [("action_page", (1,))] * presses + [("action_move", (1, 0))] * presses
                           + [("action_edge", (1,)), ("action_edge", (-1,))] * 5)
    return {"rows": rows, **_stats(times), **_stats(work, "work_"), "peak_rss_mb": rss_mb()}


async def case_fastdt_scroll(parquet: str, presses: int) -> dict:
    import polars as pl
    from textual.app import App
    from textual_fastdatatable import DataTable

    df = pl.read_parquet(parquet)

    class Viewer(App):
        def compose(self):
            yield DataTable(data=df)

    app = Viewer()
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        dt = app.query_one(DataTable)
        dt.focus()
        times = await _press_times(pilot, _keys(presses))
        dt.move_cursor(row=0, animate=False)
        await pilot.pause()
        work = _work_times(dt, [("action_page_down", ())] * presses + [("action_cursor_down", ())] * presses
                           + [("action_cursor_table_end", ()), ("action_cursor_table_start", ())] * 5)
    return {"rows": df.height, **_stats(times), **_stats(work, "work_"), "peak_rss_mb": rss_mb()}


def _stats(times: list[float], prefix: str = "") -> dict:
    s = sorted(times)
    return {f"{prefix}presses": len(s), f"{prefix}median_ms": statistics.median(s),
            f"{prefix}p95_ms": s[int(len(s) * 0.95) - 1], f"{prefix}max_ms": s[-1]}


async def case_first_screen(kind: str) -> dict:
    """Print a line the moment the first screen is painted (the parent times spawn -> line)."""
    if kind == "fieldkit":
        from fieldkit.tui.app import FieldkitApp

        app = FieldkitApp(None)
    else:  # the floor: an empty Textual app with one label
        from textual.app import App
        from textual.widgets import Label

        class Hello(App):
            def compose(self):
                yield Label("hello")

        app = Hello()
    async with app.run_test(size=(120, 35)) as pilot:
        app.call_after_refresh(lambda: print("PAINTED", flush=True))
        await pilot.pause()
    return {"onnxruntime_imported": "onnxruntime" in sys.modules}


def time_first_screen(kind: str, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, __file__, "--case", "first_screen", kind], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT)
        for line in p.stdout:
            if line.startswith("PAINTED"):
                times.append(time.perf_counter() - t)
                break
        p.wait()
    return statistics.median(times)


# ---------------------------------------------------------------- driver


def run_case(name: str, *args: str, timeout: int = 600) -> dict:
    cmd = [sys.executable, __file__, "--case", name, *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "FIELDKIT_HOME": os.environ.get("FIELDKIT_HOME", "/tmp/fk_bench_home")})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(DEFAULT_CSV))
    ap.add_argument("--presses", type=int, default=100)
    ap.add_argument("--case")
    ap.add_argument("--skip-fastdt-1gb", action="store_true", help="skip the slow alternative on the 1 GB file")
    ap.add_argument("--before", help="another checkout to run the paging session against (e.g. main before paging)")
    ap.add_argument("--sections", default="pages,first,open,scroll", help="also: paint (first paint only)")
    ap.add_argument("--runs", type=int, default=3, help="runs of the paint section")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    if a.case:
        fn = globals()[f"case_{a.case}"]
        extra = [int(x) if x.isdigit() else x for x in a.args]
        print(json.dumps(asyncio.run(fn(*extra))))
        return

    import polars as pl

    csv = Path(a.csv)
    if not csv.exists():
        print(f"making {csv} (1 GB)…", flush=True)
        make_csv(csv)
    sections = set(a.sections.split(","))
    if "paint" in sections:  # first paint only, runs alternating between the trees: ranges side by side
        trees = [("this tree", str(ROOT))] + ([(Path(a.before).name, a.before)] if a.before else [])
        times: dict[str, list[float]] = {name: [] for name, _ in trees}
        for _ in range(a.runs):
            for name, tree in trees:
                r = run_case("paint", str(csv), tree)
                if "error" in r:
                    raise SystemExit(f"first paint ({name}): {r['error']}")
                times[name].append(r["first_paint_s"])
        print(f"first paint of {csv.name} ({csv.stat().st_size / 1e9:.2f} GB), 120x35 headless, {a.runs} runs "
              f"(load average {os.getloadavg()[0]:.1f})")
        for name, t in times.items():
            print(f"  {name:24} {min(t):.2f}-{max(t):.2f} s (median {statistics.median(t):.2f})")
    if "pages" in sections:
        runs = [("this tree", run_session(ROOT, csv))]
        if a.before:
            runs.append((Path(a.before).name, run_session(Path(a.before), csv)))
        print_sessions(csv, runs)
        print()
    if not sections & {"first", "open", "scroll"}:
        return
    if not MILLION.exists():
        pl.scan_csv(csv).head(1_000_000).sink_parquet(MILLION)
    fk_first = time_first_screen("fieldkit")
    floor = time_first_screen("hello")
    print("process start -> first screen painted (median of 3, headless 120x35)")
    print(f"  fieldkit (file browser)     {fk_first:6.2f}s")
    print(f"  empty Textual app (floor)   {floor:6.2f}s   fieldkit / floor = {fk_first / floor:.2f}x\n")
    size_gb = csv.stat().st_size / 1e9
    print(f"open-to-first-paint, {csv.name} ({size_gb:.2f} GB), 120x35 headless")
    fk = run_case("fieldkit_open", str(csv))
    alt = {"error": "skipped"} if a.skip_fastdt_1gb else run_case("fastdt_open", str(csv), timeout=900)
    print(f"  {'':28}{'first paint':>12}{'all rows':>10}{'rows':>12}{'peak RSS':>10}")
    for name, r in (("fieldkit (VirtualTable)", fk), ("fastdatatable (read_csv)", alt)):
        if "error" in r:
            print(f"  {name:28}{r['error']}")
        else:
            print(f"  {name:28}{r['first_paint_s']:>11.2f}s{r['all_rows_s']:>9.2f}s{r['rows']:>12,}{r['peak_rss_mb']:>8.0f}MB")
    if "error" not in fk and "error" not in alt:
        print(f"  first paint: fieldkit is {alt['first_paint_s'] / fk['first_paint_s']:.1f}x faster")

    print(f"\nscroll latency, 1,000,000 rows ({MILLION.name}), {a.presses} PgDn + {a.presses} Down + 10 End/Home")
    fk = run_case("fieldkit_scroll", str(MILLION), str(a.presses))
    alt = run_case("fastdt_scroll", str(MILLION), str(a.presses))
    for label, pre in (("work per key (action + draw all visible lines)", "work_"),
                       ("Pilot round trip per key (includes Pilot's ~20 ms idle sleeps)", "")):
        print(f"  {label}")
        print(f"  {'':28}{'median':>10}{'p95':>10}{'max':>10}{'peak RSS':>10}")
        for name, r in (("fieldkit (VirtualTable)", fk), ("fastdatatable", alt)):
            if "error" in r:
                print(f"  {name:28}{r['error']}")
            else:
                print(f"  {name:28}{r[pre + 'median_ms']:>8.2f}ms{r[pre + 'p95_ms']:>8.2f}ms{r[pre + 'max_ms']:>8.2f}ms"
                      f"{r['peak_rss_mb']:>8.0f}MB")
        if "error" not in fk and "error" not in alt:
            print(f"  median: fastdatatable / fieldkit = {alt[pre + 'median_ms'] / fk[pre + 'median_ms']:.2f}x")
    print("\n(shared 2-core machine, other jobs running: figures are noisy)")


if __name__ == "__main__":
    main()
