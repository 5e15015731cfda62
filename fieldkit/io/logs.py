"""Plain-text log loader: one record per entry, with timestamp, level, header columns and message.

CONTRACT (other packages rely on it):
    scan_log(path, reporter=None) -> pl.LazyFrame with columns
        line_no (Int64, first physical line of the record), timestamp (Datetime[us] or null),
        level (str, upper-cased, or null), then the header columns the file has (of host,
        process, pid, thread, component, context; all str), message (str), raw (str)
    file_layout(path) -> Layout   (what was learnt about the header; `.columns`, `.describe()`)
    looks_like_log(path) -> bool
    iter_log_batches(path, batch_bytes=..., reporter=None, layout=None) -> Iterator[pl.DataFrame]
        the same records in bounded-memory batches, for multi-GB logs.
    iter_log_blocks(...) -> Iterator[(bytes, first line number)], parse_block(bytes, line, layout)
        the same batches cut and parsed apart (so that several blocks can be parsed at once).

The header layout is inferred per file from a sample (fieldkit.io.log_header), then applied
with Polars string expressions (one anchored regex with named groups), never a Python loop
over rows. When most lines start with a timestamp, a line without one continues the record
before it (stack traces, even an unindented `java.lang.Error: ...` line); otherwise lines that
start with whitespace, `at `, `Caused by:` or `...` do. Timestamps with an offset are converted
to UTC and stored naive; those without one are kept as written. A year-less timestamp takes
its year from a date elsewhere in the file, else from the file's modification time (the layout
says which). Compressed and UTF-16 files are read through fieldkit.io.log_files.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import polars as pl

from fieldkit.errors import InputError
from fieldkit.io.log_files import is_binary, iter_utf8_chunks, read_head
from fieldkit.io.log_fields import header_columns as _header_columns
from fieldkit.io.log_fields import level_expr as _level_expr
from fieldkit.io.log_fields import split_inner as _split_inner
from fieldkit.io.log_json import BUNYAN_LEVELS, infer_json
from fieldkit.io.log_header import (CTIME_ZONE, HEADER_COLS, LEVEL_ALT, LEVEL_NORMAL, TIME_FORMS, ZONE_END, Layout,
                                    TimeForm, find_timestamps, infer_layout)
from fieldkit.progress import Reporter

__all__ = ["scan_log", "file_layout", "looks_like_log", "iter_log_batches", "iter_log_blocks", "parse_block",
           "parse_records", "TIME_FORMS", "HEADER_COLS", "Layout"]

# A byte that practically never occurs in text logs, used as the "separator" so that the CSV
# scanner hands us whole lines (the CSV scanner tolerates invalid UTF-8; scan_lines does not).
_NO_SEP = "\x1f"

CONTINUATION_RE = r"^(?:\s|at |Caused by:|\.\.\.)"
_CONT_PY = re.compile(CONTINUATION_RE)

# Level words for records the layout does not match: upper-case anywhere in the first few
# tokens, other casings only when bracketed (`[notice]`), so "error" in a message is not a level.
_LEVEL_RE = (r"^\s*(?:\S+\s+){0,4}?(?:[\[<]\s*((?i:" + LEVEL_ALT + r"))\s*[\]>]|(" + LEVEL_ALT
             + r")):?(?:\s+|$)")
_AFTER_LEVEL = (
    r"^\[[^\n]*?\]\s+-\s+",
    r"^(?:\[[^\]]*\]\s+)?[A-Za-z_][\w$]*(?:\.[\w$]+)+(?:\[[^\]]*\])?:\s+",
    r"^-\s+",
)
SAMPLE_BYTES = 256 << 10
SAMPLE_LINES = 2000


# Any timestamp form at the very start of a line (another writer in the same file starts a record too).
_ANY_START = (r'^(?:\S+\s+){0,3}?[\[("]?(?:'
              + "|".join(f.pattern for f in TIME_FORMS if f.name not in ("epoch", "time")) + r")")


def schema_for(layout: Layout | None) -> dict:
    """The record schema for a file with this layout (header columns only where the file has them)."""
    cols = set(layout.columns) if layout is not None else set()
    out = {"line_no": pl.Int64, "timestamp": pl.Datetime("us"), "level": pl.String}
    out.update({c: pl.String for c in HEADER_COLS if c in cols})
    out.update({"message": pl.String, "raw": pl.String})
    return out


SCHEMA = schema_for(None)


_ZONED = {f.name for f in TIME_FORMS if "Z|" in f.pattern or "[+-]" in f.pattern}


def _parse_time(text: pl.Expr, form: TimeForm, layout: Layout) -> pl.Expr:
    dt = pl.Datetime("us")
    text = text.str.strip_chars()
    if form.fmt == "epoch":
        secs = text.cast(pl.Float64, strict=False)
        secs = (pl.when(secs > 1e17).then(secs / 1e9).when(secs > 1e14).then(secs / 1e6)
                .when(secs > 1e11).then(secs / 1e3).otherwise(secs))
        return (secs * 1_000_000).cast(pl.Int64).cast(dt)
    if form.fmt == "compact_ms":
        base = text.str.extract(r"^(.*):\d{1,3}$").str.strptime(dt, "%Y%m%d-%H:%M:%S", strict=False)
        return base + pl.duration(milliseconds=text.str.extract(r":(\d{1,3})$").cast(pl.Int64))
    zoned = form.name in _ZONED  # other forms cannot carry an offset: skip two regex passes
    zone = text.str.extract(r"\s?(Z|[+-]\d{2}:?\d{2}|UTC|GMT)$") if zoned else None
    base = text.str.replace(ZONE_END, "") if zoned else text
    if form.name == "ctime":
        base = base.str.replace(CTIME_ZONE, " $1")
    base = base.str.replace(",", ".", literal=True) if form.name not in ("mon_year",) else base.str.replace_all(",", "")
    fmt = form.fmt
    if form.name in ("iso", "ymd_slash"):
        base = base.str.replace("T", " ", literal=True)
    if form.name == "glog":
        base = base.str.slice(1)
    if form.name == "time":  # a time of day alone: the date is the file's
        day = (layout.mtime or datetime.now()).strftime("%Y-%m-%d")
        base, fmt = pl.lit(day) + " " + base, "%Y-%m-%d " + fmt
    elif not form.has_year:
        base = pl.lit(str(layout.year or datetime.now().year)) + " " + base
        fmt = "%Y " + fmt
    parsed = base.str.strptime(dt, fmt, strict=False)
    if form.name == "mdy_slash":  # day first when month first cannot be a date
        parsed = pl.coalesce(parsed, base.str.strptime(dt, "%d/%m/%Y %H:%M:%S%.f", strict=False))
    if zone is None:
        return _year_back(parsed, form, layout)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    digits = zone.str.replace_all(r"[^0-9]", "")
    offset_min = sign * (digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                         + digits.str.slice(2, 2).cast(pl.Int64, strict=False))
    offset_min = pl.when(zone.is_in(["Z", "UTC", "GMT"])).then(0).otherwise(offset_min).fill_null(0)
    return _year_back(parsed - pl.duration(minutes=offset_min), form, layout)


def _year_back(parsed: pl.Expr, form: TimeForm, layout: Layout) -> pl.Expr:
    from_mtime = layout.year_source.startswith("the file") and layout.mtime is not None
    if not form.has_year and form.name != "time" and from_mtime:
        limit = layout.mtime + timedelta(days=1)  # a year-less stamp after the file was written is last year's
        parsed = pl.when(parsed > pl.lit(limit)).then(parsed.dt.offset_by("-1y")).otherwise(parsed)
    return parsed


def _any_form_re(form: TimeForm) -> str:
    """A timestamp of this form after at most a few header tokens, possibly bracketed (group 1)."""
    return r'^(?:\S+\s+){0,5}?[\[("]?(' + form.pattern + r')[\])"]?(?:[\s,|:\]]+|$)'


def parse_records(lines: pl.LazyFrame | pl.DataFrame, layout: Layout | None = None) -> pl.LazyFrame:
    """Turn a frame of (line_no, raw) physical lines into log records (the contract columns)."""
    df = lines.collect() if isinstance(lines, pl.LazyFrame) else lines
    return _parse_frame(df, layout or Layout()).lazy()


def _parse_frame(lines: pl.DataFrame, layout: Layout, stripped: bool = False) -> pl.DataFrame:
    """`parse_records` on a batch in memory: each regex runs once, and only on the rows that need it."""
    recs = _parse_outer(lines, layout, stripped)
    return _split_inner(recs, layout) if layout.inner is not None and recs.height else recs


def _parse_outer(lines: pl.DataFrame, layout: Layout, stripped: bool = False) -> pl.DataFrame:
    """The records and the file's own header (`_parse_frame` without a header nested in the messages)."""
    raw_s = lines["raw"] if stripped else lines["raw"].fill_null("").str.strip_suffix("\r")
    lines = lines if stripped else lines.with_columns(raw_s.alias("raw"))
    if layout.json is not None:
        return _json_records(lines.lazy(), layout).collect()
    raw = pl.col("raw")
    if layout.comments:  # `#` directives describe the file (again after a restart): not entries, not tails
        keep = ~raw_s.str.starts_with("#")
        lines, raw_s = lines.filter(keep), raw_s.filter(keep)
    nonblank = raw_s.str.contains(r"\S")
    if "_ts" in lines.columns:  # computed by the caller (see _record_starts)
        start = lines["_ts"]
    elif layout.ts_mode:  # a line without a timestamp at its start continues the record before it
        start = raw_s.str.contains(layout.ts_regex()) | raw_s.str.contains(_ANY_START)
        if layout.comments:
            start = start & ~raw_s.str.starts_with("#")
    else:
        start = ~raw_s.str.contains(CONTINUATION_RE)
    if layout.ts_mode and layout.preamble and lines.height and lines["line_no"][0] == 1:
        # the file's header lines before its first entry (as many as the sample saw) are not entries
        keep = (start.cum_sum() > 0) | (nonblank.cum_sum() > layout.preamble)
        lines, start, nonblank = lines.filter(keep), start.filter(keep), nonblank.filter(keep)
    start = nonblank & (start | (nonblank.cast(pl.Int64).cum_sum() == 1))
    lines = lines.select("line_no", "raw")
    if start.all():  # every line starts a record: nothing to join
        recs = lines.with_columns(pl.lit(None, dtype=pl.String).alias("_tail"))
    else:
        rec = start.cast(pl.Int64).cum_sum()
        tails = (lines.filter(~start & nonblank & (rec > 0)).with_columns(rec.filter(~start & nonblank & (rec > 0))
                                                                          .alias("_rec"))
                 .group_by("_rec", maintain_order=True).agg(raw.str.join("\n").alias("_tail")))
        recs = (lines.filter(start).with_columns(rec.filter(start).alias("_rec"))
                .join(tails, on="_rec", how="left", maintain_order="left").drop("_rec"))

    cols = [c for c in HEADER_COLS if c in layout.columns]
    parts = []
    if layout.fields or layout.prefix_tokens:  # a bare timestamp is handled below, with the level-word rules
        head_re = layout.header_regex()
        matched = recs["raw"].str.contains(head_re)
        hit = recs.filter(matched)
        recs = recs.filter(~matched)
        if hit.height:
            g = hit["raw"].str.extract_groups(head_re).struct
            heads = _header_columns(layout)
            level_keys = [f"f{i}" for i, n in enumerate(layout.names) if n == "level"]
            msg = hit["raw"].str.replace(head_re, "")
            if layout.fields and layout.fields[-1][0] in ("level", "letter"):  # the sample said no more; a `[thread] a.b.Logger:` may follow
                for pat in _AFTER_LEVEL[1:]:
                    msg = msg.str.replace(pat, "")
            frame = g.unnest().with_columns(msg.alias("_msg"))
            ts = (_parse_time(pl.col("ts"), layout.form, layout) if layout.form is not None
                  else pl.lit(None, dtype=pl.Datetime("us")))
            level = _level_expr(pl.col(level_keys[0])) if level_keys else pl.lit(None, dtype=pl.String)
            null_s = pl.lit(None, dtype=pl.String)
            frame = frame.select(ts.alias("timestamp"), level.alias("level"),
                                 *[heads.get(c, null_s).alias(c) for c in cols],
                                 pl.col("_msg").str.strip_chars().alias("_first"))
            parts.append(pl.concat([hit, frame], how="horizontal"))
    if recs.height:
        parts.append(_unmatched(recs, layout, cols))
    recs = pl.concat(parts, how="diagonal") if len(parts) > 1 else parts[0] if parts else None
    if recs is None:
        return pl.DataFrame(schema=schema_for(layout))
    if len(parts) > 1:
        recs = recs.sort("line_no")
    first = pl.col("_first")
    tail = pl.col("_tail")
    # a header line with nothing after it (`Start-Date: 2025-06-24  14:36:25` then the record's lines): the
    # message starts at its first written line, so the template is mined from words, not from ""
    message = pl.when(tail.is_null()).then(first).when(first == "").then(tail).otherwise(first + "\n" + tail)
    full_raw = pl.when(tail.is_null()).then(raw).otherwise(raw + "\n" + tail)
    return recs.select(pl.col("line_no").cast(pl.Int64), pl.col("timestamp"), pl.col("level"),
                       *[pl.col(c) for c in cols], message.alias("message"), full_raw.alias("raw"))


