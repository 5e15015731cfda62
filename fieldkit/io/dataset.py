"""Dataset: a lazy frame plus what the loader learned about the file, and the dispatcher.

`load_dataset` judges a file by its magic bytes first and its name second, so a mislabelled
export still opens, and a binary or truncated file is refused with a specific message
before any real work starts.
"""

from __future__ import annotations

import difflib
import gzip
import os
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from fieldkit import files
from fieldkit.errors import InputError, UsageError
from fieldkit.io import sniff
from fieldkit.io.limits import COMPRESSED_KINDS, DecompressionGuard, guarded_blocks, open_decompressed
from fieldkit.progress import Reporter

SURVEY_SAMPLE_ROWS = 500
IN_MEMORY_BYTES = 256 * 1024 * 1024  # a file up to this size is read whole, once, by `Dataset.read`
WHOLE_CHECK_BYTES = 32 * 1024 * 1024
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
LOG_SUFFIXES = (".log", ".out")


@dataclass
class Dataset:
    path: Path
    format: str
    frame: pl.LazyFrame
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    compression: str | None = None  # "gzip" when the file was decompressed first
    survey: Any = None  # fieldkit.io.survey.SurveyInfo when it looks like a survey export
    first_rows: pl.DataFrame | None = None  # the first rows as `frame` gives them, when loading read them
    mode: str = "memory"  # "scan" (read lazily in place), "clean" (tolerant pass), "memory"
    exact_checks: bool = True  # ragged/NUL checks covered the whole file
    ragged_rows: int = 0  # rows padded or cut to the header's width (counted, never dropped)
    size_bytes: int = 0
    table: pl.DataFrame | None = field(default=None, repr=False, compare=False)  # read whole, once

    @classmethod
    def from_frame(cls, frame: pl.DataFrame | pl.LazyFrame, name: str = "<dataframe>") -> "Dataset":
        """A Dataset over a frame already in memory (the notebook API): no file behind it."""
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        return cls(Path(name), "dataframe", df.lazy(), mode="memory", table=df,
                   size_bytes=int(df.estimated_size()))

    @cached_property
    def columns(self) -> list[str]:
        return self.frame.collect_schema().names()

    @cached_property
    def sha256(self) -> str:
        """sha256 of the source, computed once per change of the file (`fieldkit.files` stamps).

        A frame with no file behind it is identified by its schema and a hash of every row.
        """
        if self.format == "dataframe" and self.table is not None:
            import hashlib

            h = hashlib.sha256(repr(self.table.schema).encode("utf-8"))
            h.update(self.table.hash_rows(seed=0).to_numpy().tobytes())
            return h.hexdigest()
        return files.sha256(self.path)

    def read(self, columns: list[str] | None = None) -> pl.DataFrame:
        """The named columns (all when None), reading the source file at most once for the whole job.

        A file up to IN_MEMORY_BYTES is read whole the first time and kept, so the annotated
        write needs no second pass; a bigger one reads only the columns asked for (the write
        then streams it once more in bounded memory).
        """
        if self.table is None and (columns is None or self.size_bytes <= IN_MEMORY_BYTES):
            try:
                self.table = self.frame.collect()
            except pl.exceptions.PolarsError as e:
                raise InputError(f"{self.path.name} cannot be read to the end: {_first(e)}",
                                 "run `fieldkit inspect` on it; `fieldkit convert` repairs ragged rows") from e
            self.frame = self.table.lazy()
        if self.table is not None:
            return self.table if columns is None else self.table.select(columns)
        try:
            return self.frame.select(columns).collect()
        except pl.exceptions.PolarsError as e:
            raise InputError(f"{self.path.name} cannot be read to the end: {_first(e)}",
                             "run `fieldkit inspect` on it; `fieldkit convert` repairs ragged rows") from e

    def source_info(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "format": self.format,
            "encoding": self.encoding,
            **({"sheet": self.sheet} if self.sheet else {}),
            **({"compression": self.compression} if self.compression else {}),
        }

    def require_column(self, name: str) -> str:
        if name in self.columns:
            return name
        close = difflib.get_close_matches(name, self.columns, n=3, cutoff=0.5)
        lower = [c for c in self.columns if name.lower() in c.lower() and c not in close]
        guesses = close + lower[: 3 - len(close)]
        hint = (
            "did you mean: " + ", ".join(repr(c) for c in guesses)
            if guesses
            else f"run `fieldkit inspect {self.path}` to list the columns"
        )
        raise UsageError(f"column {name!r} is not in {self.path.name}", hint)

    def require_text_column(self, name: str) -> str:
        """require_column, also refusing a list/array/struct/binary column (e.g. `embedding`)."""
        col = self.require_column(name)
        dtype = self.frame.collect_schema()[col]
        if dtype.is_nested() or dtype in (pl.Binary, pl.Object, pl.Null):
            what = "no values (every cell is null)" if dtype == pl.Null else f"{dtype} values"
            raise UsageError(f"column {col!r} of {self.path.name} holds {what}, not text",
                             f"give a text column; `fieldkit inspect {self.path}` lists the columns "
                             "and their types")
        return col

    def text_column(self, name: str) -> pl.Series:
        col = self.require_text_column(name)
        return self.read([col]).get_column(col).cast(pl.String)


