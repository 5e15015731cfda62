"""`fieldkit inspect` and `fieldkit convert` end to end: exact output, exit codes, no tracebacks,
and nothing half-written when a conversion is killed or interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.store import read_provenance
from tests.conftest import ROOT, SAMPLE_DATA, shared


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_inspect_json_exact_fields(capsys, fk_home):
    path = shared("messy", "csvkit_latin1.csv")
    code, out, err = run(capsys, "inspect", str(path), "--json")
    assert code == 0 and err == ""
    info = json.loads(out)
    assert info == {
        "path": str(path), "format": "csv", "compression": None, "encoding": "cp1252",
        "delimiter": ",", "sheet": None, "sheets": [], "size_bytes": 17, "rows": 2,
        "columns": [{"name": "a", "dtype": "Int64", "nulls": 0},
                    {"name": "b", "dtype": "Int64", "nulls": 0},
                    {"name": "c", "dtype": "String", "nulls": 0}],
        "nulls_exact": True, "ragged_rows": 0, "notes": [], "survey": None,
        "quoting": "minimal", "newline": "LF", "encoding_detected_by": "mojibake score",
        "repairs": {"long_rows": 0, "short_rows": 0, "trailing_empty_fields": 0, "blank_lines": 0,
                    "nul_bytes": 0, "replaced_chars": 0, "repaired_lines": 0},
    }


def test_inspect_json_excel_and_survey(capsys, fk_home):
    code, out, _ = run(capsys, "inspect", str(shared("messy", "csvkit_sheets_multisheet.xlsx")),
                       "--json", "--sheet", "data")
    info = json.loads(out)
    assert code == 0 and info["format"] == "xlsx" and info["sheet"] == "data"
    assert info["sheets"] == ["not this one", "data", "ʤ"] and info["rows"] == 5
    code, out, _ = run(capsys, "inspect", str(SAMPLE_DATA / "kobo_water_survey.csv"), "--json")
    info = json.loads(out)
    assert info["survey"]["tool"] == "kobotoolbox" and info["rows"] == 300
    cols = {c["name"]: c for c in info["columns"]}
    assert cols["start"]["dtype"] == "Datetime(time_unit='us', time_zone='UTC')"
    assert cols["feedback/comment"]["nulls"] == 7  # the 7 empty answers


def test_inspect_text_output(capsys, fk_home):
    code, out, _ = run(capsys, "inspect", str(shared("messy", "winequality_red_semicolon_crlf.csv")))
    assert code == 0
    assert "delimiter: ';', newlines CRLF" in out
    assert "rows:      1,287" in out and "fixed.acidity" in out


def test_inspect_folder(capsys, fk_home):
    code, out, _ = run(capsys, "inspect", str(shared("messy")), "--json")
    info = json.loads(out)
    assert code == 0 and info["format"] == "folder"
    names = [d["name"] for d in info["datasets"]]
    assert "csvkit_latin1.csv" in names and len(names) == 12


def test_no_traceback_over_all_shared_files(capsys, fk_home):
    for folder in ("messy", "survey"):
        for p in sorted(shared(folder).iterdir()):
            code, out, err = run(capsys, "inspect", str(p))
            assert "Traceback" not in err and "internal error" not in err, (p, err)
            assert code == 0, (p, err)
            assert out.startswith(f"path:      {p}")


@pytest.mark.parametrize(
    "args,message,hint",
    [
        (["inspect", "/nonexistent/x.csv"], "error: /nonexistent/x.csv does not exist", "hint: check"),
        (["inspect", "{xlsx}", "--sheet", "nope"], "error: sheet 'nope' is not in csvkit_sheets_multisheet.xlsx",
         "hint: its sheets are: 'not this one', 'data', 'ʤ'"),
        (["inspect", "{csv}", "--encoding", "klingon"], "error: unknown encoding 'klingon'", "hint: use"),
        (["convert", "{csv}", "-o", "out.csv"], "error: output 'out.csv' does not end in .parquet", "hint:"),
        (["convert", "{csv}"], "error: Missing option '-o'", "hint:"),
        (["convert", "{csv}", "-o", "/nonexistent/dir/o.parquet"], "error: output folder /nonexistent/dir",
         "hint: create it"),
    ],
)
def test_usage_and_input_errors_exit_2(capsys, fk_home, args, message, hint):
    subst = {"{xlsx}": str(shared("messy", "csvkit_sheets_multisheet.xlsx")),
             "{csv}": str(shared("messy", "csvkit_latin1.csv"))}
    code, out, err = run(capsys, *[subst.get(a, a) for a in args])
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert lines[0].startswith(message), err
    assert lines[1].startswith(hint) and len(lines) == 2, err


@pytest.mark.parametrize("name,data,message", [
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("img.csv", b"\x89PNG\r\n\x1a\n" + bytes(64), "looks like a PNG image"),
    ("cut.parquet", b"PAR1\x15\x04\x15", "truncated or corrupt Parquet"),
])
def test_bad_files_exit_2(capsys, tmp_path, fk_home, name, data, message):
    p = tmp_path / name
    p.write_bytes(data)
    code, _, err = run(capsys, "convert", str(p), "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and message in err and "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "o.parquet").exists()


def test_missing_column_message(fk_home):
    from fieldkit.errors import UsageError
    from fieldkit.io import load_dataset

    ds = load_dataset(SAMPLE_DATA / "kobo_water_survey.csv")
    with pytest.raises(UsageError) as e:
        ds.require_column("feedback/coment")
    assert e.value.message == "column 'feedback/coment' is not in kobo_water_survey.csv"
    assert e.value.hint.startswith("did you mean: 'feedback/comment'")


def test_convert_sample_survey_with_provenance(capsys, tmp_path, fk_home):
    src = SAMPLE_DATA / "kobo_water_survey.csv"
    out = tmp_path / "survey.parquet"
    code, stdout, err = run(capsys, "convert", str(src), "-o", str(out))
    assert code == 0 and "Traceback" not in err
    assert stdout.strip() == f"wrote {out} (300 rows, 35 columns) from kobo_water_survey.csv (csv)"
    df = pl.read_parquet(out)
    assert df.columns == pl.read_csv(src, n_rows=1).columns  # every input column kept, same order
    assert df.schema["_submission_time"] == pl.Datetime("us", "UTC")
    prov = read_provenance(out)
    assert prov["source"]["path"] == str(src) and prov["source"]["format"] == "csv"
    assert prov["source"]["encoding"] == "utf-8" and len(prov["source"]["sha256"]) == 64
    (step,) = prov["steps"]
    assert set(step) == {"operation", "parameters", "started", "seconds"}  # no model ran
    assert step["operation"] == "convert" and step["parameters"] == {"format": "csv"}
    assert step["started"].endswith("+00:00") and step["seconds"] >= 0


def test_convert_excel_sheet_and_encoding_recorded(capsys, tmp_path, fk_home):
    out = tmp_path / "x.parquet"
    code, _, _ = run(capsys, "convert", str(shared("messy", "csvkit_sheets_multisheet.xlsx")),
                     "-o", str(out), "--sheet", "ʤ")
    assert code == 0 and pl.read_parquet(out).rows() == [(1, 2, 3)]
    assert read_provenance(out)["steps"][0]["parameters"] == {"format": "xlsx", "sheet": "ʤ"}
    code, _, _ = run(capsys, "convert", str(shared("messy", "csvkit_latin1.csv")), "-o", str(out),
                     "--encoding", "latin-1")
    assert code == 0 and pl.read_parquet(out)["c"].to_list() == ["3", "©"]
    assert read_provenance(out)["source"]["encoding"] == "iso8859-1"


def test_failed_convert_leaves_existing_output_intact(capsys, tmp_path, fk_home):
    out = tmp_path / "keep.parquet"
    pl.DataFrame({"x": [1, 2]}).write_parquet(out)
    before = out.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    code, _, _ = run(capsys, "convert", str(bad), "-o", str(out))
    assert code == 2 and out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- killing a conversion halfway -------------------------------------------------------

@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """~150 MB CSV: big enough that converting it takes a few seconds on 2 cores."""
    p = tmp_path_factory.mktemp("big") / "big.csv"
    n = 1_500_000
    i = pl.int_range(n)
    pl.select(
        id=i,
        site=pl.lit("camp_north"),
        comment=pl.format("answer {} about the water pump and the long queue", i),
        score=i % 97 / 7,
    ).write_csv(p)
    return p


def _start_convert(src: Path, out: Path, home: Path, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "fieldkit", "convert", str(src), "-o", str(out),
                             *flags],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_partial(folder: Path, proc: subprocess.Popen, timeout: float = 60) -> Path:
    """Wait until the temporary output exists and holds some data, i.e. mid-write."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tmps = [p for p in folder.iterdir() if p.name.startswith(".fieldkit-tmp-")]
        if tmps and tmps[0].stat().st_size > 0:
            return tmps[0]
        assert proc.poll() is None, "convert finished before it could be interrupted"
        time.sleep(0.01)
    raise AssertionError("no partial output appeared")


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
@pytest.mark.parametrize("existing", [False, True])
def test_sigkill_mid_write_leaves_nothing_at_output(tmp_path, big_csv, existing, flag):
    out = tmp_path / "out.parquet"
    before = None
    if existing:
        pl.DataFrame({"old": ["result"]}).write_parquet(out)
        before = out.read_bytes()
    proc = _start_convert(big_csv, out, tmp_path / "home", flag)
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if existing:
        assert out.read_bytes() == before
        assert pl.read_parquet(out)["old"].to_list() == ["result"]
    else:
        assert not out.exists()


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_ctrl_c_mid_write_cleans_up(tmp_path, big_csv, flag):
    out = tmp_path / "out.parquet"
    proc = _start_convert(big_csv, out, tmp_path / "home", flag)
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fieldkit-tmp-")] == []


def test_convert_big_file_completes(tmp_path, big_csv):
    out = tmp_path / "done.parquet"
    proc = _start_convert(big_csv, out, tmp_path / "home")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert pl.scan_parquet(out).select(pl.len()).collect().item() == 1_500_000


def test_inspect_head_shows_first_rows(capsys, fk_home):
    code, out, _ = run(capsys, "inspect", str(shared("messy", "csvkit_utf16be_bom.csv")), "--head", "2")
    assert code == 0
    assert out.endswith("row 1:\n  a  1\n  b  2\n  c  3\nrow 2:\n  a  4\n  b  5\n  c  ʤ\n")
    code, out, _ = run(capsys, "inspect", str(shared("messy", "csvkit_utf16be_bom.csv")), "--head", "1",
                       "--json")
    assert json.loads(out)["preview"] == [{"a": 1, "b": 2, "c": "3"}]