def _unmatched(recs: pl.DataFrame, layout: Layout, cols: list[str]) -> pl.DataFrame:
    """Records the header does not fit (other writers in the same file, or no header was learnt).

    The first timestamp form that starts the line (the file's own form first), then a level word;
    each form's regex runs only on the rows no earlier form took.
    """
    forms = ([layout.form] if layout.form is not None else []) + [f for f in TIME_FORMS if f is not layout.form]
    raw = pl.col("raw")
    fixed = []
    left = recs
    for form in forms:
        if not left.height:
            break
        rx = _any_form_re(form)
        has = left["raw"].str.contains(rx)
        if not has.any():
            continue
        take, left = left.filter(has), left.filter(~has)
        rest = raw.str.replace(rx, "")
        if form.name == "syslog":  # `host tag[pid]: ` follows a syslog timestamp
            rest = rest.str.replace(r"^\S+\s+[\w./()@-]+(?:\[\d+\])?:\s+", "")
        fixed.append(take.with_columns(_parse_time(raw.str.extract(rx, 1), form, layout).alias("timestamp"),
                                       rest.alias("_rest")))
    fixed.append(left.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("timestamp"), raw.alias("_rest")))
    recs = pl.concat(fixed, how="vertical") if len(fixed) > 1 else fixed[0]
    rest = pl.col("_rest")
    lv = rest.str.extract_groups(_LEVEL_RE)
    recs = recs.with_columns(_level_expr(pl.coalesce(lv.struct.field("1"), lv.struct.field("2"))).alias("level"))
    after = rest.str.replace(_LEVEL_RE, "")
    for pat in _AFTER_LEVEL:
        after = after.str.replace(pat, "")
    first = pl.when(pl.col("level").is_not_null()).then(after).otherwise(rest)
    null_s = pl.lit(None, dtype=pl.String)
    return recs.with_columns(*[null_s.alias(c) for c in cols],
                             first.str.strip_chars(" ,|").alias("_first")).drop("_rest")


