"""Loaders on the real messy files, every supported format, and each kind of bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from fieldkit.errors import InputError, UsageError
from fieldkit.io import delimited, inspect_dataset, load_dataset, sniff
from tests.conftest import SAMPLE_DATA, shared


def rows(ds):
    return ds.frame.collect().rows()


# --- ../shared/data/messy: each file, its real cells ------------------------------------

def test_latin1_copyright_sign(fk_home):
    ds = load_dataset(shared("messy", "csvkit_latin1.csv"))
    assert ds.encoding in ("cp1252", "latin-1", "iso8859-1")
    assert ds.frame.collect()["c"].to_list() == ["3", "©"]


@pytest.mark.parametrize("name,encoding", [("csvkit_utf16le_bom.csv", "utf-16-le"),
                                           ("csvkit_utf16be_bom.csv", "utf-16-be"),
                                           ("csvkit_utf8_bom.csv", "utf-8-sig")])
def test_bom_files_cells(fk_home, name, encoding):
    ds = load_dataset(shared("messy", name))
    assert ds.encoding == encoding
    df = ds.frame.collect()
    assert df.columns == (["foo", "bar", "baz"] if "utf8" in name else ["a", "b", "c"])
    assert df.row(1) == (4, 5, "ʤ")


def test_semicolon_crlf_wine(fk_home):
    ds = load_dataset(shared("messy", "winequality_red_semicolon_crlf.csv"))
    assert ds.delimiter == ";" and ds.extra["newline"] == "CRLF"
    df = ds.frame.collect()
    assert df.columns[:3] == ["fixed.acidity", "volatile.acidity", "citric.acid"]
    assert len(df.columns) == 12 and df.height == 1287
    assert df.row(0)[:3] == (10.4, 0.64, 0.24)
    assert df.schema["quality"] == pl.Int64


def test_kansas_quoted_commas(fk_home):
    ds = load_dataset(shared("messy", "us_1033_program_kansas.csv"))
    df = ds.frame.collect()
    assert df.shape == (1575, 14)
    assert df["item_name"][0] == "RIFLE,5.56 MILLIMETER"
    assert df["federal_supply_class_name"][0] == "Guns, through 30 mm"


def test_ragged_rows_are_counted(fk_home):
    ds = load_dataset(shared("messy", "csvkit_bad_ragged_rows.csv"))
    assert ds.ragged_rows == 2
    assert ds.extra["repairs"]["long_rows"] == 1 and ds.extra["repairs"]["short_rows"] == 1
    assert rows(ds) == [(1, "27", None), (None, "I'm too short!", None), (0, "mixed types.... uh oh", 17)]
    assert any("more fields than the header" in n for n in ds.notes)
    assert any("fewer fields" in n for n in ds.notes)


def test_short_row_padded(fk_home):
    ds = load_dataset(shared("messy", "csvkit_short_row.csv"))
    assert rows(ds) == [(None, None, None)]
    assert ds.ragged_rows == 1


def test_blank_lines_before_header(fk_home):
    ds = load_dataset(shared("messy", "csvkit_leading_blank_lines.csv"))
    assert ds.columns == ["a", "b", "c"] and rows(ds) == [(1, 2, 3)]
    assert ds.extra["repairs"]["blank_lines"] == 3


def test_cr_only_newlines(fk_home):
    ds = load_dataset(shared("messy", "csvkit_mac_cr_newlines.csv"))
    assert ds.extra["newline"] == "CR"
    df = ds.frame.collect()
    assert df.columns == ["a", "b", "c"] and df.height == 2
    assert df["a"][1].replace("\r", "\n") == "Once upon\na time"
    assert df.row(1)[1:] == (5, 6)


def test_nul_byte_removed_and_counted(fk_home):
    ds = load_dataset(shared("messy", "csvkit_null_byte.csv"))
    assert rows(ds) == [(None, 2, 3)]
    assert ds.extra["repairs"]["nul_bytes"] == 1


def test_multisheet_workbook(fk_home):
    path = shared("messy", "csvkit_sheets_multisheet.xlsx")
    ds = load_dataset(path)
    assert ds.sheets == ["not this one", "data", "ʤ"]
    assert ds.sheet == "data"  # the first sheet is empty
    df = ds.frame.collect()
    assert df["text"].to_list()[:3] == ["Chicago Reader", "Chicago Sun-Times", "Chicago Tribune"]
    assert df["text"][4] == "Unicode! Σ"
    assert df.schema["boolean"] == pl.Boolean and df.schema["integer"] == pl.Int64
    assert df["date"][0] == dt.date(1971, 1, 1)
    # the cell beyond the headers is kept under a generated name, not dropped
    assert df["column_8"][1] == "Extra data beyond headers will be trimmed"
    other = load_dataset(path, sheet="ʤ")
    assert rows(other) == [(1, 2, 3)]
    with pytest.raises(UsageError, match="sheet 'nope' is not in") as e:
        load_dataset(path, sheet="nope")
    assert "'not this one', 'data', 'ʤ'" in e.value.hint


def test_every_messy_and_survey_file_loads_or_fails_clearly(fk_home):
    for folder in ("messy", "survey"):
        for p in sorted(shared(folder).iterdir()):
            try:
                info = inspect_dataset(load_dataset(p))
            except InputError as e:  # allowed, but must be specific
                assert p.name in e.message and e.hint, p
                continue
            assert info["rows"] >= 1 and info["columns"], p


# --- formats ------------------------------------------------------------------------------

@pytest.fixture
def frame():
    return pl.DataFrame({"id": [1, 2, 3], "answer": ["oui", "نعم", None],
                         "score": [1.5, 2.0, 3.25]})


def test_parquet_arrow_json_ndjson(tmp_path, fk_home, frame):
    frame.write_parquet(tmp_path / "a.parquet")
    frame.write_ipc(tmp_path / "a.arrow")
    (tmp_path / "a.json").write_text(json.dumps(frame.to_dicts(), ensure_ascii=False), encoding="utf-8")
    frame.write_ndjson(tmp_path / "a.ndjson")
    (tmp_path / "nested.json").write_text(json.dumps({"meta": 1, "results": frame.to_dicts()}))
    for name, fmt in [("a.parquet", "parquet"), ("a.arrow", "arrow"), ("a.json", "json"),
                      ("a.ndjson", "ndjson"), ("nested.json", "json")]:
        ds = load_dataset(tmp_path / name)
        assert ds.format == fmt, name
        assert ds.frame.collect().equals(frame), name


def test_format_from_content_not_name(tmp_path, fk_home, frame):
    frame.write_parquet(tmp_path / "mislabelled.csv")
    frame.write_ndjson(tmp_path / "records.txt")
    assert load_dataset(tmp_path / "mislabelled.csv").format == "parquet"
    assert load_dataset(tmp_path / "records.txt").format == "ndjson"


def test_gzip_csv(tmp_path, fk_home):
    p = tmp_path / "survey.csv.gz"
    p.write_bytes(gzip.compress("q;answer\n1;très bien\n2;mal\n".encode("cp1252")))
    ds = load_dataset(p)
    assert ds.format == "csv" and ds.compression == "gzip" and ds.delimiter == ";"
    assert rows(ds) == [(1, "très bien"), (2, "mal")]
    assert ds.source_info()["compression"] == "gzip"
    assert ds.source_info()["path"] == str(p)


def test_folder_listing(tmp_path, fk_home, frame):
    (tmp_path / "sub").mkdir()
    frame.write_parquet(tmp_path / "sub" / "x.parquet")
    (tmp_path / "a.csv").write_text("a\n1\n")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden.csv").write_text("a\n1\n")
    ds = load_dataset(tmp_path)
    assert ds.format == "folder"
    listing = ds.frame.collect()
    assert listing["name"].to_list() == ["a.csv", "sub/x.parquet"]
    assert listing["format"].to_list() == ["csv", "parquet"]
    assert listing["size_bytes"][0] == 4
    info = inspect_dataset(ds)
    assert [d["name"] for d in info["datasets"]] == ["a.csv", "sub/x.parquet"]


def test_plain_text_lines(tmp_path, fk_home):
    p = tmp_path / "notes.txt"
    p.write_text("first note about the pump\n\nsecond note\n")
    ds = load_dataset(p)
    assert ds.format == "text"
    assert rows(ds) == [(1, "first note about the pump"), (3, "second note")]


# --- bad input: one specific message each -------------------------------------------------

@pytest.mark.parametrize(
    "name,data,match",
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"\n\n  \n", "no data"),
        ("pic.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        ("noise.csv", bytes(range(256)) * 40, "binary file"),
        ("arch.zip", b"PK\x03\x04" + bytes(100), "not a readable Excel|zip archive"),
        ("bad.json", b'[{"a": 1}, {"a": ', "truncated JSON"),
    ],
)
def test_bad_files(tmp_path, fk_home, name, data, match):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputError, match=match) as e:
        load_dataset(p)
    assert e.value.hint


def test_truncated_files(tmp_path, fk_home, frame):
    big = pl.DataFrame({"i": range(50_000)})
    big.write_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt Parquet"):
        load_dataset(tmp_path / "cut.parquet")
    xlsx = shared("survey", "reach_irq_talafar_water_xlsform.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(xlsx[: len(xlsx) // 2])
    with pytest.raises(InputError, match="not a readable Excel workbook"):
        load_dataset(tmp_path / "cut.xlsx")
    gz = gzip.compress(("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(20_000))).encode())
    (tmp_path / "cut.csv.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(InputError, match="truncated or corrupt gzip"):
        load_dataset(tmp_path / "cut.csv.gz")
    assert not list((fk_home / "cache" / "io").glob("*.tmp"))


def test_missing_path_and_sheet_on_csv(tmp_path, fk_home):
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "a.csv").write_text("a\n1\n")
    with pytest.raises(UsageError, match="--sheet only applies"):
        load_dataset(tmp_path / "a.csv", sheet="x")


def test_missing_column_names_close_matches(fk_home):
    ds = load_dataset(shared("messy", "us_1033_program_kansas.csv"))
    with pytest.raises(UsageError, match="column 'item name' is not in") as e:
        ds.require_column("item name")
    assert "item_name" in e.value.hint


# --- large files: lazy scan, streamed transcode, fallback --------------------------------

@pytest.fixture
def small_thresholds(monkeypatch):
    """Pretend 'large' starts at 64 KB so the large-file paths run on small test files."""
    monkeypatch.setattr(delimited, "SMALL_BYTES", 64 * 1024)
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 16 * 1024)


def _big_csv(n=6000, extra=""):
    return "id,answer,score\n" + "".join(f"{i},answer number {i}{extra},{i % 7}\n" for i in range(n))


def test_large_clean_utf8_is_scanned_in_place(tmp_path, fk_home, small_thresholds):
    p = tmp_path / "big.csv"
    p.write_text(_big_csv())
    ds = load_dataset(p)
    assert ds.mode == "scan" and not ds.exact_checks
    assert "scan" in type(ds.frame.explain()).__name__ or "CSV SCAN" in ds.frame.explain().upper() \
        or "SCAN" in ds.frame.explain().upper()
    info = inspect_dataset(ds)
    assert info["rows"] == 6000 and info["encoding"] == "utf-8"
    assert not (fk_home / "cache" / "io").exists()  # nothing transcoded


def test_large_messy_file_is_cleaned_once_into_the_cache(tmp_path, fk_home, small_thresholds):
    p = tmp_path / "big_cp1252_cr.csv"  # old-Mac CR newlines need the full CSV pass
    p.write_bytes(_big_csv(extra=" café").replace("\n", "\r").encode("cp1252"))
    ds = load_dataset(p)
    assert ds.mode == "clean" and ds.encoding == "cp1252" and ds.exact_checks
    df = ds.frame.collect()
    assert df.height == 6000 and df["answer"][5] == "answer number 5 café"
    cached = list((fk_home / "cache" / "io").glob("*.csv"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    load_dataset(p)  # reuses the cache entry
    assert cached[0].stat().st_mtime_ns == mtime


def test_convert_falls_back_when_a_bad_row_hides_past_the_sample(tmp_path, fk_home, small_thresholds):
    from fieldkit.pipelines import convert
    from fieldkit.store import read_provenance

    body = _big_csv(8000)
    body += "8000,too,many,fields,here\n"  # beyond the 16 KB sample
    p = tmp_path / "late_ragged.csv"
    p.write_text(body)
    assert load_dataset(p).mode == "scan"
    done = convert(p, tmp_path / "out.parquet").outcome
    out, ds = done.output, done.dataset
    assert ds.mode == "clean" and ds.ragged_rows == 1
    df = pl.read_parquet(out)
    assert df.height == 8001 and df.row(8000) == (8000, "too", "many")
    prov = read_provenance(out)
    assert prov["steps"][0]["operation"] == "convert"
    assert prov["source"]["path"] == str(p)


# --- logs are routed to fieldkit.io.logs (the log parser itself is tested with it) ----------

def test_logs_are_dispatched_to_the_log_reader(fk_home):
    pytest.importorskip("fieldkit.io.logs", reason="the log reader is not in this tree yet")
    sample = SAMPLE_DATA / "fieldsync_server.log"
    ds = load_dataset(sample)
    df = ds.frame.collect()
    assert ds.format == "log" and df.columns == ["line_no", "timestamp", "level", "component", "message", "raw"]
    assert df["component"][:2].to_list() == ["api.http", "scheduler"]
    headers = [ln for ln in sample.read_text().splitlines() if ln[:4].isdigit()]
    assert df.height == len(headers) == 3144  # stack-trace lines joined to their record
    assert df["timestamp"].null_count() == 0
    assert set(df["level"].unique()) == {"DEBUG", "INFO", "WARN", "ERROR"}
    trace = df.filter(pl.col("message").str.contains("IllegalStateException"))["raw"][0]
    assert trace.count("\n") == 8 and "Caused by: java.lang.NullPointerException" in trace
    # `[Sun Dec 04 ...]` starts like a JSON array; it must still open as a log
    for p in sorted(shared("logs").glob("*_2k.log")):
        ds = load_dataset(p)
        assert ds.format == "log", p
        assert ds.frame.select(pl.len()).collect().item() == 2000, p


def test_sha256_is_remembered_per_size_and_mtime(tmp_path, fk_home):
    import hashlib
    import os

    p = tmp_path / "a.csv"
    p.write_text("a\n1\n")
    assert load_dataset(p).sha256 == hashlib.sha256(b"a\n1\n").hexdigest()
    p.write_text("a\n2\n")
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))  # a new mtime
    assert load_dataset(p).sha256 == hashlib.sha256(b"a\n2\n").hexdigest()


@pytest.mark.parametrize("encoding", ["cp1252", "gb18030", "utf-16"])
def test_large_file_with_only_a_foreign_encoding_is_re_encoded_then_scanned(
        tmp_path, fk_home, small_thresholds, encoding):
    p = tmp_path / f"big_{encoding}.csv"
    text = "id,answer,score\n" + "".join(f"{i},réponse 编号 {i},{i % 7}\n" for i in range(6000))
    if encoding == "cp1252":
        text = text.replace(" 编号", "")
    p.write_bytes(text.encode(encoding))
    ds = load_dataset(p)
    assert ds.mode == "scan" and not ds.exact_checks
    df = ds.frame.collect()
    assert df.columns == ["id", "answer", "score"] and df.height == 6000
    assert df["answer"][42] == ("réponse 42" if encoding == "cp1252" else "réponse 编号 42")
    assert len(list((fk_home / "cache" / "io").glob("*.utf8.csv"))) == 1


# --- lines above the table: real files the loader was not built with -----------------------

def test_a_comment_line_above_the_header_is_skipped(fk_home, tmp_path):
    """matplotlib's Stocks.csv opens with '# Data source: https://finance.yahoo.com': it read as one
    column named after the comment, every row cut to its first field."""
    import matplotlib
    from pathlib import Path

    ds = load_dataset(Path(matplotlib.get_data_path()) / "sample_data" / "Stocks.csv")
    df = ds.frame.collect()
    assert df.columns[:3] == ["Date", "IBM", "AAPL"] and df.width == 11 and df.height == 524
    assert df["IBM"].dtype == pl.Float64
    assert any("above the table skipped" in n and "Data source" in n for n in ds.notes)


def test_a_short_line_above_numeric_columns_keeps_every_column(fk_home):
    """scikit-learn's wine_data.csv: '178,13,class_0,class_1,class_2' (counts and class names) above
    178 rows of 14 numbers: 9 of the 14 columns were cut from every row."""
    from pathlib import Path

    import sklearn

    ds = load_dataset(Path(sklearn.__file__).parent / "datasets" / "data" / "wine_data.csv")
    df = ds.frame.collect()
    assert df.shape == (178, 14) and df.columns[0] == "column_1"
    assert df.row(0)[:2] == (14.23, 1.71) and df["column_14"].unique().sort().to_list() == [0, 1, 2]
    assert ds.ragged_rows == 0


def test_trailing_commas_and_number_headers_are_not_a_preamble(fk_home, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("x,y,z\n" + "".join(f"{i},{i + 1},{i + 2},\n" for i in range(20)))
    df = load_dataset(p).frame.collect()
    assert df.columns == ["x", "y", "z"] and df.height == 20
    q = tmp_path / "years.csv"
    q.write_text("2019,2020,2021\n" + "".join(f"{i},{i * 2},{i * 3}\n" for i in range(20)))
    assert load_dataset(q).frame.collect().columns == ["2019", "2020", "2021"]


def test_blank_separated_columns_and_numeric_rows_without_a_header(fk_home):
    """scikit-learn's linnerud_exercise.csv ('Chins Situps Jumps' / '5 162 60') and diabetes_data_raw.csv.gz
    (ten blank-separated numbers, no header) read as one text column; digits.csv.gz (64 pixel counts and a
    label, no header) took its first row as 65 column names ('0', '0_2', ...) and lost it."""
    from pathlib import Path

    import sklearn

    data = Path(sklearn.__file__).parent / "datasets" / "data"
    lin = load_dataset(data / "linnerud_exercise.csv").frame.collect()
    assert lin.columns == ["Chins", "Situps", "Jumps"] and lin.height == 20 and lin.row(0) == (5, 162, 60)
    dia = load_dataset(data / "diabetes_data_raw.csv.gz").frame.collect()
    assert dia.shape == (442, 10) and dia.row(0)[:3] == (59, 2, 32.1)
    digits = load_dataset(data / "digits.csv.gz")
    dig = digits.frame.collect()
    assert dig.shape == (1797, 65) and dig.columns[0] == "column_1"
    assert any("no header row" in n for n in digits.notes)
    assert sorted(dig["column_65"].unique().to_list()) == list(range(10))


def test_title_rows_above_an_excel_table_are_skipped(fk_home, tmp_path):
    """A report sheet with a title in A1 and a source line: the title became the first column's name, the
    other columns column_2 ..., and every number text."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Water point monitoring - Talafar district, March 2024"
    ws["A2"] = "Source: field teams"
    ws.append([])
    ws.append(["site", "functional", "litres_per_day"])
    for i in range(12):
        ws.append([f"WP{i:03d}", "yes" if i % 3 else "no", 100 * i])
    p = tmp_path / "report.xlsx"
    wb.save(p)
    ds = load_dataset(p)
    df = ds.frame.collect()
    assert df.columns == ["site", "functional", "litres_per_day"] and df.height == 12
    assert df["litres_per_day"].dtype == pl.Int64
    assert any("2 title row(s)" in n and "Water point" in n for n in ds.notes)
    # a one-column list keeps its first row as its header
    wb2 = openpyxl.Workbook()
    for v in ["answer", "more water", "a school", "roads"]:
        wb2.active.append([v])
    q = tmp_path / "list.xlsx"
    wb2.save(q)
    assert load_dataset(q).frame.collect().columns == ["answer"]


