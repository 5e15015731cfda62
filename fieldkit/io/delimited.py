"""CSV/TSV loader: a lazy scan for clean UTF-8, a tolerant streamed clean-up otherwise.

Clean large UTF-8 files are scanned by Polars in place (opening a 1 GB file takes well
under a second). Anything Polars would misread (another encoding, CR-only newlines, NUL
bytes, ragged rows, stray quotes) goes through Python's forgiving csv reader once, which
writes a clean UTF-8 copy (in memory when small, else in the cache keyed by size+mtime)
and counts every repair so `inspect` can report it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl

from fieldkit import files
from fieldkit.errors import InputError
from fieldkit.io import sniff
from fieldkit.progress import Reporter

SMALL_BYTES = 32 * 1024 * 1024  # below this the tolerant path runs in memory, always
CACHE_VERSION = "1"
MAX_EXAMPLES = 5


@dataclass
class TextStats:
    """What the clean-up pass repaired; all counts are exact over the whole file."""

    rows: int = 0
    long_rows: int = 0  # more fields than the header; extra fields cut
    short_rows: int = 0  # fewer fields than the header; padded with nulls
    trailing_empty: int = 0  # extra fields that were all empty (trailing delimiters)
    blank_lines: int = 0  # skipped blank lines (before the header or between rows)
    preamble: list[str] = field(default_factory=list)  # rows above the header, skipped (first 80 characters)
    headerless: bool = False  # no header row: columns named column_1 ...
    nul_bytes: int = 0  # NUL characters removed
    replaced_chars: int = 0  # undecodable bytes shown as U+FFFD
    repaired_lines: int = 0  # lines of a UTF-8 file whose bad bytes were read with a code page
    long_examples: list[int] = field(default_factory=list)  # physical line numbers
    short_examples: list[int] = field(default_factory=list)
    renamed_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class TextLoad:
    frame: pl.LazyFrame
    encoding: str
    encoding_how: str
    delimiter: str
    quoting: str  # "minimal" | "none"
    newline: str
    mode: str  # "scan" (read in place) | "clean" (tolerant pass)
    stats: TextStats | None
    exact: bool  # ragged/NUL counts cover the whole file (False: head sample only)
    notes: list[str]


def _quoting_name(q: int) -> str:
    return "none" if q == csv.QUOTE_NONE else "minimal"


def load_delimited(
    path: Path,
    *,
    encoding: str | None = None,
    tolerant: bool = False,
    reporter: Reporter | None = None,
    suffix: str | None = None,
) -> TextLoad:
    size = sniff.file_size(path)
    head = sniff.read_head(path)
    whole = size <= len(head)
    tail = b"" if whole else sniff.read_tail(path)
    repair = None
    if encoding:
        enc, how = sniff.check_encoding_name(encoding), "user"
        sniff.check_forced_encoding(head, enc, whole, path.name)
    else:
        guess = sniff.detect_encoding(head, tail, whole)
        enc, how, repair = guess.encoding, guess.how, guess.repair
    dec = _decoder(enc)
    try:
        text_head = dec.decode(head, final=whole)
    except UnicodeError:
        text_head = head.decode(enc, errors="replace")
    if not text_head.strip(" \r\n\t\x00\ufeff"):
        raise InputError(f"{path.name} has no data (only blank lines)", "check that the export finished")
    suffix = suffix if suffix is not None else path.suffix.lower()
    newline = sniff.newline_style(head)
    dialect = sniff.sniff_dialect(text_head, suffix)
    notes: list[str] = []

    clean_sample = (
        enc in ("utf-8", "utf-8-sig")  # Polars strips a UTF-8 BOM itself
        and newline != "\r"
        and b"\x00" not in head
        and b"\x00" not in tail
        and dialect.consistency == 1.0
        and dialect.delimiter not in ('"', " ")  # runs of blanks: Polars reads one blank as one separator
        and not dialect.headerless  # Polars would take the first data row as the header
        and repair is None  # bad bytes must be repaired and counted, not lost in a lossy scan
    )
    if not tolerant and size > SMALL_BYTES and not clean_sample and repair is None and _clean_but_encoding(
            enc, newline, head, tail, dialect):
        # Only the encoding is wrong: a plain streamed re-encode (no CSV parsing) is ~10x
        # faster than the tolerant pass, and Polars then scans the UTF-8 copy lazily.
        target = _transcode_plain(path, enc, reporter)
        frame = _scan_utf8(target, dialect)
        notes.append(
            f"large {enc} file re-encoded to UTF-8 in the cache; ragged rows checked on the first "
            f"{len(head) // 1024:,} KiB only (a later over-long row makes convert redo a full, "
            "counted check)"
        )
        return TextLoad(frame, enc, how, dialect.delimiter, _quoting_name(dialect.quoting),
                        newline, "scan", None, False, notes)
    if not tolerant and size > SMALL_BYTES and clean_sample:
        frame = _scan_utf8(path, dialect)
        notes.append(
            f"large file read in place; ragged rows checked on the first {len(head) // 1024:,} KiB "
            "only (a later over-long row makes convert redo a full, counted check; a later short "
            "row is padded with nulls uncounted)"
        )
        return TextLoad(frame, enc, how, dialect.delimiter, _quoting_name(dialect.quoting),
                        newline, "scan", None, False, notes)

    frame, stats = _clean(path, size, enc, dialect, reporter, repair)
    notes.extend(_describe(stats, dialect))
    return TextLoad(frame, enc, how, dialect.delimiter, _quoting_name(dialect.quoting),
                    newline, "clean", stats, True, notes)


def _clean_but_encoding(enc: str, newline: str, head: bytes, tail: bytes,
                        dialect: sniff.Dialect) -> bool:
    wide = enc.startswith(("utf-16", "utf-32"))  # NUL bytes are part of these encodings
    return (newline != "\r" and dialect.consistency == 1.0 and dialect.delimiter not in ('"', " ")
            and not dialect.headerless
            and (wide or (b"\x00" not in head and b"\x00" not in tail)))


def _transcode_plain(path: Path, enc: str, reporter: Reporter | None) -> Path:
    """Stream-decode `path` from `enc` into a UTF-8 cache file (once per size+mtime)."""
    import codecs

    from fieldkit.config import cache_home

    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{enc}|plain|{CACHE_VERSION}"
    key = hashlib.sha256(ident.encode()).hexdigest()[:32]
    folder = cache_home() / "io"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.utf8.csv"
    if target.exists():
        return target
    rep = reporter.child("re-encoding", st.st_size) if reporter else None
    dec = codecs.getincrementaldecoder(enc)(errors="replace")
    with files.atomic_path(target, durable=False) as tmp, open(path, "rb") as src, open(tmp, "wb") as out:
        first = True
        while block := src.read(8 << 20):
            text = dec.decode(block)
            if first:
                text, first = text.lstrip("\ufeff"), False
            out.write(text.encode("utf-8"))
            if rep is not None:
                rep.update(src.tell())
        out.write(dec.decode(b"", final=True).encode("utf-8"))
    return target


def _decoder(enc: str):
    import codecs

    return codecs.getincrementaldecoder(enc)(errors="strict")


class _CountingReader(io.RawIOBase):
    """Wraps a binary file to expose how many bytes were consumed (for progress)."""

    def __init__(self, raw):
        self.raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        self.consumed += n or 0
        return n


def _lines(text: io.TextIOBase, stats: TextStats, check_replaced: bool) -> Iterator[str]:
    from fieldkit.io.encodings import REPAIR_MARK

    for line in text:
        if REPAIR_MARK in line:
            stats.repaired_lines += 1
            line = line.replace(REPAIR_MARK, "")
        if "\x00" in line:
            stats.nul_bytes += line.count("\x00")
            line = line.replace("\x00", "")
        if check_replaced and "\ufffd" in line:
            stats.replaced_chars += line.count("\ufffd")
        yield line


def _dedupe(header: list[str], stats: TextStats) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(header):
        new = name.strip("\ufeff") if i == 0 else name
        if not new.strip():
            new = f"column_{i + 1}"
        base, k = new, 2
        while new in seen:
            new = f"{base}_{k}"
            k += 1
        if new != name and not (i == 0 and name.lstrip("\ufeff") == new):
            stats.renamed_headers[name] = new
        seen.add(new)
        out.append(new)
    return out


def _clean_rows(path: Path, size: int, enc: str, dialect: sniff.Dialect, out: io.TextIOBase,
                reporter: Reporter | None, repair: str | None = None) -> TextStats:
    """Stream the file through csv.reader, writing normalized UTF-8 CSV rows to `out`."""
    stats = TextStats()
    writer = csv.writer(out, lineterminator="\n")
    rep = reporter.child("reading", size) if reporter else None
    with open(path, "rb") as raw_file:
        counting = _CountingReader(raw_file)
        buffered = io.BufferedReader(counting, buffer_size=1 << 20)
        from fieldkit.io.encodings import repair_handler

        errors = repair_handler(repair) if repair else "replace"
        text = io.TextIOWrapper(buffered, encoding=enc, errors=errors, newline="")
        reader = sniff.csv_reader(_lines(text, stats, check_replaced=True), dialect.delimiter, dialect.quoting)
        header: list[str] | None = None
        n = 0
        skip = dialect.preamble
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    stats.blank_lines += 1
                    continue
                if skip:
                    skip -= 1
                    stats.preamble.append(dialect.delimiter.join(row)[:80])
                    continue
                if header is None:
                    if dialect.headerless:
                        stats.headerless = True
                        header = [f"column_{i + 1}" for i in range(len(row))]
                        n = len(header)
                        writer.writerow(header)
                    else:
                        header = _dedupe(row, stats)
                        n = len(header)
                        writer.writerow(header)
                        continue
                k = len(row)
                if k < n:
                    stats.short_rows += 1
                    if len(stats.short_examples) < MAX_EXAMPLES:
                        stats.short_examples.append(reader.line_num)
                    row.extend([""] * (n - k))
                elif k > n:
                    if any(v.strip() for v in row[n:]):
                        stats.long_rows += 1
                        if len(stats.long_examples) < MAX_EXAMPLES:
                            stats.long_examples.append(reader.line_num)
                    else:
                        stats.trailing_empty += 1
                    del row[n:]
                writer.writerow(row)
                stats.rows += 1
                if rep is not None and stats.rows % 20_000 == 0:
                    rep.update(counting.consumed)
        except csv.Error as e:
            raise InputError(f"{path.name} cannot be parsed as delimited text: {e}",
                             "check the file, or pass --encoding if the text looks garbled") from e
        if rep is not None:
            rep.update(size)
    if header is None:
        raise InputError(f"{path.name} has no header row", "check that the export finished")
    return stats


def _cache_key(path: Path, enc: str, dialect: sniff.Dialect, repair: str | None = None) -> str:
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{enc}|{repair}|{dialect.delimiter}|" \
            f"{dialect.quoting}|{dialect.preamble}|{dialect.headerless}|{CACHE_VERSION}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _clean(path: Path, size: int, enc: str, dialect: sniff.Dialect,
           reporter: Reporter | None, repair: str | None = None) -> tuple[pl.LazyFrame, TextStats]:
    if size <= SMALL_BYTES:
        buf = io.BytesIO()
        text = io.TextIOWrapper(buf, encoding="utf-8", newline="")
        stats = _clean_rows(path, size, enc, dialect, text, reporter, repair)
        text.flush()
        data = buf.getvalue()
        text.detach()
        return _read_clean_bytes(data, stats), stats

    from fieldkit.config import cache_home

    folder = cache_home() / "io"
    folder.mkdir(parents=True, exist_ok=True)
    key = _cache_key(path, enc, dialect, repair)
    target = folder / f"{key}.csv"
    meta = folder / f"{key}.json"
    if target.exists() and meta.exists():
        with contextlib.suppress(Exception):
            stats = TextStats(**json.loads(meta.read_text()))
            return _scan_clean(target), stats
    with files.atomic_path(target, durable=False) as tmp, \
            open(tmp, "w", encoding="utf-8", newline="") as out:
        stats = _clean_rows(path, size, enc, dialect, out, reporter, repair)
    files.write_text_atomic(meta, json.dumps(asdict(stats)), durable=False)
    return _scan_clean(target), stats


def _read_clean_bytes(data: bytes, stats: TextStats) -> pl.LazyFrame:
    try:
        df = pl.read_csv(io.BytesIO(data), infer_schema_length=None, raise_if_empty=False)
    except pl.exceptions.ComputeError:
        df = pl.read_csv(io.BytesIO(data), infer_schema=False, raise_if_empty=False)
    return df.lazy()


def _scan_clean(target: Path) -> pl.LazyFrame:
    return pl.scan_csv(target, infer_schema_length=10_000, raise_if_empty=False)


def _describe(stats: TextStats, dialect: sniff.Dialect) -> list[str]:
    notes = []

    def lines(ex: list[int]) -> str:
        return " (lines " + ", ".join(map(str, ex)) + ("..." if len(ex) >= MAX_EXAMPLES else "") + ")"

    if stats.long_rows:
        notes.append(f"{stats.long_rows:,} row(s) had more fields than the header; extra fields cut"
                     + lines(stats.long_examples))
    if stats.short_rows:
        notes.append(f"{stats.short_rows:,} row(s) had fewer fields than the header; padded with nulls"
                     + lines(stats.short_examples))
    if stats.trailing_empty:
        notes.append(f"{stats.trailing_empty:,} row(s) ended with extra empty fields; dropped them")
    if stats.blank_lines:
        notes.append(f"{stats.blank_lines:,} blank line(s) skipped")
    if stats.nul_bytes:
        notes.append(f"{stats.nul_bytes:,} NUL byte(s) removed")
    if stats.repaired_lines:
        notes.append(f"{stats.repaired_lines:,} line(s) were not valid UTF-8; their bad bytes were "
                     "read with the code page that fits them (the rest of the file is UTF-8)")
    if stats.replaced_chars:
        notes.append(f"{stats.replaced_chars:,} character(s) could not be decoded and show as U+FFFD;"
                     " try --encoding")
    if stats.preamble:
        shown = "; ".join(repr(p) for p in stats.preamble[:2])
        notes.append(f"{len(stats.preamble)} line(s) above the table skipped ({shown})")
    if stats.headerless:
        notes.append("no header row (the first row is numbers like the rest): columns named column_1 ...")
    for old, new in stats.renamed_headers.items():
        notes.append(f"column header {old!r} renamed to {new!r} (empty or duplicate)")
    if dialect.quoting == csv.QUOTE_NONE:
        notes.append("quotes are kept as text (the file does not use CSV quoting)")
    return notes


def _scan_utf8(path: Path, dialect) -> pl.LazyFrame:
    """Lazy scan of a UTF-8 delimited file with the sniffed dialect (large files, read in place)."""
    return pl.scan_csv(
        path,
        separator=dialect.delimiter,
        quote_char=None if dialect.quoting == csv.QUOTE_NONE else '"',
        encoding="utf8-lossy",
        infer_schema_length=10_000,
        raise_if_empty=False,
    )
