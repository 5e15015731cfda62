"""Hostile input, end to end (issue 14): every case gets one `error:` line and the promised exit
code, nothing raw from the data reaches the terminal, and nothing is left behind."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest

from fieldkit.cli import main
from tests.conftest import ROOT, SAMPLE_DATA

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def fk(*args: str, home: Path, cwd: Path | None = None, env: dict | None = None,
       prefix: tuple[str, ...] = (), timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command in a subprocess (signals, FIFOs and permissions need a process)."""
    full_env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "fieldkit", *args], cwd=cwd or ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_clean_error(code: int, err: str, expected: int = 2) -> None:
    assert code == expected, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(("error: ", "hint: "))]
    assert [ln[:5] for ln in lines] == ["error", "hint:"], err  # progress lines may come first


def leftovers(*folders: Path) -> list[str]:
    """Temporary files a run may leave: atomic-write temps, embedding and io cache temps."""
    found = []
    for folder in folders:
        if folder.exists():
            for p in folder.rglob("*"):
                if p.is_file() and (p.name.startswith((".fieldkit-tmp-", ".emb-")) or p.suffix == ".tmp"):
                    found.append(str(p))
    return found


# ----------------------------------------------------------------------------- 4. terminal escapes

ESC_ROWS = ("id,text\n"
            '1,"clear \x1b[2J\x1b]0;pwned\x07 title"\n'
            '2,"link \x1b]8;;http://evil\x1b\\\\here\x1b]8;;\x1b\\\\ end"\n'
            '3,"csi \x9b31m and bidi \u202etxt.exe"\n'
            '4,"clear \x1b[2J\x1b]0;pwned\x07 title"\n')


@pytest.fixture
def esc_csv(tmp_path) -> Path:
    p = tmp_path / "esc.csv"
    p.write_text(ESC_ROWS, encoding="utf-8")
    return p


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text


def test_inspect_and_dupes_print_cells_escaped(capsys, fk_home, esc_csv):
    code, out, err = run(capsys, "inspect", str(esc_csv), "--head", "4")
    assert code == 0, err
    _no_raw_controls(out + err)
    assert "\u241b[2J\u241b]0;pwned\u2407" in out and "\\x9b31m" in out and "\\u202e" in out
    code, out, err = run(capsys, "dupes", str(esc_csv), "-c", "text", "--exact")
    assert code == 0, err
    _no_raw_controls(out + err)
    assert "\u241b[2J" in out


def test_json_output_escapes_c1_and_bidi_validly(capsys, fk_home, esc_csv):
    code, out, _ = run(capsys, "inspect", str(esc_csv), "--json", "--head", "4")
    assert code == 0
    _no_raw_controls(out)
    info = json.loads(out)  # still valid JSON after escaping, and the text comes back whole
    assert info["rows"] == 4
    assert [r["text"] for r in info["preview"]][2] == "csi \x9b31m and bidi \u202etxt.exe"


def test_search_and_error_lines_escape_data(capsys, fk_home, esc_csv):
    code, out, err = run(capsys, "search", str(esc_csv), "-c", "text", "-q", "title")
    assert code == 0, err
    _no_raw_controls(out + err)
    # a column name from the user/data inside an error line
    code, out, err = run(capsys, "dupes", str(esc_csv), "-c", "te\x1b[2Jxt", "--exact")
    assert code == 2
    _no_raw_controls(err)


def test_cli_output_escapes_controls_but_keeps_lines():
    from fieldkit.cli.output import safe, safe_json

    assert safe("a\x1b[2Jb\nc\rd") == "a\u241b[2Jb\nc\u23ced"
    assert safe("caf\u00e9 \u4e2d\u6587 \u202e") == "caf\u00e9 \u4e2d\u6587 \\u202e"
    assert json.loads(safe_json(json.dumps({"a": "\x9b\u202e"}, ensure_ascii=False))) == {"a": "\x9b\u202e"}
    assert "\x9b" not in safe_json(json.dumps({"a": "\x9b"}, ensure_ascii=False))