def _json_records(lines: pl.LazyFrame, layout: Layout) -> pl.LazyFrame:
    """One record per non-blank line; fields read at the JSON paths the sample showed."""
    j = layout.json
    raw = pl.col("raw")
    null_s = pl.lit(None, dtype=pl.String)

    whole = raw.str.json_path_match("$")  # null when the line is not valid JSON (cut, or broken by hand)

    def at(path):
        if not path:
            return null_s
        # a line that is not valid JSON still gives its fields by key, read as text
        key = re.escape(re.findall(r"[\w@$-]+", path.rsplit(".", 1)[-1])[-1])
        text = raw.str.extract(rf'"{key}"\s*:\s*(?:"((?:[^"\\]|\\.)*)|(-?\d[\d.eE+-]*))', 1)
        number = raw.str.extract(rf'"{key}"\s*:\s*(-?\d[\d.eE+-]*)', 1)
        return pl.when(whole.is_null()).then(pl.coalesce(text, number)).otherwise(raw.str.json_path_match(path))

    ts = (_parse_time(at(j.ts_path), j.ts_form, layout) if j.ts_path and j.ts_form is not None
          else pl.lit(None, dtype=pl.Datetime("us")))
    level = at(j.level_path).str.to_uppercase().replace(BUNYAN_LEVELS).replace(LEVEL_NORMAL)
    cols = [c for c in HEADER_COLS if c in j.columns]
    return (lines.filter(raw.str.strip_chars().str.len_bytes() > 0)
            .select(pl.col("line_no").cast(pl.Int64), ts.alias("timestamp"), level.alias("level"),
                    *[at(j.columns[c]).alias(c) for c in cols],
                    pl.coalesce(at(j.msg_path), raw).alias("message"), raw))