def test_json_with_several_lists_of_records_reads_the_richest(fk_home, tmp_path):
    """A CycloneDX bill of materials (as wheels ship in dist-info/sboms): 'components' and 'dependencies'
    were read as one row holding both lists; now the components, and the note names the other list."""
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "components": [{"type": "library", "name": f"crate{i}", "version": f"0.{i}.0", "purl": f"pkg:cargo/c{i}"}
                          for i in range(5)],
           "dependencies": [{"ref": f"c{i}", "dependsOn": []} for i in range(6)]}
    p = tmp_path / "sbom.json"
    p.write_text(json.dumps(doc))
    ds = load_dataset(p)
    df = ds.frame.collect()
    assert df.height == 5 and df.columns == ["type", "name", "version", "purl"]
    assert any("'components'" in n and "'dependencies' (6)" in n for n in ds.notes)


def test_a_large_header_less_table_keeps_its_first_row(fk_home, tmp_path, monkeypatch):
    """Above SMALL_BYTES a clean file is scanned in place by Polars, which takes the first row as the header."""
    monkeypatch.setattr(delimited, "SMALL_BYTES", 1000)
    p = tmp_path / "pixels.csv"
    p.write_text("".join(",".join(str((i * 7 + j) % 5) for j in range(12)) + "\n" for i in range(400)))
    df = load_dataset(p).frame.collect()
    assert df.shape == (400, 12) and df.columns[0] == "column_1" and df.row(0)[:6] == (0, 1, 2, 3, 4, 0)
