"""Hostile runs of the real CLI, each in its own process: the count issue 14 asks for.

    python bench/bench_hostile.py [--only SUBSTRING]

Each case makes its own bad input in a scratch folder, runs `python -m fieldkit ...`, and is
judged on: a traceback or "internal error" on stderr, the exit code (2 for bad input, 0 where
the input is odd but readable, 130/143 for signals), files left behind (temporary files, or
an output at -o after a failed run), and raw control characters from the data on the
terminal. Prints one line per failed check and the totals; all but "cases tried" should be 0.
Full-disk and unreachable-folder cases need root (tmpfs mount, setpriv) and are skipped otherwise.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
OUT = "OUT.parquet"


@dataclass
class Case:
    name: str
    args: list[str]
    expect: tuple[int, ...] = (2,)
    env: dict = field(default_factory=dict)
    prefix: tuple = ()
    signal_after: str | None = None  # "partial": send the signal once a temp output exists
    sig: int = signal.SIGTERM
    no_escape: bool = False  # stdout/stderr must hold no raw control character from the data


def make_inputs(d: Path) -> None:
    """Every bad file the cases use."""
    w = lambda name, data: (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())  # noqa: E731
    w("ok.csv", "id,text\n1,water pump broken\n2,clinic far away\n3,water pump broken\n")
    w("esc.csv", 'id,text\n1,"clear \x1b[2J\x1b]0;title\x07 x"\n2,"link \x1b]8;;http://e\x1b\\\\y\x1b]8;;\x1b\\\\"\n'
                 '3,"csi \x9b31m bidi \u202eexe"\n4,"clear \x1b[2J\x1b]0;title\x07 x"\n')
    w("empty.csv", b"")
    w("blank.csv", "\n\n   \n")
    w("header_only.csv", "a,b,c\n")
    w("nulls.csv", "id,t\n1,\n2,\n3,\n")
    w("blank.log", "\n\n  \n")
    w("deep.json", "[" * 200_000 + "]" * 200_000)
    w("bigint.json", '[{"a": ' + "9" * 45 + "}]")
    w("hugeint.json", '[{"a": ' + "9" * 5000 + "}]")
    w("string.json", '"just a string"')
    w("empty_array.json", "[]")
    w("cut.json", '[{"a": 1}, {"a": ')
    w("bigint.ndjson", '{"a": 1}\n{"a": ' + "9" * 45 + "}\n")
    w("broken.ndjson", '{"a": 1}\n{"a": \n{"a": 3}\n')
    w("utf8.csv", "id,text\n1,café\n2,naïve\n")
    w("mixed.csv", "id,text\n1,café au lait\n2,naïve\n3,Zürich\n".encode() + b"4,cr\xe8me\n")
    w("png.csv", b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    w("pdf.csv", b"%PDF-1.4\n" + os.urandom(200))
    w("elf.csv", b"\x7fELF" + os.urandom(200))
    w("sqlite.csv", b"SQLite format 3\x00" + os.urandom(200))
    w("random.bin", os.urandom(4096))
    w("fake.parquet", "id,text\n1,x\n")
    w("fake.xlsx", "id,text\n1,x\n")
    import polars as pl

    pl.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"]}).write_parquet(d / "good.parquet")
    raw = (d / "good.parquet").read_bytes()
    w("cut.parquet", raw[: len(raw) // 2])
    pl.DataFrame({"id": [1, 2, 3], "embedding": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}).write_parquet(
        d / "arr.parquet")
    pl.DataFrame({"id": [1, 2], "s": [{"a": 1}, {"a": 2}]}).write_parquet(d / "struct.parquet")
    pl.DataFrame({"id": [1, 2, 3], "text": ["x", "y", "z"]}).write_ipc(d / "good.arrow")
    w("cut.arrow", (d / "good.arrow").read_bytes()[:200])
    with zipfile.ZipFile(d / "good.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    w("cut.xlsx", (d / "good.xlsx").read_bytes()[:40])
    w("plain.zip", b"")
    with zipfile.ZipFile(d / "plain.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    with gzip.open(d / "ok.csv.gz", "wb") as g:
        g.write((d / "ok.csv").read_bytes())
    w("cut.csv.gz", (d / "ok.csv.gz").read_bytes()[:20])
    w("empty.csv.gz", gzip.compress(b""))
    big = b"id,text\n" + (b"1," + b"a" * 100 + b"\n") * 20_000  # 2 MB, shrinks ~100x+
    for name, comp in (("bomb.csv.gz", gzip.compress), ("bomb.csv.bz2", bz2.compress),
                       ("bomb.csv.xz", lzma.compress)):
        w(name, comp(big))
    import zstandard

    w("bomb.csv.zst", zstandard.ZstdCompressor().compress(big))
    shutil.copy(d / "bomb.csv.gz", d / "bomb.log.gz")
    shutil.copy(d / "bomb.csv.zst", d / "bomb.log.zst")
    line = b"1," + b"a" * 100 + b"\n"
    with gzip.open(d / "ratio_bomb.csv.gz", "wb", compresslevel=6) as g, \
            zstandard.ZstdCompressor().stream_writer(open(d / "ratio_bomb.csv.zst", "wb")) as z:
        for out in (g, z):
            out.write(b"id,text\n")
        for _ in range(80):  # 81 MB of rows, under 100 KB compressed
            for out in (g, z):
                out.write(line * 10_000)
    for name in ("bomb.xlsx", "bomb.ods"):
        with zipfile.ZipFile(d / name, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("content.xml" if name.endswith("ods") else "xl/worksheets/sheet1.xml",
                       b"<row><c>x</c></row>" * 200_000)
            z.writestr("xl/workbook.xml", "<workbook/>")
    (d / "loop1").symlink_to(d / "loop2")
    (d / "loop2").symlink_to(d / "loop1")
    (d / "dangling.csv").symlink_to(d / "nowhere.csv")
    os.mkfifo(d / "fifo.csv")
    (d / "adir").mkdir()
    (d / "locked").mkdir()
    w("locked/f.csv", "a,b\n1,2\n")
    (d / "locked").chmod(0o000)
    ro = d / "ro.parquet"
    pl.DataFrame({"old": [1]}).write_parquet(ro)
    ro.chmod(0o444)
    # model store attacks
    for mid, fname, content in (("../../victim", ".bashrc", b"pwned"), ("evil-name", "../x.onnx", b"x"),
                                ("linky", "model.onnx", None)):
        m = d / f"model_{abs(hash(mid)) % 1000}"
        m.mkdir()
        if content is None:
            (m / fname).symlink_to("/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd")
            content = (m / fname).read_bytes()
        elif "/" not in fname:
            (m / fname).write_bytes(content)
        (m / "fieldkit-model.json").write_text(json.dumps({"id": mid, "task": "embed", "format": "onnx", "files": [
            {"name": fname, "sha256": hashlib.sha256(content).hexdigest()}]}))
    w("tiny.gguf", b"GGUF\x03\x00\x00\x00")
    w("junk.gguf", os.urandom(64))
    lines = "id,name,score,comment\n" + "".join(
        f"{i},name {i % 977},{i * 0.37:.3f},comment number {i} about the water point\n" for i in range(400_000))
    w("mid.csv", lines)


def cases(d: Path, full: Path | None) -> list[Case]:
    c: list[Case] = []
    add = lambda name, *args, expect=(2,), **kw: c.append(Case(name, list(args), expect, **kw))  # noqa: E731
    # unreadable or odd paths
    for name in ("missing.csv", "adir", "fifo.csv", "/dev/zero", "/dev/null", "loop1", "dangling.csv",
                 "empty.csv", "blank.csv", "random.bin", "png.csv", "pdf.csv", "elf.csv", "sqlite.csv",
                 "fake.parquet", "fake.xlsx", "cut.parquet", "cut.arrow", "cut.xlsx", "plain.zip",
                 "cut.csv.gz", "empty.csv.gz", "deep.json", "hugeint.json", "string.json",
                 "empty_array.json", "cut.json", "bigint.ndjson", "blank.log"):
        if name == "adir":
            add(f"summarize {name}", "summarize", name)
            continue
        add(f"inspect {name}", "inspect", name)
        add(f"convert {name}", "convert", name, "-o", OUT)
    if IS_ROOT and shutil.which("setpriv"):
        add("inspect file in unreachable folder", "inspect", "locked/f.csv",
            prefix=(shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search"))
    add("inspect bigint.json (kept as text)", "inspect", "bigint.json", expect=(0,))
    add("inspect header_only.csv", "inspect", "header_only.csv", expect=(0,))
    add("inspect mixed.csv (repaired)", "inspect", "mixed.csv", expect=(0,))
    add("inspect ok.csv.gz", "inspect", "ok.csv.gz", expect=(0,))
    add("inspect struct.parquet", "inspect", "struct.parquet", expect=(0,))
    # encodings forced by the user
    for enc in ("utf-16", "utf-32", "utf-16-be", "utf-32-le", "idna", "rot13", "base64", "hex", "zlib",
                "punycode", "no-such-codec", "unicode_escape"):
        add(f"--encoding {enc}", "inspect", "utf8.csv", "--encoding", enc)
    # columns that are not text
    for cmd, extra in (("embed", ["-o", OUT]), ("search", ["-q", "x"]), ("themes", []),
                       ("dupes", ["--exact"]), ("summarize", [])):
        add(f"{cmd} on an array column", cmd, "arr.parquet", "-c", "embedding", *extra)
        add(f"{cmd} on a struct column", cmd, "struct.parquet", "-c", "s", *extra)
    add("dupes all-null column", "dupes", "nulls.csv", "-c", "t", "--exact")
    add("themes all-null column", "themes", "nulls.csv", "-c", "t")
    add("logs blank log", "logs", "blank.log", "-o", OUT)
    add("logs fifo", "logs", "fifo.csv", "-o", OUT)
    add("themes --k 100000 (capped, no warning)", "themes", "ok.csv", "-c", "text", "--k", "100000", expect=(0,))
    add("themes --k 0", "themes", "ok.csv", "-c", "text", "--k", "0")
    add("dupes --threshold 2", "dupes", "ok.csv", "-c", "text", "--threshold", "2")
    add("--sheet on a csv", "inspect", "ok.csv", "--sheet", "x")
    add("missing --column", "embed", "ok.csv", "-o", OUT)
    add("unknown column", "dupes", "ok.csv", "-c", "nope", "--exact")
    add("unknown option", "inspect", "ok.csv", "--nope")
    add("unknown model", "embed", "ok.csv", "-c", "text", "--model", "nope", "-o", OUT)
    # outputs
    add("-o is a folder", "convert", "ok.csv", "-o", "adir")
    add("-o in a missing folder", "convert", "ok.csv", "-o", "no/such/out.parquet")
    add("-o not .parquet", "convert", "ok.csv", "-o", "out.csv")
    add("-o read-only existing", "convert", "ok.csv", "-o", "ro.parquet")
    # bombs (limits lowered so the cases stay small and fast)
    for name in ("bomb.csv.gz", "bomb.csv.bz2", "bomb.csv.xz", "bomb.csv.zst"):
        add(f"bomb {name}", "inspect", name, env={"FIELDKIT_MAX_DECOMPRESSED": "1M"})
    add("bomb real.csv.gz by ratio (default limits)", "inspect", "ratio_bomb.csv.gz")
    add("bomb real.csv.zst by ratio (default limits)", "inspect", "ratio_bomb.csv.zst")
    for name in ("bomb.xlsx", "bomb.ods"):
        add(f"bomb {name}", "inspect", name, env={"FIELDKIT_MAX_DECOMPRESSED": "1M"})
    for name in ("bomb.log.gz", "bomb.log.zst"):
        add(f"logs {name}", "logs", name, "-o", OUT, env={"FIELDKIT_MAX_DECOMPRESSED": "1M"})
    # terminal escapes from data
    for args in (["inspect", "esc.csv", "--head", "4"], ["inspect", "esc.csv", "--json", "--head", "4"],
                 ["dupes", "esc.csv", "-c", "text", "--exact"], ["search", "esc.csv", "-c", "text", "-q", "x"],
                 ["summarize", "esc.csv", "-c", "text"], ["themes", "esc.csv", "-c", "text", "--k", "2"],
                 ["dupes", "esc.csv", "-c", "te\x1b[2Jxt", "--exact"]):
        add("escapes: " + " ".join(a.replace("\x1b", "ESC") for a in args[:3]), *args,
            expect=(2,) if any("te\x1b" in a for a in args) else (0,), no_escape=True)
    # model store
    for m in sorted(d.glob("model_*")):
        add(f"models prepare --from {m.name}", "models", "prepare", "--from", str(m))
    add("models prepare --from tiny.gguf", "models", "prepare", "--from", "tiny.gguf")
    add("models prepare --from junk.gguf", "models", "prepare", "--from", "junk.gguf")
    add("models prepare unknown id", "models", "prepare", "nope-model", "--from", "adir")
    # signals
    add("SIGTERM mid-convert", "convert", "mid.csv", "-o", OUT, "--progress", expect=(143,),
        signal_after="partial", sig=signal.SIGTERM)
    add("SIGINT mid-convert", "convert", "mid.csv", "-o", OUT, "--progress", expect=(130,),
        signal_after="partial", sig=signal.SIGINT)
    # full disk
    if full is not None:
        add("search with FIELDKIT_HOME on a full disk", "search", "mid.csv", "-c", "comment", "-q", "x",
            env={"FIELDKIT_HOME": str(full / "home")})
        add("convert -o on a full disk", "convert", "mid.csv", "-o", str(full / "out.parquet"))
    return c


def leftovers(*folders: Path) -> list[str]:
    out = []
    for folder in folders:
        for p in folder.rglob("*") if folder.exists() else []:
            if p.is_file() and (p.name.startswith((".fieldkit-tmp-", ".emb-")) or p.suffix == ".tmp"):
                out.append(str(p))
    return out


RAW = [chr(c) for c in (*range(0, 9), *range(11, 32), 0x7F, *range(0x80, 0xA0))] + ["\u202e"]


def run_case(case: Case, d: Path, home: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDKIT_HOME": str(home), **case.env}
    out_path = d / OUT
    if out_path.exists():
        out_path.unlink()
    cmd = [*case.prefix, sys.executable, "-m", "fieldkit", *case.args]
    if case.signal_after:
        proc = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not any(
                p.name.startswith(".fieldkit-tmp-") and p.stat().st_size > 0 for p in d.iterdir()):
            time.sleep(0.005)
        proc.send_signal(case.sig)
        out, err = proc.communicate(timeout=300)
        code = proc.returncode
    else:
        try:
            r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, timeout=600)
            out, err, code = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            return {"traceback": False, "wrong_code": True, "left": [], "raw": False, "code": "timeout",
                    "err": ""}
    out_s, err_s = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    left = leftovers(d, home, *(Path(v).parent for k, v in case.env.items() if k == "FIELDKIT_HOME"))
    if code != 0 and out_path.exists():
        left.append(str(out_path))
    raw = case.no_escape and any(ch in out_s + err_s for ch in RAW if ch not in "\r")
    return {"traceback": "Traceback" in err_s or "internal error" in err_s,
            "wrong_code": code not in case.expect, "left": left, "raw": raw, "code": code,
            "err": err_s.strip().splitlines()[-2:] if err_s.strip() else []}


def tiny_disk(base: Path) -> Path | None:
    if not IS_ROOT or shutil.which("mount") is None:
        return None
    mnt = base / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        return None
    (mnt / "filler").write_bytes(b"\0" * (1900 * 1024))
    return mnt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fk-hostile-") as tmp:
        base = Path(tmp)
        d = base / "work"
        d.mkdir()
        make_inputs(d)
        full = tiny_disk(base)
        try:
            todo = [c for c in cases(d, full) if args.only in c.name]
            totals = {"tried": 0, "tracebacks": 0, "wrong exit codes": 0, "files left behind": 0,
                      "raw escapes": 0}
            t0 = time.monotonic()
            for case in todo:
                home = base / "home"
                res = run_case(case, d, home)
                totals["tried"] += 1
                totals["tracebacks"] += res["traceback"]
                totals["wrong exit codes"] += res["wrong_code"]
                totals["files left behind"] += bool(res["left"])
                totals["raw escapes"] += res["raw"]
                if res["traceback"] or res["wrong_code"] or res["left"] or res["raw"]:
                    print(f"FAIL {case.name!r}: exit {res['code']} (want {case.expect}) "
                          f"left={res['left'][:2]} raw={res['raw']} {res['err']}")
                for p in leftovers(d, home):
                    Path(p).unlink()
        finally:
            (d / "locked").chmod(0o755)
            if full is not None:
                subprocess.run(["umount", "-l", str(full)], capture_output=True)
    print(f"\n{len(todo)} cases in {time.monotonic() - t0:.0f} s "
          f"(full-disk cases: {'yes' if full else 'skipped, needs root'})")
    width = max(len(k) for k in totals)
    for k, v in totals.items():
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