def _sample_lines(head: bytes, complete: bool) -> list[str]:
    lines = head.decode("utf-8", "replace").splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return lines[:SAMPLE_LINES]


def layout_from_sample(lines: list[str], mtime: datetime | None = None) -> Layout:
    """Infer the layout from sample lines and settle the year of year-less timestamps."""
    starts = [ln for ln in lines if ln.strip() and not _CONT_PY.match(ln)]
    comments = [ln for ln in starts if ln.startswith("#")]
    if 0 < len(comments) < len(starts):
        # `#` directives (W3C, Zeek) describe the file and are not entries, when the other lines
        # carry timestamps of their own (in a MySQL slow log the `# Time:` lines are the entries)
        rest = [ln for ln in starts if not ln.startswith("#")]
        if infer_layout(rest).form is not None:
            lay = layout_from_sample([ln for ln in lines if not ln.startswith("#")], mtime)
            lay.comments = True
            lay.preamble = _preamble(lay, lines)
            return lay
    jl = infer_json(starts)
    if jl is not None:
        lay = Layout(form=jl.ts_form, json=jl, mtime=mtime)
        lay.year, lay.year_source = (mtime or datetime.now()).year, "the file's modification time"
        lay.inner = _nested_layout(lay, starts)
        return lay
    lay = infer_layout(starts)
    lay.mtime = mtime
    lay.preamble = _preamble(lay, lines)
    if lay.form is not None and not lay.form.has_year:
        year = _written_year(lines[:200])
        if year is not None:
            lay.year, lay.year_source = year, "a date written in the file"
            if lay.form.name == "time":
                lay.year_source = "the file's modification time"  # a time of day needs a whole date
        elif mtime is not None:
            lay.year, lay.year_source = mtime.year, "the file's modification time"
        else:
            lay.year, lay.year_source = datetime.now().year, "the current year"
    lay.inner = _nested_layout(lay, lines)
    return lay


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
# dates that carry a year, in the forms logs write them: 2019-02-25, 25/Feb/2019 (Apache, HAProxy),
# 25 Feb 2019 and Feb 25, 2019 (HTTP dates, Java); all-digit day/month orders are ambiguous, left out
_WRITTEN_DATES = re.compile(
    r"(?<!\d)(?P<a>(?:19|20)\d{2})[-/._]\d{2}[-/._]\d{2}(?!\d)"
    rf"|(?<!\d)\d{{1,2}}[-/ ]{_MONTH}[-/ ,]+(?P<b>(?:19|20)\d{{2}})(?!\d)"
    rf"|\b{_MONTH}\.? +\d{{1,2}},? +(?P<c>(?:19|20)\d{{2}})(?!\d)")