def load_dataset(
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    reporter: Reporter | None = None,
    tolerant: bool = False,
) -> Dataset:
    """Open a file or folder as a Dataset (lazy where the format allows).

    `tolerant=True` forces the forgiving CSV path even for large clean-looking files
    (used when a lazy scan hits a bad row halfway through).
    """
    path = Path(path).expanduser()
    if encoding is not None:
        encoding = sniff.check_encoding_name(encoding)
    if sniff.check_input_path(path) is None:
        return _folder(path)
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied",
                         f"check the file's permissions (ls -l {path}) or copy it somewhere you can read")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)", "check that the export or download finished")
    head = sniff.read_head(path, 65536)
    if sheet is not None and not (path.suffix.lower() in EXCEL_SUFFIXES
                                  or sniff.magic_kind(head) in ("zip", "ole")):
        raise UsageError(f"--sheet only applies to Excel workbooks; {path.name} is not one",
                         "drop --sheet")
    kind = sniff.magic_kind(head)
    if kind in COMPRESSED_KINDS:
        inner = _decompress(path, kind, reporter)
        ds = _load_file(inner, _inner_suffix(path), head=sniff.read_head(inner, 65536), sheet=sheet,
                        encoding=encoding, reporter=reporter, tolerant=tolerant, display=path)
        ds.path, ds.compression = path, kind
        ds.extra["decompressed_to"] = str(inner)
        ds.size_bytes = size
        return ds
    return _load_file(path, path.suffix.lower(), head=head, sheet=sheet, encoding=encoding,
                      reporter=reporter, tolerant=tolerant, display=path)


def _inner_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd"):
        return suffixes[-2]
    return ""


