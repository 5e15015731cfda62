"""How many times one `fieldkit themes` command opens and hashes its input file.

Runs the command in a subprocess under `strace -f -e trace=openat` (every open of the input by
Polars, by the loader's sniffing or by a hash) and counts the full sha256 passes over the file
(hashlib objects fed exactly the file's size). Cold = fresh FIELDKIT_HOME (no stamps, no
embedding cache); warm = the same command again.

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
DEFAULT = (ROOT.parent / "shared" / "data" / "coding" / "online_shopping_9cats_zh.csv", "review", "cat")

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
atexit.register(lambda: print(f"HASHES {sum(1 for h in fed if h.n == size)}", file=sys.stderr))
from fieldkit.cli import main
main(["themes", sys.argv[1], "--column", sys.argv[2], "--by", sys.argv[3], "-o", sys.argv[4], "--k", "4"])
"""


def run(path: Path, column: str, by: str, home: Path, out: Path) -> tuple[int, int]:
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
    hashes = int(re.search(r"HASHES (\d+)", proc.stderr).group(1))
    return opens, hashes


def main() -> None:
    path, column, by = (Path(sys.argv[1]), sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else DEFAULT
    if shutil.which("strace") is None:
        raise SystemExit("needs strace")
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out.parquet"
        src = Path(tmp) / path.name  # a private copy: its stamp and caches start empty
        shutil.copyfile(path, src)
        for label in ("cold", "warm"):
            opens, hashes = run(src, column, by, home, out)
            print(f"{label}: input opened {opens} times, hashed {hashes} times "
                  f"({path.name}, themes --column {column} --by {by})")


if __name__ == "__main__":
    main()
