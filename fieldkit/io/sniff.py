"""Sniffing: what a file is (magic bytes), its text encoding, and its delimiter.

Decisions are made from a bounded sample (head and tail) so a multi-GB file is judged in
milliseconds; the loaders then pick a lazy scan or a streamed transcode from the verdict.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fieldkit.errors import InputError

SAMPLE_BYTES = 1 << 20  # 1 MiB head (and tail) sample for encoding and dialect decisions

# Magic numbers of formats we read, and of common binaries we refuse with a clear name.
MAGIC_READ = [
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),  # xlsx (checked further)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),  # legacy .xls (or .doc)
]
MAGIC_BINARY = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable program"),
    (b"MZ", "a Windows executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"RIFF", "a media file"),
    (b"OggS", "an audio file"),
    (b"ID3", "an MP3 file"),
]

BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

DELIMITERS = [",", "\t", ";", "|"]


def check_input_path(path: Path) -> os.stat_result | None:
    """stat() an input path, refusing with a plain reason what is not a regular file or folder.

    Returns None for a folder's listing to handle; a FIFO or device would block or never end,
    a symlink loop is not "missing", and a folder that cannot be entered is a permission issue.
    """
    import errno
    import stat as st

    try:
        info = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link loop", "point the link at a real file") from e
        if e.errno == errno.EACCES:
            raise InputError(f"cannot reach {path}: permission denied on a folder on the way",
                             "check the folders' permissions (ls -ld on each) or copy the file") from e
        if e.errno == errno.ENOTDIR:
            raise InputError(f"{path} does not exist (a part of the path is a file, not a folder)",
                             "check the path and spelling") from e
        if e.errno == errno.ENAMETOOLONG:
            raise InputError("the path is too long", "check the path") from e
        if os.path.islink(path):
            raise InputError(f"{path} is a symbolic link to something that does not exist",
                             f"fix the link (ls -l {path})") from e
        if e.errno == errno.ENOENT:
            raise InputError(f"{path} does not exist", "check the path and spelling") from e
        raise InputError(f"cannot read {path}: {e.strerror or e}", "check the disk and the path") from e
    if st.S_ISDIR(info.st_mode):
        return None
    if not st.S_ISREG(info.st_mode):
        what = ("a named pipe (FIFO)" if st.S_ISFIFO(info.st_mode) else
                "a device" if st.S_ISCHR(info.st_mode) or st.S_ISBLK(info.st_mode) else
                "a socket" if st.S_ISSOCK(info.st_mode) else "not a regular file")
        raise InputError(f"{path} is {what}, not a file fieldkit can read",
                         "save the data to a regular file first and give that")
    return info


def only_blank(path: Path) -> bool:
    """True if the file holds nothing but whitespace (stops at the first other byte)."""
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            if block.strip(b" \t\r\n\x00\x0b\x0c"):
                return False
    return True


def read_head(path: Path, n: int | None = None) -> bytes:
    """First n bytes (default SAMPLE_BYTES), turning OS errors into plain InputErrors."""
    n = n or SAMPLE_BYTES
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except PermissionError as e:
        raise InputError(
            f"cannot read {path}: permission denied",
            f"check the file's permissions (ls -l {path}) or copy it somewhere you can read",
        ) from e
    except IsADirectoryError as e:  # pragma: no cover - folders are handled earlier
        raise InputError(f"{path} is a folder", "give a file, or open the folder to list it") from e
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}", "check the disk and the path") from e


def read_tail(path: Path, n: int | None = None) -> bytes:
    n = n or SAMPLE_BYTES
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - n))
        return f.read(n)


def magic_kind(head: bytes) -> str | None:
    """The container format named by the first bytes, or None for (probably) text."""
    for magic, kind in MAGIC_READ:
        if head.startswith(magic):
            return kind
    return None


def binary_name(head: bytes) -> str | None:
    """A human name for a binary file we cannot read, or None if it may be text."""
    for magic, name in MAGIC_BINARY:
        if head.startswith(magic):
            return name
    if bom_encoding(head) or utf16_without_bom(head):
        return None
    sample = head[:65536]
    if not sample:
        return None
    nul = sample.count(0)
    controls = sum(sample.count(b) for b in range(1, 32) if b not in (9, 10, 12, 13, 27))
    if nul / len(sample) > 0.3:
        return "a binary file"
    if nul / len(sample) > 0.01 or controls / len(sample) > 0.05:
        # a few stray NULs in otherwise valid text are a messy export, not a binary
        if controls / len(sample) > 0.05 or not _is_utf8(sample.replace(b"\x00", b""), final=False):
            return "a binary file"
    return None


def bom_encoding(head: bytes) -> str | None:
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 without a BOM shows as a NUL in every other byte of ASCII-heavy text."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _is_utf8(sample: bytes, final: bool) -> bool:
    """Valid UTF-8, allowing a multi-byte character cut at the end of a partial sample."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=final)
        return True
    except UnicodeDecodeError:
        return False