def _written_year(lines: list[str]) -> int | None:
    """The year most often written in dates in these lines (year-less stamps take it), or None."""
    years = Counter(int(m.group("a") or m.group("b") or m.group("c"))
                    for m in _WRITTEN_DATES.finditer("\n".join(lines)))
    return years.most_common(1)[0][0] if years else None


def _nested_layout(lay: Layout, lines: list[str]) -> Layout | None:
    """A header at the start of the sample's messages, learnt the same way as the file's own, or None.

    Why: a collector's envelope (JSON lines, docker compose's `service |`, a shipper's stamp) wraps
    lines that carry their own header (syslog's host and program, Redis's `pid:role` and time); left
    in the message, its time and ids make every line its own template. It must start the message
    (at most one token before its timestamp) on >= 30% of the messages, the file header's own rule.
    """
    if lay.form is None and lay.json is None:
        return None
    sample = pl.DataFrame({"line_no": range(1, len(lines) + 1), "raw": lines},
                          schema={"line_no": pl.Int64, "raw": pl.String})
    try:
        msgs = _parse_outer(sample, lay)["message"].drop_nulls().str.split("\n").list.first().to_list()
    except pl.exceptions.PolarsError:
        return None
    msgs = [m for m in msgs if m.strip()]
    inner = infer_layout(msgs)
    if inner.form is None or inner.form.fmt == "epoch" or inner.prefix_tokens > 1 or inner.ts_share < 0.3 \
            or len(msgs) * inner.ts_share < 3:
        return None
    inner.year, inner.year_source = lay.year, lay.year_source
    return inner