def _load_file(path: Path, suffix: str, *, head: bytes, sheet, encoding, reporter, tolerant,
               display: Path) -> Dataset:
    from fieldkit.io import structured

    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{display.name} is empty (0 bytes)", "check that the export or download finished")
    kind = sniff.magic_kind(head)
    if kind == "parquet" or (suffix in (".parquet", ".pq") and kind is None and not _texty(head)):
        frame, notes = structured.load_parquet(path)
        return _finish(Dataset(path, "parquet", frame, notes=notes, mode="scan", size_bytes=size))
    if suffix in (".parquet", ".pq"):
        raise InputError(f"{display.name} is not a Parquet file (no PAR1 header)",
                         "check that the file is complete, or rename it to its real format")
    if kind == "arrow" or suffix in (".arrow", ".feather", ".ipc"):
        frame, notes = structured.load_arrow(path)
        return _finish(Dataset(path, "arrow", frame, notes=notes, mode="scan", size_bytes=size))
    if kind in ("zip", "ole") or suffix in EXCEL_SUFFIXES:
        if kind == "zip" and suffix not in EXCEL_SUFFIXES and not _zip_is_workbook(path):
            raise InputError(f"{display.name} is a zip archive, not a dataset",
                             "unzip it and open the files inside (or the folder)")
        if kind is None:
            raise InputError(f"{display.name} is not a readable Excel workbook (corrupt, truncated, "
                             "or not really Excel)", "open it in a spreadsheet program and save it again")
        from fieldkit.io.excel import load_excel
        from fieldkit.io.limits import check_zip

        if kind == "zip":
            check_zip(path)
        xl = load_excel(path, sheet)
        fmt = "xls" if kind == "ole" else ("ods" if suffix == ".ods" else "xlsx")
        ds = Dataset(path, fmt, xl.frame, sheet=xl.sheet, sheets=xl.sheets, notes=xl.notes,
                     size_bytes=size)
        ds.extra["empty_sheets"] = xl.empty_sheets
        return _finish(ds)
    what = sniff.binary_name(head)
    if what:
        raise InputError(f"{display.name} looks like {what}, not a dataset",
                         "fieldkit reads CSV/TSV, Excel, JSON/NDJSON, Parquet, Arrow and text logs")
    if suffix in LOG_SUFFIXES:
        return _log(path, reporter, size)
    jk = structured.json_kind(head)
    if suffix in (".ndjson", ".jsonl") or (jk == "ndjson" and suffix not in (".json",)):
        frame, notes = structured.load_ndjson(path)
        return _finish(Dataset(path, "ndjson", frame, encoding="utf-8", notes=notes, mode="scan",
                               size_bytes=size))
    if suffix in (".json", ".geojson") or jk == "json":
        frame, notes = structured.load_json(path, encoding)
        return _finish(Dataset(path, "json", frame, encoding=encoding or "utf-8", notes=notes,
                               size_bytes=size))
    if suffix in (".txt", "") and _looks_like_log(path):
        return _log(path, reporter, size)
    from fieldkit.io.delimited import load_delimited

    t = load_delimited(path, encoding=encoding, tolerant=tolerant, reporter=reporter, suffix=suffix)
    if suffix in (".md", ".markdown", ".rst", ".text") or (suffix in (".txt", "") and _prose(t)):
        return _text(path, t, size)
    fmt = "tsv" if t.delimiter == "\t" else "csv"
    ds = Dataset(path, fmt, t.frame, encoding=t.encoding, delimiter=t.delimiter, notes=t.notes,
                 mode=t.mode, exact_checks=t.exact, size_bytes=size)
    ds.extra.update(encoding_detected_by=t.encoding_how, quoting=t.quoting,
                    newline={"\n": "LF", "\r\n": "CRLF", "\r": "CR"}[t.newline])
    if t.stats is not None:
        ds.ragged_rows = t.stats.long_rows + t.stats.short_rows
        ds.extra["repairs"] = {
            "long_rows": t.stats.long_rows, "short_rows": t.stats.short_rows,
            "trailing_empty_fields": t.stats.trailing_empty, "blank_lines": t.stats.blank_lines,
            "nul_bytes": t.stats.nul_bytes, "replaced_chars": t.stats.replaced_chars,
            "repaired_lines": t.stats.repaired_lines,
        }
    return _finish(ds)


def _texty(head: bytes) -> bool:
    return sniff.binary_name(head) is None


def _zip_is_workbook(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.startswith(("xl/", "content.xml")) for n in names)


def _prose(t) -> bool:
    """A file not named as a table whose "rows" are lines of prose: one comma column, or most rows ragged.

    Why: commas in sentences made a README a two-column CSV ("say which column to summarize"); in a
    real table most rows have the header's field count, in prose most do not.
    """
    if t.frame.collect_schema().len() == 1 and t.delimiter == ",":
        return True
    st = t.stats
    return st is not None and st.rows > 0 and (st.short_rows + st.long_rows) > st.rows / 2


def _looks_like_log(path: Path) -> bool:
    try:
        from fieldkit.io.logs import looks_like_log
    except ImportError:
        return False
    try:
        return bool(looks_like_log(path))
    except Exception:
        return False


def _log(path: Path, reporter: Reporter | None, size: int) -> Dataset:
    if sniff.only_blank(path):
        raise InputError(f"{path.name} has no log lines (only blank lines)",
                         "check that the log was written completely")
    try:
        from fieldkit.io.logs import scan_log
    except ImportError as e:
        raise InputError(f"{path.name} looks like a log, but the log reader is not installed",
                         "update fieldkit") from e
    frame = scan_log(path, reporter=reporter)
    return Dataset(path, "log", frame, encoding="utf-8", mode="scan", size_bytes=size)