@dataclass
class EncodingGuess:
    encoding: str  # a Python codec name
    confident: bool
    how: str  # "bom", "utf-8", "mojibake score", "user", ...
    repair: str | None = None  # UTF-8 whose few bad byte runs are read with this code page


def detect_encoding(head: bytes, tail: bytes = b"", whole: bool = False) -> EncodingGuess:
    """Encoding of a text sample: BOM, UTF-16 NUL pattern, UTF-8 (strict, or with a few bad
    runs repaired), then the legacy encoding whose reading shows the least mojibake.

    `whole` says the head is the entire file (so a cut character at the end is an error).
    """
    bom = bom_encoding(head)
    if bom:
        return EncodingGuess(bom, True, "bom")
    u16 = utf16_without_bom(head)
    if u16:
        return EncodingGuess(u16, False, "nul-pattern")
    if _is_utf8(head, final=whole) and (not tail or _utf8_tail(tail)):
        return EncodingGuess("utf-8", True, "utf-8")
    from fieldkit.io import encodings

    newline = newline_style(head)
    sample = head[: 256 * 1024]
    fallback = encodings.mixed_utf8_fallback(head, final=whole, newline=newline)
    if fallback is None and tail and _is_utf8(head, final=whole) and \
            encodings.utf8_evidence(head, final=False)[0] > 0:
        # UTF-8 text in the head, a bad byte in the tail: still UTF-8, with that run repaired
        fallback = encodings.mixed_utf8_fallback(tail[_continuations(tail):], final=True,
                                                 newline=newline) or "cp1252"
    if fallback is not None:
        return EncodingGuess("utf-8", False, f"utf-8, bad bytes read as {fallback}", repair=fallback)
    enc = encodings.choose_encoding(sample + b"\n" + tail[_continuations(tail):], newline)
    if enc is None:
        return EncodingGuess("latin_1", False, "fallback")
    return EncodingGuess(_canonical(enc), False, "mojibake score")


def _continuations(tail: bytes) -> int:
    """How many UTF-8 continuation bytes open a tail sample cut inside a character."""
    i = 0
    while i < 3 and i < len(tail) and 0x80 <= tail[i] < 0xC0:
        i += 1
    return i


def _utf8_tail(tail: bytes) -> bool:
    # the tail sample may start inside a character: skip up to 3 continuation bytes
    return _is_utf8(tail[_continuations(tail):], final=True)


def _decodes(data: bytes, enc: str) -> bool:
    try:
        data.decode(enc)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def _canonical(enc: str) -> str:
    try:
        return codecs.lookup(enc).name
    except LookupError:
        return enc


# codecs Python knows that are not a way to store text in a file (or cannot decode a stream
# with errors="replace"): refusing them early beats an internal error deep in a reader
NOT_FILE_ENCODINGS = {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape",
                      "palmos", "mbcs", "oem"}


