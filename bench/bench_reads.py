"""How many times one `fieldkit themes` command opens and hashes its input file.

Runs the command in a subprocess and counts the Polars executions whose plan scans the input
(collect / collect_batches / sink_parquet after loading: each is a pass over the file), the full
sha256 passes (hashlib objects fed exactly the file's size) and, under `strace -f -e openat`,
every open of the file (the loader's sniffing and Polars' reader threads included). Cold = fresh FIELDKIT_HOME (no stamps, no
embedding cache); warm = the same command again. Two inputs: the file as it is (small: the
loader reads it into memory once) and a copy padded with a wide filler column past 32 MB, which
the loader scans in place, so every collect of the frame is another pass over the file.

    python bench/bench_reads.py [FILE COLUMN BY]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (Path(os.environ.get("FIELDKIT_SHARED", ROOT.parent / "shared")) / "data" / "coding"
           / "online_shopping_9cats_zh.csv", "review", "cat")

WRAPPER = r"""
import atexit, hashlib, os, sys
size = os.path.getsize(sys.argv[1])
real = hashlib.sha256
fed = []
class Counting:
    def __init__(self, data=b""):
        self._h = real(data); self.n = len(data); fed.append(self)
    def update(self, data):
        self.n += len(data); self._h.update(data)
    def __getattr__(self, name):
        return getattr(self._h, name)
hashlib.sha256 = Counting
import polars as pl
scans = []
def counting(name):
    real = getattr(pl.LazyFrame, name)
    def run(self, *a, **k):
        if sys.argv[1] in self.explain():
            scans.append(name)
        return real(self, *a, **k)
    setattr(pl.LazyFrame, name, run)
for name in ("collect", "collect_batches", "sink_parquet"):
    counting(name)
atexit.register(lambda: print(f"HASHES {sum(1 for h in fed if h.n == size)} SCANS {len(scans)}", file=sys.stderr))
from fieldkit.cli import main
main(["themes", sys.argv[1], "--column", sys.argv[2], "--by", sys.argv[3], "-o", sys.argv[4], "--k", "4"])
"""


def run(path: Path, column: str, by: str, home: Path, out: Path) -> tuple[int, int, int]:
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    home.mkdir(parents=True, exist_ok=True)
    trace = home.parent / "strace.txt"
    cmd = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace),
           sys.executable, "-c", WRAPPER, str(path), column, by, str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    opens = sum(1 for line in trace.read_text().splitlines()
                if str(path) in line and "= -1" not in line)
    m = re.search(r"HASHES (\d+) SCANS (\d+)", proc.stderr)
    return opens, int(m.group(1)), int(m.group(2))


def main() -> None:
    path, column, by = (Path(sys.argv[1]), sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else DEFAULT
    if shutil.which("strace") is None:
        raise SystemExit("needs strace")
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out.parquet"
        src = Path(tmp) / path.name  # a private copy: its stamp and caches start empty
        shutil.copyfile(path, src)
        big = Path(tmp) / f"padded-{path.name}"
        _pad(src, big, 36 << 20)
        for f in (src, big):
            for label in ("cold", "warm"):
                opens, hashes, scans = run(f, column, by, home, out)
                print(f"{f.name} ({f.stat().st_size / 1e6:.1f} MB) {label}: {scans} Polars scans of the "
                      f"file (the loader's 500-row sample included), {hashes} sha256 passes, {opens} opens in all (loader sniffing "
                      f"and Polars threads included)")


def _pad(src: Path, dst: Path, size: int) -> None:
    """The same rows plus a filler column, so the file passes `size` bytes (scanned in place)."""
    import polars as pl

    df = pl.read_csv(src)
    width = size // max(df.height, 1) + 1
    df.with_columns(pl.lit("x" * width).alias("filler")).write_csv(dst)


if __name__ == "__main__":
    main()
