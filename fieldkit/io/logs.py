"""Plain-text log loader: one record per entry, with timestamp, level and message split out.

CONTRACT (other packages rely on it):
    scan_log(path, reporter=None) -> pl.LazyFrame with columns
        line_no (Int64, first physical line of the record), timestamp (Datetime[us] or null),
        level (str, upper-cased, or null), message (str), raw (str)
    looks_like_log(path) -> bool
    iter_log_batches(path, batch_bytes=..., reporter=None) -> Iterator[pl.DataFrame]
        the same records in bounded-memory batches, for multi-GB logs.

Everything is done with Polars string expressions (a small ordered set of anchored regexes),
never a Python loop over rows, so a 2 GB log parses at Polars speed. Lines that start with
whitespace, `at `, `Caused by:` or `...` (stack traces) are joined to the line that starts
them. Timestamps with an offset are converted to UTC and stored naive; those without one are
kept as written (local time). Syslog timestamps carry no year: the current year is assumed,
or the previous one when that would put the line more than a day in the future.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

import polars as pl

from fieldkit.errors import InputError
from fieldkit.progress import Reporter

# A byte that practically never occurs in text logs, used as the "separator" so that the CSV
# scanner hands us whole lines (the CSV scanner tolerates invalid UTF-8; scan_lines does not).
_NO_SEP = "\x1f"

CONTINUATION_RE = r"^(?:\s|at |Caused by:|\.\.\.)"
_CONT_PY = re.compile(CONTINUATION_RE)

# The timestamp may follow up to five header fields (BGL, HPC put ids and hosts first).
_PREFIX = r"^(?:\S+\s+){0,5}?"
_END = r"([\s\]|,;]|$)"  # captured, and put back, so `|comp|` headers stay visible


@dataclass(frozen=True)
class TimeForm:
    """One timestamp form: regex (group 1 = the timestamp text) and how to parse it."""

    name: str
    pattern: str  # matched after _PREFIX; group 1 is the timestamp text
    fmt: str | None  # strptime format, or None for a special case handled in code


# Tried in order; the first that matches a line decides its timestamp and where its header ends.
TIME_FORMS: tuple[TimeForm, ...] = (
    TimeForm("iso8601_offset",
             r"\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2}))\]?" + _END,
             "%Y-%m-%d %H:%M:%S%.f%z"),
    TimeForm("iso8601", r"\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)\]?" + _END,
             "%Y-%m-%d %H:%M:%S%.f"),
    TimeForm("bgl", r"(\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}(?:\.\d{1,9})?)" + _END, "%Y-%m-%d-%H.%M.%S%.f"),
    TimeForm("apache_error", r"\[(\w{3} \w{3} [ \d]?\d \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\]",
             "%a %b %e %H:%M:%S%.f %Y"),
    TimeForm("clf", r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]", "%d/%b/%Y:%H:%M:%S %z"),
    TimeForm("compact_ms", r"(\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d{1,3})" + _END, None),  # ms not zero-padded
    TimeForm("slash_ymd", r"\[?(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)\]?" + _END,
             "%Y/%m/%d %H:%M:%S%.f"),
    TimeForm("slash_yy", r"(\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})" + _END, "%y/%m/%d %H:%M:%S"),
    TimeForm("yymmdd_hhmmss", r"(\d{6} \d{6})" + _END, "%y%m%d %H%M%S"),
    TimeForm("syslog", r"([A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2})" + _END, None),
    TimeForm("epoch", r"(1\d{9}(?:\.\d{1,6})?)" + _END, None),
)

LEVEL_WORDS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "WARN", "ERROR", "ERR", "SEVERE",
               "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "FAILURE")
_LEVEL_ALT = "|".join(LEVEL_WORDS)
# Upper-case level words count anywhere in the first few header fields; other casings only
# when bracketed (`[notice]`, `<error>`), so the word "error" inside a message is not a level.
_LEVEL_RE = (r"^\s*(?:\S+\s+){0,4}?(?:[\[<]\s*((?i:" + _LEVEL_ALT + r"))\s*[\]>]|(" + _LEVEL_ALT
             + r")):?(?:\s+|$)")
_LEVEL_NORMAL = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL"}

# After the level: Log4j/Zookeeper `[thread...] - `, `[thread] dotted.Logger: `, or `- `.
_AFTER_LEVEL = (
    r"^\[[^\n]*?\]\s+-\s+",
    r"^(?:\[[^\]]*\]\s+)?[A-Za-z_][\w$]*(?:\.[\w$]+)+(?:\[[^\]]*\])?:\s+",
    r"^-\s+",
)
# Without a level: `|component|pid|` fields (HealthApp-style), syslog `host tag[pid]: `,
# and the one-digit flag that follows an epoch timestamp in cluster event logs (HPC).
_PIPE_HEADER = r"^\s*\|(?:[^|\s]*\|){1,2}"
_SYSLOG_HEADER = r"^\s*\S+\s+[\w./()-]+(?:\[\d+\])?:\s+"
_EPOCH_FLAG = r"^\s*-?\d\s+"

SCHEMA = {"line_no": pl.Int64, "timestamp": pl.Datetime("us"), "level": pl.String,
          "message": pl.String, "raw": pl.String}


def _parse_time(text: pl.Expr, form: TimeForm) -> pl.Expr:
    dt = pl.Datetime("us")
    if form.name == "epoch":
        secs = text.cast(pl.Float64, strict=False)
        return (secs * 1_000_000).cast(pl.Int64).cast(dt)
    if form.name == "syslog":
        now = datetime.now()
        this_year = (pl.lit(str(now.year)) + " " + text).str.strptime(dt, "%Y %b %e %H:%M:%S", strict=False)
        return pl.when(this_year > pl.lit(now).dt.offset_by("1d")).then(
            this_year.dt.offset_by("-1y")).otherwise(this_year)
    if form.name == "compact_ms":
        base = text.str.extract(r"^(.*):\d{1,3}$").str.strptime(dt, "%Y%m%d-%H:%M:%S", strict=False)
        return base + pl.duration(milliseconds=text.str.extract(r":(\d{1,3})$").cast(pl.Int64))
    if form.name.startswith("iso8601"):
        text = text.str.replace("T", " ", literal=True).str.replace(",", ".", literal=True)
        if form.name == "iso8601_offset":
            text = text.str.replace(r"Z$", "+0000").str.replace(r"([+-]\d{2}):(\d{2})$", "$1$2")
    parsed = text.str.strptime(dt, form.fmt, strict=False)
    if "%z" in (form.fmt or ""):
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return parsed


def _header_re(form: TimeForm) -> str:
    return _PREFIX + form.pattern


def parse_records(lines: pl.LazyFrame, forms: Sequence[int] | None = None) -> pl.LazyFrame:
    """Turn a frame of (line_no, raw) physical lines into log records (the contract columns).

    `forms` limits the timestamp forms tried to those indexes (all by default); callers that know
    which forms occur in the batch pass them, which gives the same result faster.
    """
    use = list(range(len(TIME_FORMS))) if forms is None else sorted(forms)
    raw = pl.col("raw")
    lines = lines.with_columns(raw.fill_null("").str.strip_suffix("\r").alias("raw"))
    nonblank = raw.str.len_bytes() > 0
    cont = raw.str.contains(CONTINUATION_RE)
    lines = lines.with_columns(
        (nonblank & (~cont | (nonblank.cast(pl.Int64).cum_sum() == 1))).alias("_start"))
    lines = lines.with_columns(pl.col("_start").cast(pl.Int64).cum_sum().alias("_rec"))
    starts = lines.filter(pl.col("_start"))
    tails = (lines.filter(~pl.col("_start") & nonblank)
             .group_by("_rec").agg(raw.str.join("\n").alias("_tail")))
    recs = starts.join(tails, on="_rec", how="left", maintain_order="left")

    # Which timestamp form, if any, each record's first line has (first match wins).
    form_idx = pl.lit(None, dtype=pl.Int8)
    for i in reversed(use):
        form = TIME_FORMS[i]
        form_idx = pl.when(raw.str.contains(_header_re(form))).then(pl.lit(i, pl.Int8)).otherwise(form_idx)
    recs = recs.with_columns(form_idx.alias("_form")).cache()

    # Each form's regexes run only on its own rows (cheaper than when/then over every row).
    parts = [recs.filter(pl.col("_form").is_null()).with_columns(
        pl.lit(None, dtype=pl.Datetime("us")).alias("timestamp"), raw.alias("_rest"))]
    for i in use:
        form = TIME_FORMS[i]
        keep_end = "$2" if form.pattern.endswith(_END) else ""
        parts.append(recs.filter(pl.col("_form") == i).with_columns(
            _parse_time(raw.str.extract(_header_re(form), 1), form).alias("timestamp"),
            raw.str.replace(_header_re(form), keep_end).alias("_rest")))
    recs = pl.concat(parts, how="vertical").sort("line_no")

    rest = pl.col("_rest")
    groups = rest.str.extract_groups(_LEVEL_RE)
    level = pl.coalesce(groups.struct.field("1").str.to_uppercase(), groups.struct.field("2"))
    recs = recs.with_columns(level.replace(_LEVEL_NORMAL).alias("level")).cache()

    after_level = rest.str.replace(_LEVEL_RE, "")
    for pat in _AFTER_LEVEL:
        after_level = after_level.str.replace(pat, "")
    form = pl.col("_form")
    names = [f.name for f in TIME_FORMS]
    no_level = (pl.when(rest.str.contains(_PIPE_HEADER)).then(rest.str.replace(_PIPE_HEADER, ""))
                .when(form == names.index("syslog")).then(rest.str.replace(_SYSLOG_HEADER, ""))
                .when(form == names.index("epoch")).then(rest.str.replace(_EPOCH_FLAG, ""))
                .otherwise(rest))
    has_level = pl.col("level").is_not_null()
    recs = pl.concat([recs.filter(has_level).with_columns(after_level.str.strip_chars().alias("_first")),
                      recs.filter(~has_level).with_columns(no_level.str.strip_chars().alias("_first"))],
                     how="vertical").sort("line_no")
    first = pl.col("_first")
    tail = pl.col("_tail")
    message = pl.when(tail.is_null()).then(first).otherwise(first + "\n" + tail)
    full_raw = pl.when(tail.is_null()).then(raw).otherwise(raw + "\n" + tail)
    return recs.select(
        pl.col("line_no").cast(pl.Int64),
        pl.col("timestamp"),
        pl.col("level"),
        message.alias("message"),
        full_raw.alias("raw"),
    )


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist", "check the path")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a log file", "pass the log files, or use `fieldkit logs FOLDER`")
    return p


def _lines_from_csv(source, offset: int = 1) -> pl.LazyFrame:
    kw = dict(has_header=False, separator=_NO_SEP, quote_char=None, new_columns=["raw"],
              schema={"raw": pl.String}, truncate_ragged_lines=True, encoding="utf8-lossy")
    if isinstance(source, (bytes, bytearray)):
        if not source:
            return pl.LazyFrame(schema={"line_no": pl.Int64, "raw": pl.String})
        frame = pl.read_csv(io.BytesIO(source), **kw).lazy()
    else:
        frame = pl.scan_csv(source, **kw)
    return frame.with_row_index("line_no", offset=offset).with_columns(pl.col("line_no").cast(pl.Int64))


def scan_log(path: str | Path, reporter: Reporter | None = None) -> pl.LazyFrame:
    """Lazily read a text log as records (line_no, timestamp, level, message, raw).

    The frame is a Polars IO source fed by `iter_log_batches`, so sinks stream in bounded
    memory and `head(n)` reads only the start of the file.
    """
    from polars.io.plugins import register_io_source

    p = _check_path(path)
    if reporter is not None:
        reporter.check()

    def source(with_columns, predicate, n_rows, batch_size):
        remaining = n_rows
        small = n_rows is not None and n_rows < 10_000
        for df in iter_log_batches(p, batch_bytes=(1 << 20) if small else (16 << 20), reporter=reporter):
            if predicate is not None:
                df = df.filter(predicate)
            if with_columns is not None:
                df = df.select(with_columns)
            if remaining is not None:
                df = df.head(remaining)
                remaining -= df.height
            yield df
            if remaining is not None and remaining <= 0:
                break

    return register_io_source(source, schema=SCHEMA, is_pure=True, explain_name="fieldkit log",
                              explain_detail=str(p))


def _cut_point(block: bytes) -> int:
    """Offset just after the last newline that is followed by a record start (not a continuation)."""
    end = len(block)
    while True:
        i = block.rfind(b"\n", 0, end)
        if i < 0:
            return -1
        nxt = block[i + 1: i + 64].decode("utf-8", "replace")
        if i + 1 < len(block) and nxt and not _CONT_PY.match(nxt):
            return i + 1
        end = i


def _parse_batch(block: bytes, line_base: int) -> pl.DataFrame:
    """Parse one in-memory block, trying only the timestamp forms that occur in it (same result, faster)."""
    lines = _lines_from_csv(block, line_base).collect()
    raw = pl.col("raw").fill_null("")
    present = lines.select([raw.str.contains(_header_re(f)).any().alias(str(i))
                            for i, f in enumerate(TIME_FORMS)]).row(0)
    forms = [i for i, hit in enumerate(present) if hit]
    return parse_records(lines.lazy(), forms).collect(engine="in-memory")


def iter_log_batches(path: str | Path, batch_bytes: int = 32 << 20,
                     reporter: Reporter | None = None) -> Iterator[pl.DataFrame]:
    """Yield the log's records in DataFrames of about batch_bytes of text, for bounded memory."""
    p = _check_path(path)
    size = p.stat().st_size
    line_base = 1
    done = 0
    carry = b""
    with open(p, "rb") as fh:
        while True:
            if reporter is not None:
                reporter.update(done)
            chunk = fh.read(batch_bytes)
            block = carry + chunk
            if not chunk:
                if block:
                    yield _parse_batch(block, line_base)
                break
            cut = _cut_point(block)
            if cut <= 0:
                carry = block
                continue
            head, carry = block[:cut], block[cut:]
            yield _parse_batch(head, line_base)
            line_base += head.count(b"\n")
            done += len(head)
    if reporter is not None:
        reporter.update(size)


_PY_TIME = [re.compile(_header_re(f)) for f in TIME_FORMS]
_PY_LEVEL = re.compile(_LEVEL_RE)


def looks_like_log(path: str | Path, sample_bytes: int = 64 << 10) -> bool:
    """True when most of the first lines carry a known timestamp or a level word (cheap sniff)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(sample_bytes)
    except OSError:
        return False
    if not head or b"\x00" in head:
        return False
    text = head.decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines()[:200] if ln.strip() and not _CONT_PY.match(ln)]
    if len(head) == sample_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    if not lines:
        return False
    hits = sum(1 for ln in lines if any(r.search(ln) for r in _PY_TIME) or _PY_LEVEL.search(ln))
    return hits / len(lines) >= 0.6