def _text(path: Path, t, size: int) -> Dataset:
    """A plain text file with no delimiter: one row per non-blank line."""
    lines = path.read_bytes().decode(t.encoding, errors="replace").splitlines()
    df = pl.DataFrame({"line_no": pl.Series(range(1, len(lines) + 1), dtype=pl.Int64),
                       "text": lines}).filter(pl.col("text").str.strip_chars() != "")
    return Dataset(path, "text", df.lazy(), encoding=t.encoding, size_bytes=size)


def _folder(path: Path) -> Dataset:
    from fieldkit.io.folder import list_folder

    df = list_folder(path)
    notes = [] if df.height else ["no datasets found in this folder"]
    return Dataset(path, "folder", df.lazy(), notes=notes, size_bytes=int(df["size_bytes"].sum() or 0))


def _finish(ds: Dataset) -> Dataset:
    """Survey awareness over a small head sample; timestamp columns become datetimes."""
    from fieldkit.io import survey

    from fieldkit.io import delimited

    if ds.mode == "memory":
        small = True
    elif ds.format in ("csv", "tsv"):
        small = ds.mode == "clean" and ds.size_bytes <= delimited.SMALL_BYTES
    else:
        small = ds.size_bytes <= WHOLE_CHECK_BYTES
    try:
        # small files are checked whole, so a timestamp column is parsed only if every cell parses
        sample = (ds.frame if small else ds.frame.head(SURVEY_SAMPLE_ROWS)).collect()
    except pl.exceptions.PolarsError as e:
        raise InputError(f"{ds.path.name} cannot be read: {_first(e)}",
                         "the file may be corrupt; run `fieldkit inspect` with --encoding if text looks wrong") from e
    info = survey.detect(sample)
    ds.first_rows = sample.head(SURVEY_SAMPLE_ROWS)  # what a viewer shows first, without reading the file again
    if info is not None:
        ds.frame = survey.apply(ds.frame, info, sample)
        ds.first_rows = survey.apply(ds.first_rows.lazy(), info, sample).collect()
        ds.survey = info
        ds.__dict__.pop("columns", None)
        if not small and any(t.get("parsed") for t in info.timestamps):
            ds.notes.append(f"timestamp forms checked on the first {SURVEY_SAMPLE_ROWS} rows; "
                            "a later cell in another form would become null")
    return ds


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__


def _decompress(path: Path, kind: str, reporter: Reporter | None) -> Path:
    """Decompress into the cache (keyed by the file's path and signature) once, within the
    decompression-bomb limits of fieldkit.io.limits; reuse afterwards."""
    import lzma

    corrupt: tuple = (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError)
    try:
        import zstandard

        corrupt += (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover - a declared dependency
        pass
    target = files.derived_path("io", [files.source_id(path), f"{kind}1"], _inner_suffix(path) or ".dat")
    size = path.stat().st_size
    rep = reporter.child("decompressing", size) if reporter else None
    guard = DecompressionGuard(path.name, size)

    def build(tmp: Path) -> None:
        with open_decompressed(path, kind) as stream, open(tmp, "wb") as out:
            for block in guarded_blocks(stream, guard):
                out.write(block)
                if rep is not None:
                    rep.update(min(size, guard.total // 4))
        if tmp.stat().st_size == 0:
            raise InputError(f"{path.name} is an empty {kind} file", "check that the download finished")

    try:
        return files.cached_file(target, build)
    except corrupt as e:
        raise InputError(f"{path.name} is a truncated or corrupt {kind} file: {_first(e)}",
                         f"copy or download it again; `{kind} -t` checks it") from e
    except OSError as e:
        if e.errno is not None:
            raise  # a real I/O fault (disk full...), not a corrupt archive
        raise InputError(f"{path.name} is a truncated or corrupt {kind} file: {_first(e)}",
                         f"copy or download it again; `{kind} -t` checks it") from e