def check_encoding_name(enc: str) -> str:
    """Validate a user-given --encoding: a known codec that really stores text in files."""
    from fieldkit.errors import UsageError

    aliases = {"gbk": "gbk", "gb2312": "gb18030", "latin1": "latin_1", "latin-1": "latin_1",
               "macroman": "mac_roman", "mac-roman": "mac_roman", "utf8": "utf-8",
               "utf16": "utf-16"}
    name = aliases.get(enc.lower(), enc)
    hint = "use a text encoding such as utf-8, utf-16, gb18030, cp1252, latin-1, mac_roman"
    try:
        info = codecs.lookup(name)
    except LookupError as e:
        raise UsageError(f"unknown encoding {enc!r}", hint) from e
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_FILE_ENCODINGS:
        raise UsageError(f"{enc!r} is not a text file encoding", hint)
    return info.name


def check_forced_encoding(head: bytes, enc: str, whole: bool, name: str) -> None:
    """Refuse a user-given encoding that plainly does not fit the file (sample evidence).

    Signs: the codec fails outright, more than 1% of the characters are undecodable (not for
    UTF-8, whose few bad bytes are repaired and counted), or the
    bytes hold line breaks the decoded text lacks (UTF-16/32 forced on a UTF-8 file).
    """
    from fieldkit.errors import InputError as _IE

    sample = head[: 256 * 1024]
    hint = "leave out --encoding to let fieldkit detect it (`fieldkit inspect` shows what it found)"
    try:
        text = codecs.getincrementaldecoder(enc)(errors="replace").decode(sample, final=whole)
    except (UnicodeError, LookupError, TypeError, ValueError) as e:
        raise _IE(f"{name} cannot be decoded as {enc}: {e}", hint) from e
    bad = text.count("\ufffd")
    if not enc.startswith("utf-8") and bad > max(8, 0.01 * len(text)):
        raise _IE(f"{name} does not look like {enc} text "
                  f"({text.count(chr(0xFFFD)):,} undecodable characters in the first "
                  f"{len(sample) // 1024 or 1:,} KiB)", hint)
    if (b"\n" in sample or b"\r" in sample) and "\n" not in text and "\r" not in text:
        raise _IE(f"{name} does not look like {enc} text (its line breaks do not decode as such)",
                  hint)


@dataclass
class Dialect:
    delimiter: str
    quoting: int  # csv.QUOTE_MINIMAL or csv.QUOTE_NONE
    fields: int  # the usual number of fields per row
    consistency: float  # share of sample rows with that many fields
    preamble: int = 0  # rows before the header (a title, a "# source" comment): skipped
    headerless: bool = False  # the first row is numbers like the rows below: data, columns named column_N


MAX_PREAMBLE = 5
# Blank-separated columns only when nothing else fits and nearly every row has the same count (prose does not).
SPACE_CONSISTENCY = 0.9


def _strip_trailing(row: list[str]) -> int:
    n = len(row)
    while n and not row[n - 1].strip():
        n -= 1
    return n


def _number(v: str) -> bool:
    try:
        float(v.replace(",", ""))
    except ValueError:
        return False
    return bool(v.strip())


def find_preamble(lines: list[str], delim: str, quoting: int, mode: int) -> tuple[int, bool]:
    """(rows before the header, whether the first row after them is data): a title or comment line above a table.

    Why: `# Data source: ...` above a header made a one-column table of every row (the rest cut), and a
    short first line above 14 numeric columns cut 9 of them. A leading row is a preamble only when it has
    fewer fields than the table, the rows after it have the table's count, and that count is not the
    preamble's plus trailing empty fields (`a,b,c,` rows under an `x,y,z` header are a table already).
    """
    reader = csv_reader(io.StringIO("\n".join(lines)), delim, quoting)
    try:
        rows = [r for r in reader if r]
    except csv.Error:
        return 0, False
    if len(rows) > 1 and all(_number(v) for v in rows[0] + rows[1]) and (
            len(set(rows[0])) < len(rows[0]) or any(not v.strip().lstrip("-").isdigit() for v in rows[0])):
        # numbers over numbers, with repeats or decimals: data, not column names (a header of years has neither)
        return 0, True
    k = 0
    while k < min(MAX_PREAMBLE, len(rows) - 2) and len(rows[k]) < mode:
        k += 1
    rest = rows[k:]
    if k == 0 or not rest or len(rest[0]) != mode:
        return 0, False
    if sum(len(r) == mode for r in rest) < 0.9 * len(rest):
        return 0, False
    if sum(_strip_trailing(r) <= len(rows[k - 1]) for r in rest) >= 0.9 * len(rest):
        return 0, False  # trailing empty fields, not a wider table
    return k, all(_number(v) for v in rest[0])