def _preamble(lay: Layout, lines: list[str]) -> int:
    """Non-blank lines before the first timestamped one: the file's header (in a file whose entries start with one)."""
    if not lay.ts_mode:
        return 0
    rx = re.compile(lay.ts_regex())
    first = next((i for i, ln in enumerate(lines) if rx.match(ln) and not (lay.comments and ln.startswith("#"))), 0)
    return sum(1 for ln in lines[:first] if ln.strip() and not (lay.comments and ln.startswith("#")))


def file_layout(path: str | Path) -> Layout:
    """The header layout of one log file, learnt from its first lines."""
    p = _check_path(path)
    head = read_head(p, SAMPLE_BYTES)
    try:
        mtime = datetime.fromtimestamp(p.stat().st_mtime)
    except OSError:
        mtime = None
    return layout_from_sample(_sample_lines(head, len(head) < SAMPLE_BYTES), mtime)


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
    """Lazily read a text log as records (line_no, timestamp, level, header columns, message, raw).

    The frame is a Polars IO source fed by `iter_log_batches`, so sinks stream in bounded
    memory and `head(n)` reads only the start of the file.
    """
    from polars.io.plugins import register_io_source

    p = _check_path(path)
    if reporter is not None:
        reporter.check()
    layout = file_layout(p)
    schema = schema_for(layout)

    def source(with_columns, predicate, n_rows, batch_size):
        remaining = n_rows
        small = n_rows is not None and n_rows < 10_000
        for df in iter_log_batches(p, batch_bytes=(1 << 20) if small else (16 << 20), reporter=reporter,
                                   layout=layout):
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

    return register_io_source(source, schema=schema, is_pure=True, explain_name="fieldkit log",
                              explain_detail=str(p))


def _starts_record(layout: Layout):
    """A Python predicate saying whether a line starts a record (the same rule as parse_records)."""
    if layout.ts_mode:
        rx, other = re.compile(layout.ts_regex()), re.compile(_ANY_START)
        return lambda line: bool(rx.match(line) or other.match(line)) and not (
            layout.comments and line.startswith("#"))
    return lambda line: bool(line.strip()) and not _CONT_PY.match(line)


def _cut_point(block: bytes, starts=None) -> int:
    """Offset just after the last newline that is followed by a record start (not a continuation)."""
    starts = starts or _starts_record(Layout())
    end = len(block)
    while True:
        i = block.rfind(b"\n", 0, end)
        if i < 0:
            return -1
        j = block.find(b"\n", i + 1)
        if j > 0:  # only a whole next line can say whether it starts a record
            nxt = block[i + 1: min(j, i + 1 + 400)].decode("utf-8", "replace").rstrip("\r")
            if starts(nxt):
                return i + 1
        end = i