# ----------------------------------------------------------------------------- 10. exit codes


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    d = tmp_path
    (d / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (d / "bigint.json").write_text('[{"a": ' + "9" * 45 + ', "b": 1}]')
    (d / "hugeint.json").write_text('[{"a": ' + "9" * 5000 + "}]")
    (d / "blank.log").write_text("\n\n   \n\t\n")
    (d / "nulls.csv").write_text("id,t\n1,\n2,\n3,\n")
    (d / "utf8.csv").write_text("id,text\n1,caf\u00e9\n2,hello\n", encoding="utf-8")
    pl.DataFrame({"id": [1, 2, 3], "embedding": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}).write_parquet(
        d / "arr.parquet")
    (d / "loop1").symlink_to(d / "loop2")
    (d / "loop2").symlink_to(d / "loop1")
    os.mkfifo(d / "fifo.csv")
    return {p.name: p for p in d.iterdir()}


@pytest.mark.parametrize("args", [
    ("inspect", "deep.json"),
    ("inspect", "hugeint.json"),
    ("inspect", "blank.log"),
    ("logs", "blank.log", "-o", "OUT"),
    ("dupes", "nulls.csv", "-c", "t", "--exact"),
    ("themes", "nulls.csv", "-c", "t"),
    ("inspect", "fifo.csv"),
    ("inspect", "/dev/zero"),
    ("inspect", "loop1"),
    ("convert", "loop1", "-o", "OUT"),
    *[("inspect", "utf8.csv", "--encoding", e) for e in
      ("utf-16", "utf-32", "idna", "rot13", "base64", "utf-16-le", "utf-32-be", "hex")],
    *[(cmd, "arr.parquet", "-c", "embedding", *extra) for cmd, extra in
      (("embed", ("-o", "OUT")), ("search", ("-q", "x")), ("themes", ()), ("dupes", ("--exact",)),
       ("summarize", ()))],
])
def test_bad_input_exits_2_with_one_line(capsys, fk_home, bad_inputs, tmp_path, args):
    argv = [str(bad_inputs[a]) if a in bad_inputs else a for a in args]
    argv = [str(tmp_path / "out.parquet") if a == "OUT" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert_clean_error(code, err)
    assert not (tmp_path / "out.parquet").exists()
    if "/dev/zero" in args or "fifo.csv" in args:
        assert "empty" not in err
    if "loop1" in args:
        assert "does not exist" not in err and "loop" in err


def test_big_json_integers_are_kept_as_text(capsys, fk_home, bad_inputs):
    code, out, err = run(capsys, "inspect", str(bad_inputs["bigint.json"]), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert {c["name"]: c["dtype"] for c in info["columns"]} == {"a": "String", "b": "Int64"}
    assert any("too large for 64 bits" in n for n in info["notes"])


def test_read_only_existing_output_is_refused_untouched(capsys, fk_home, bad_inputs, tmp_path):
    out = tmp_path / "ro.parquet"
    pl.DataFrame({"old": [1]}).write_parquet(out)
    before = out.read_bytes()
    out.chmod(0o444)
    code, _, err = run(capsys, "convert", str(bad_inputs["utf8.csv"]), "-o", str(out))
    assert_clean_error(code, err)
    assert "read-only" in err and out.read_bytes() == before


def test_forced_k_beyond_distinct_answers_prints_no_library_warning(fk_home, tmp_path):
    r = fk("themes", str(SAMPLE_DATA / "kobo_water_survey.csv"), "-c", "feedback/comment",
           "--k", "100000", home=fk_home)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "sklearn" not in r.stderr
    assert "capped at" in r.stdout


def _without_dac(prefix_needed: bool) -> tuple[str, ...]:
    """Run as root without the capability that ignores file permissions (else chmod is moot)."""
    if not prefix_needed:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


def test_file_in_folder_that_cannot_be_entered(fk_home, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f.csv").write_text("a,b\n1,2\n")
    locked.chmod(0o000)
    try:
        r = fk("inspect", str(locked / "f.csv"), home=fk_home, prefix=_without_dac(IS_ROOT))
    finally:
        locked.chmod(0o755)
    assert_clean_error(r.returncode, r.stderr)
    assert "permission denied" in r.stderr


# ----------------------------------------------------------------------------- 7. signals


@pytest.fixture(scope="module")
def mid_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sig") / "mid.csv"
    with open(p, "w") as f:
        f.write("id,name,score,comment\n")
        for i in range(600_000):
            f.write(f"{i},name {i % 977},{i * 0.37:.3f},comment number {i} about the water point\n")
    return p


def test_sigterm_mid_convert_exits_143_and_leaves_nothing(tmp_path, mid_csv):
    out = tmp_path / "out.parquet"
    env = {**os.environ, "FIELDKIT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "fieldkit", "convert", str(mid_csv), "-o", str(out),
                             "--progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".fieldkit-tmp-") and p.stat().st_size > 0
                  for p in tmp_path.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"convert ended before SIGTERM: {proc.communicate()}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, (proc.returncode, err)
    assert "Traceback" not in err and "cancelled" in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_interrupt_while_still_importing_prints_one_line(tmp_path):
    # the command's own module installs a quiet handler before its heavy imports
    code = ("import sys; sys.argv = ['fieldkit', 'inspect', 'x']\n"
            "import os, signal, fieldkit.cli, time\n"
            "os.kill(os.getpid(), signal.SIGINT); time.sleep(10)\n")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 130
    assert r.stderr == "error: cancelled; nothing was written\n"


def test_interrupt_right_after_the_rename_finishes_normally(capsys, fk_home, tmp_path, monkeypatch):
    import fieldkit.store.parquet as store

    real = store.mark_output_committed

    def commit_then_interrupt():
        real()
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C lands just after the output is in place
        time.sleep(0.05)

    monkeypatch.setattr(store, "mark_output_committed", commit_then_interrupt)
    monkeypatch.setattr("fieldkit.progress._committed", __import__("threading").Event())
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n")
    out = tmp_path / "out.parquet"
    code, stdout, err = run(capsys, "convert", str(src), "-o", str(out))
    assert code == 0, err
    assert "wrote" in stdout and pl.read_parquet(out).height == 1


# ----------------------------------------------------------------------------- 5/6. full disk


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs, almost filled (root only; elsewhere the test is skipped with the reason)."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs for the full-disk case")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        (mnt / "filler").write_bytes(b"\0" * (1900 * 1024))
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture(scope="module")
def answers_csv(tmp_path_factory) -> Path:
    words = ["water", "pump", "clinic", "road", "school", "price", "market", "rain", "harvest", "staff"]
    p = tmp_path_factory.mktemp("ans") / "answers.csv"
    lines = ["id,text"] + [f"{i}," + " ".join(words[(i * k) % 10] for k in range(1, 8)) for i in range(3000)]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_full_disk_under_fieldkit_home_is_one_error_not_sigbus(tiny_disk, answers_csv):
    home = tiny_disk / "home"
    for args in (("search", str(answers_csv), "-c", "text", "-q", "water"),
                 ("themes", str(answers_csv), "-c", "text")):
        r = fk(*args, home=home)
        assert_clean_error(r.returncode, r.stderr)
        assert str(home / "cache" / "embeddings") in r.stderr and "space" in r.stderr
        assert leftovers(tiny_disk) == []


def test_enospc_while_writing_the_cache_is_one_error(fk_home, answers_csv, monkeypatch):
    """Free space looked fine, then the disk filled during the write: same clean error."""
    import errno
    from collections import namedtuple

    import fieldkit.analysis.embeddings as emb
    from fieldkit.errors import OutputError
    from fieldkit.io import load_dataset

    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(1 << 40, 0, 1 << 40))
    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            if len(data) > 1000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(emb, "open", lambda *a, **k: FullFile(real_open(*a, **k)), raising=False)
    ds = load_dataset(answers_csv)
    with pytest.raises(OutputError, match="no space left for the embedding cache"):
        emb.embed_column(ds, "text")
    assert leftovers(fk_home) == []


def test_convert_on_full_disk_blames_the_output(tiny_disk, tmp_path):
    import random

    rng = random.Random(2)
    src = tmp_path / "rand.csv"
    src.write_text("id,text\n" + "".join(f"{i},{rng.getrandbits(256):x}\n" for i in range(40_000)))
    for flags in ((), ("--progress",)):
        r = fk("convert", str(src), "-o", str(tiny_disk / "out.parquet"), *flags, home=tmp_path / "h")
        assert_clean_error(r.returncode, r.stderr)
        assert "output disk" in r.stderr and "could not read the input" not in r.stderr
        assert leftovers(tiny_disk) == [] and not (tiny_disk / "out.parquet").exists()


# ----------------------------------------------------------------------------- 3. bombs


def _rows(n_blocks: int):
    line = b"1," + b"a" * 100 + b"\n"
    yield b"id,text\n"
    for _ in range(n_blocks):
        yield line * 10_000


def test_gzip_and_zstd_ratio_bombs_are_refused(fk_home, tmp_path):
    import zstandard

    gz, zst = tmp_path / "bomb.csv.gz", tmp_path / "bomb.csv.zst"
    with gzip.open(gz, "wb", compresslevel=6) as w:
        for b in _rows(80):  # 81 MB of rows in ~80 KB
            w.write(b)
    with zstandard.ZstdCompressor(level=3).stream_writer(open(gz.with_suffix(".zst"), "wb")) as w:
        for b in _rows(80):
            w.write(b)
    gz.with_suffix(".zst").rename(zst)
    for p in (gz, zst):
        r = fk("inspect", str(p), home=fk_home)
        assert_clean_error(r.returncode, r.stderr)
        assert "decompression bomb" in r.stderr and "FIELDKIT_MAX_RATIO=" in r.stderr
        assert leftovers(fk_home) == [] and not list((fk_home / "cache" / "io").glob("*.csv"))
    r = fk("inspect", str(gz), home=fk_home, env={"FIELDKIT_MAX_RATIO": "100000"})
    assert r.returncode == 0 and "800,000" in r.stdout  # the limit can be raised for a real file


def test_bzip2_and_xz_size_limit(fk_home, tmp_path):
    for name, opener in (("b.csv.bz2", bz2.open), ("b.csv.xz", lzma.open)):
        p = tmp_path / name
        with opener(p, "wb") as w:
            for b in _rows(2):
                w.write(b)
        ok = fk("inspect", str(p), home=fk_home)
        assert ok.returncode == 0 and "20,000" in ok.stdout, ok.stderr
        p2 = tmp_path / ("x" + name)
        shutil.copy(p, p2)
        r = fk("inspect", str(p2), home=fk_home, env={"FIELDKIT_MAX_DECOMPRESSED": "1M"})
        assert_clean_error(r.returncode, r.stderr)
        assert "FIELDKIT_MAX_DECOMPRESSED=" in r.stderr


def test_xlsx_bomb_is_refused_before_reading(fk_home, tmp_path):
    p = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as w:
            w.write(b"<worksheet><sheetData>")
            row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 10_000
            for _ in range(150):  # 75 MB of XML in ~200 KB
                w.write(row)
            w.write(b"</sheetData></worksheet>")
    r = fk("inspect", str(p), home=fk_home)
    assert_clean_error(r.returncode, r.stderr)
    assert "decompression bomb" in r.stderr


# ----------------------------------------------------------------------------- 1. model store


def _model_folder(folder: Path, model_id: str, files: dict[str, bytes | Path]) -> Path:
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    described = []
    for name, content in files.items():
        if isinstance(content, Path):  # a symbolic link to `content`
            (folder / name).symlink_to(content)
            data = content.read_bytes()
        else:
            if "/" not in name:
                (folder / name).write_bytes(content)
            data = content
        described.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "role": "model"})
    (folder / "fieldkit-model.json").write_text(json.dumps(
        {"id": model_id, "task": "embed", "format": "onnx", "files": described}))
    return folder


def _nothing_registered(home: Path, model_id: str) -> None:
    manifest = home / "models" / "manifest.json"
    if manifest.exists():
        assert model_id not in manifest.read_text()


def test_model_id_with_dot_dot_cannot_write_outside_the_store(capsys, fk_home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / ".bashrc").write_text("original\n")
    src = _model_folder(tmp_path / "evil", "../../../victim", {".bashrc": b"pwned\n"})
    # the id would resolve to tmp_path/victim from FIELDKIT_HOME/models
    code, _, err = run(capsys, "models", "prepare", "--from", str(src))
    assert_clean_error(code, err)
    assert "not a plain name" in err
    assert (victim / ".bashrc").read_text() == "original\n"
    _nothing_registered(fk_home, "victim")


def test_model_file_name_with_a_folder_part_is_refused(capsys, fk_home, tmp_path):
    src = _model_folder(tmp_path / "evil", "evil-model", {"../outside.onnx": b"x" * 10})
    code, _, err = run(capsys, "models", "prepare", "--from", str(src))
    assert_clean_error(code, err)
    assert not (fk_home / "outside.onnx").exists() and not (fk_home / "models" / "evil-model").exists()
    _nothing_registered(fk_home, "evil-model")


def test_model_file_that_is_a_symlink_is_refused(capsys, fk_home, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    src = _model_folder(tmp_path / "evil", "linky", {"model.onnx": secret})
    code, _, err = run(capsys, "models", "prepare", "--from", str(src))
    assert_clean_error(code, err)
    assert "symbolic link" in err
    assert not (fk_home / "models" / "linky").exists()
    _nothing_registered(fk_home, "linky")


def test_failed_install_leaves_nothing_registered(capsys, fk_home, tmp_path, monkeypatch):
    import fieldkit.inference.model_store as store

    src = _model_folder(tmp_path / "ok", "two-files", {"a.onnx": b"a" * 100, "b.json": b"{}"})
    real = store.install_file
    calls = []

    def fail_second(path, f, entry, reporter=None):
        calls.append(f.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(path, f, entry, reporter)

    monkeypatch.setattr(store, "install_file", fail_second)
    code, _, err = run(capsys, "models", "prepare", "--from", str(src))
    assert code == 2 and "Traceback" not in err
    assert not (fk_home / "models" / "two-files").exists()
    _nothing_registered(fk_home, "two-files")


def test_tampered_user_manifest_entry_is_ignored_not_followed(capsys, fk_home):
    (fk_home / "models").mkdir(parents=True)
    (fk_home / "models" / "manifest.json").write_text(json.dumps({"format_version": 1, "models": [
        {"id": "../../etc", "task": "embed", "format": "onnx",
         "files": [{"name": "passwd", "sha256": "0" * 64}]}]}))
    code, out, err = run(capsys, "models", "list")
    assert code == 0, err
    assert "etc" not in out


def test_failed_gguf_prepare_has_a_hint_and_registers_nothing(fk_home, tmp_path):
    for content in (b"GGUF\x03\x00\x00\x00", b"\x00" * 64):
        p = tmp_path / "tiny.gguf"
        p.write_bytes(content)
        r = fk("models", "prepare", "--from", str(p), home=fk_home)
        assert_clean_error(r.returncode, r.stderr)
        _nothing_registered(fk_home, "tiny")


# ----------------------------------------------------------------------------- 2. forged integrity


def _derived_graph_or_skip(home: Path, csv: Path):
    from fieldkit.inference import embedder
    from fieldkit.inference.optimize import int8_matmul_is_fast

    if not int8_matmul_is_fast():
        pytest.skip("this CPU runs the shipped graph (no int8 rewrite is derived)")
    embedder._CACHE.clear()
    r = fk("search", str(csv), "-c", "text", "-q", "title", home=home)
    assert r.returncode == 0, r.stderr
    graphs = list((home / "cache" / "graphs").glob("*.onnx"))
    assert len(graphs) == 1
    return graphs[0]


def test_forged_derived_graph_in_the_cache_is_rebuilt_not_run(fk_home, esc_csv, tmp_path):
    import hashlib

    graph = _derived_graph_or_skip(fk_home, esc_csv)
    record = json.loads((fk_home / "models" / "derived-graphs.json").read_text())
    good = next(iter(record.values()))["sha256"]
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 1
    graph.write_bytes(bytes(data))
    # the attacker also writes the new hash where the cache kept it before
    graph.with_suffix(".json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
    out = tmp_path / "e.parquet"
    r = fk("embed", str(esc_csv), "-c", "text", "-o", str(out), home=fk_home)
    assert r.returncode == 0, r.stderr
    from fieldkit.store import read_provenance

    step = read_provenance(out)["steps"][-1]
    assert step.get("graph_sha256", good) == good
    assert hashlib.sha256(graph.read_bytes()).hexdigest() == good  # rebuilt from the source


def test_models_verify_checks_derived_graphs_against_their_source(fk_home, esc_csv):
    import hashlib

    graph = _derived_graph_or_skip(fk_home, esc_csv)
    ok = fk("models", "verify", home=fk_home)
    assert ok.returncode == 0, ok.stderr
    data = bytearray(graph.read_bytes())
    data[len(data) // 3] ^= 1
    graph.write_bytes(bytes(data))
    bad = fk("models", "verify", home=fk_home)
    assert_clean_error(bad.returncode, bad.stderr)
    # even with the store's record forged to match, a fresh derivation gives it away
    rec_path = fk_home / "models" / "derived-graphs.json"
    rec = json.loads(rec_path.read_text())
    for v in rec.values():
        v["sha256"] = hashlib.sha256(data).hexdigest()
    rec_path.write_text(json.dumps(rec))
    forged = fk("models", "verify", home=fk_home)
    assert_clean_error(forged.returncode, forged.stderr)
    assert "derives to" in forged.stderr


def test_forged_stamp_does_not_skip_the_rehash_of_a_changed_model_file(fk_home, tmp_path):
    from fieldkit import files
    from fieldkit.errors import ModelError
    from fieldkit.inference.model_store import check_file

    p = tmp_path / "model.onnx"
    p.write_bytes(b"A" * 4096)
    good = files.sha256(p)
    st = p.stat()
    time.sleep(0.05)
    p.write_bytes(b"B" * 4096)  # same size; mtime set back, as an attacker can
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    record = files._stamp_file(p.resolve())
    stamp = json.loads(record.read_text())
    stamp["sha256"] = good  # forged: claims the old content
    record.write_text(json.dumps(stamp))
    with pytest.raises(ModelError, match="sha256 is"):
        check_file(p, good)


# ----------------------------------------------------------------------------- 8. kill -9 leftovers


def test_temp_file_of_a_killed_convert_is_removed_by_the_next_write(tmp_path, mid_csv):
    out = tmp_path / "out.parquet"
    env = {**os.environ, "FIELDKIT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "fieldkit", "convert", str(mid_csv), "-o", str(out),
                             "--progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".fieldkit-tmp-") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("convert ended before it could be killed")
        time.sleep(0.005)
    proc.kill()
    proc.wait(timeout=60)
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".fieldkit-tmp-")]
    assert stale, "kill -9 should leave the writer's temp file (nothing can clean it up then)"
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n")
    r = fk("convert", str(small), "-o", str(tmp_path / "other.parquet"), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == [] and not out.exists()


def test_output_cut_short_by_a_closed_pipe_is_not_a_failure(fk_home, answers_csv):
    """`fieldkit inspect big.csv --head 1000 | head -2` exited 1 (Python's flush at exit)."""
    env = {**os.environ, "FIELDKIT_HOME": str(fk_home), "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "fieldkit", "inspect", str(answers_csv), "--head", "1000"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read()
    p.wait(timeout=120)
    assert p.returncode == 0 and b"Traceback" not in err and b"internal error" not in err, err


def test_compressed_log_bombs_use_the_same_guard(fk_home, tmp_path):
    import zstandard

    big = b"".join(b"2024-01-01 00:00:%02d INFO worker %d started\n" % (i % 60, i) for i in range(60_000))
    for name, data in (("a.log.gz", gzip.compress(big)), ("a.log.zst", zstandard.ZstdCompressor().compress(big))):
        p = tmp_path / name
        p.write_bytes(data)
        r = fk("logs", str(p), "-o", str(tmp_path / "out.parquet"), home=fk_home,
               env={"FIELDKIT_MAX_DECOMPRESSED": "1M"})
        assert_clean_error(r.returncode, r.stderr)
        assert "decompression bomb" in r.stderr and not (tmp_path / "out.parquet").exists()