def csv_reader(lines, delim: str, quoting: int):
    """csv.reader over lines; a blank delimiter means runs of blanks (instrument and model output tables)."""
    if delim == " ":
        return csv.reader((ln.strip() for ln in lines), delimiter=" ", quoting=quoting, skipinitialspace=True,
                          strict=False)
    return csv.reader(lines, delimiter=delim, quoting=quoting, strict=False)


def _field_counts(lines: list[str], delim: str, quoting: int) -> list[int]:
    reader = csv_reader(io.StringIO("\n".join(lines)), delim, quoting)
    try:
        return [len(r) for r in reader if r]
    except csv.Error:
        return []


def sniff_dialect(text: str, suffix: str = "", max_lines: int = 200) -> Dialect:
    """Pick the delimiter (comma, tab, semicolon, pipe) that splits sample rows most evenly.

    A file extension only breaks ties (.tsv prefers tab). For tabs we also try no quoting,
    since real TSV exports carry unescaped quotes inside answers.
    """
    lines = [ln for ln in text.splitlines()[:max_lines] if ln.strip()]
    if len(lines) > 2:
        lines = lines[:-1]  # the last sample line may be cut
    best: Dialect | None = None
    best_key = None
    for delim in DELIMITERS:
        for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
            if quoting == csv.QUOTE_NONE and delim != "\t":
                continue
            counts = _field_counts(lines, delim, quoting)
            if not counts:
                continue
            mode, hits = Counter(counts).most_common(1)[0]
            consistency = hits / len(counts)
            if mode < 2:
                continue
            header_ok = counts[0] == mode
            pref = (suffix == ".tsv" and delim == "\t") or (suffix == ".csv" and delim == ",")
            # For tab, keep quotes only if that is strictly more consistent.
            quote_pref = quoting == csv.QUOTE_NONE
            key = (round(consistency, 2), header_ok, pref, mode, quote_pref)
            if best_key is None or key > best_key:
                best_key = key
                best = Dialect(delim, quoting, mode, consistency)
    if best is None or best.consistency < SPACE_CONSISTENCY:
        # no delimiter character splits the rows evenly: columns separated by runs of blanks?
        counts = _field_counts(lines, " ", csv.QUOTE_MINIMAL)
        if counts:
            mode, hits = Counter(counts).most_common(1)[0]
            if mode >= 2 and hits / len(counts) >= SPACE_CONSISTENCY:
                best = Dialect(" ", csv.QUOTE_MINIMAL, mode, hits / len(counts))
    if best is None:
        return Dialect("\t" if suffix == ".tsv" else ",", csv.QUOTE_MINIMAL, 1, 1.0)
    best.preamble, best.headerless = find_preamble(lines, best.delimiter, best.quoting, best.fields)
    return best


def newline_style(sample: bytes) -> str:
    """'\\n', '\\r\\n' or '\\r' (CR-only, old Mac exports), judged from a sample."""
    crlf = sample.count(b"\r\n")
    lf = sample.count(b"\n") - crlf
    cr = sample.count(b"\r") - crlf
    if cr > 0 and cr > lf and cr > crlf:
        return "\r"
    if crlf > lf:
        return "\r\n"
    return "\n"


def file_size(path: Path) -> int:
    return os.stat(path).st_size