def _record_starts(raw: pl.Series, layout: Layout) -> pl.Series:
    """The same start rule as parse_records, with the any-form regex run only on lines the file's own misses."""
    hit = raw.str.contains(layout.ts_regex())
    miss = (~hit).arg_true()
    if miss.len():
        hit = hit.scatter(miss, raw.gather(miss).str.contains(_ANY_START))
    return hit & ~raw.str.starts_with("#") if layout.comments else hit  # `#` directives are never entries


def _parse_batch(block: bytes, line_base: int, layout: Layout) -> pl.DataFrame:
    lines = _lines_from_csv(block, line_base).collect()
    raw = lines["raw"].fill_null("")
    if b"\r" in block:  # CRLF lines (a byte search is a fraction of a pass over every line)
        raw = raw.str.strip_suffix("\r")
    lines = lines.with_columns(raw.alias("raw"))
    if layout.ts_mode:
        lines = lines.with_columns(_record_starts(raw, layout).alias("_ts"))
    return _parse_frame(lines, layout, stripped=True)


def iter_log_batches(path: str | Path, batch_bytes: int = 32 << 20, reporter: Reporter | None = None,
                     layout: Layout | None = None) -> Iterator[pl.DataFrame]:
    """Yield the log's records in DataFrames of about batch_bytes of text, for bounded memory."""
    p = _check_path(path)
    layout = layout if layout is not None else file_layout(p)
    for block, line_base in iter_log_blocks(p, batch_bytes, reporter, layout):
        yield parse_block(block, line_base, layout)


def parse_block(block: bytes, line_base: int, layout: Layout) -> pl.DataFrame:
    """The records of one block `iter_log_blocks` cut (whole records, the first line numbered `line_base`)."""
    return _parse_batch(block, line_base, layout)


def iter_log_blocks(path: str | Path, batch_bytes: int = 32 << 20, reporter: Reporter | None = None,
                    layout: Layout | None = None) -> Iterator[tuple[bytes, int]]:
    """(text, first line number) of about batch_bytes each, cut between records: parsed apart by `parse_block`.

    Why apart: cutting is cheap and must go in order, parsing is most of a big run's reading and can go
    on two threads at once (fieldkit.analysis.logs.mine_logs).
    """
    p = _check_path(path)
    layout = layout if layout is not None else file_layout(p)
    starts = _starts_record(layout)
    size = p.stat().st_size
    line_base = 1
    done = 0
    carry = b""
    for chunk in _rechunk(iter_utf8_chunks(p, size=batch_bytes), batch_bytes):
        if reporter is not None:
            reporter.update(min(done, size))
        block = carry + chunk
        cut = _cut_point(block, starts)
        if cut <= 0:
            carry = block
            continue
        head, carry = block[:cut], block[cut:]
        yield head, line_base
        line_base += head.count(b"\n")
        done += len(head)
    if carry:
        yield carry, line_base
    if reporter is not None:
        reporter.update(size)


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buf = b""
    for c in chunks:
        buf = buf + c if buf else c
        if len(buf) >= size:
            yield buf
            buf = b""
    if buf:
        yield buf


_PY_LEVEL = re.compile(_LEVEL_RE)


def looks_like_log(path: str | Path, sample_bytes: int = 64 << 10) -> bool:
    """True when most of the first lines carry a timestamp or a level word (cheap sniff)."""
    try:
        head = read_head(path, sample_bytes)
    except (InputError, OSError):
        return False
    if not head or is_binary(head):
        return False
    lines = [ln for ln in _sample_lines(head, len(head) < sample_bytes)[:200]
             if ln.strip() and not _CONT_PY.match(ln)]
    if not lines:
        return False
    hits = sum(1 for ln in lines if find_timestamps(ln) or _PY_LEVEL.search(ln))
    return hits / len(lines) >= 0.6
