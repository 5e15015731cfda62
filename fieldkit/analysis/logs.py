"""Log digests: mine templates over one or many logs, then say what happened, when, and what fails.

`run_logs` streams each file in batches (bounded memory), assigns a template to every
record, writes the annotated lines atomically through fieldkit.store, and builds a
`Digest` (templates by count with first/last seen, level mix, error and warning templates,
rare templates, bursts per time bucket, templates new against a baseline). `summarize_digest`
writes the short Markdown summary: with the generative model when it is prepared, otherwise
(and whenever the model's text looks degenerate) a deterministic summary from the same facts.
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from fieldkit.analysis.logtemplates import TemplateMiner
from fieldkit.errors import InputError, UsageError
from fieldkit.io.logs import iter_log_batches, looks_like_log
from fieldkit.progress import Reporter

ERROR_LEVELS = ("ERROR", "FATAL", "SEVERE", "CRITICAL", "ALERT", "EMERG", "FAILURE")
WARN_LEVELS = ("WARN",)
# For logs without levels (HPC, HealthApp ...): words that mark a problem in a template.
PROBLEM_RE = (r"(?i)\b(?:error|errors|fail|failed|failure|failing|exception|fatal|critical|denied|refused|"
              r"timed out|timeout|unavailable|unreachable|panic|corrupt|severed|abort|aborted|killed|"
              r"cannot|unable|lost|interrupt)\b")
LOG_SUFFIXES = (".log", ".out", ".txt", ".err")
BUCKETS = [("1s", 1), ("10s", 10), ("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("3h", 10800),
           ("6h", 21600), ("1d", 86400), ("7d", 604800), ("30d", 2592000)]
MAX_BUCKETS = 48
GENERATOR_ID = "smollm2-135m-instruct"


# ----------------------------------------------------------------------------- inputs

def resolve_log_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given, plus the log files inside any folder (sorted); refuses an empty result."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p} does not exist", "check the path")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")
                           and (f.suffix.lower() in LOG_SUFFIXES or looks_like_log(f))
                           and not f.name.endswith("_structured.csv"))
            found = [f for f in found if f.suffix.lower() in (".log", ".out") or looks_like_log(f)]
            if not found:
                raise InputError(f"no log files in {p}", "fieldkit looks for *.log, *.out and text files "
                                 "whose lines start with a timestamp or a level")
            out.extend(found)
        else:
            if p.stat().st_size == 0:
                raise InputError(f"{p.name} is empty", "pass a log file with at least one line")
            with open(p, "rb") as fh:
                head = fh.read(4096)
            if b"\x00" in head:
                raise InputError(f"{p.name} is a binary file, not a text log",
                                 "pass a plain-text log (gzip logs: unpack them first)")
            out.append(p)
    return out


def read_baseline(path: str | Path) -> pl.DataFrame:
    """Templates (template_id, template) from a saved template table or a previous `fieldkit logs` output."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"baseline {p} does not exist", "pass a previous `fieldkit logs` output or a "
                         "template table saved with --templates-out")
    try:
        cols = pl.read_parquet_schema(p)
    except Exception as e:
        raise InputError(f"baseline {p.name} is not a Parquet file ({str(e).splitlines()[0][:80]})",
                         "pass a previous `fieldkit logs` output (.parquet)") from e
    if "template_id" not in cols or "template" not in cols:
        raise InputError(f"baseline {p.name} has no template_id/template columns",
                         "pass a previous `fieldkit logs` output or a --templates-out table")
    return (pl.scan_parquet(p).select("template_id", "template").unique("template_id")
            .sort("template_id").collect())


# ----------------------------------------------------------------------------- digest

@dataclass
class Digest:
    """The facts a reader needs, as plain data (also what the summary is written from)."""

    sources: list[str]
    lines: int
    start: datetime | None
    end: datetime | None
    levels: dict[str, int]
    templates: pl.DataFrame  # template_id, template, count, share, first_seen, last_seen, level, errors, warns, example
    problems: pl.DataFrame  # error templates then warning templates (same columns)
    rare: pl.DataFrame
    bucket: str | None
    buckets: pl.DataFrame  # bucket, count, problems
    busiest: pl.DataFrame
    median_bucket: float
    new: pl.DataFrame | None  # templates absent from the baseline (None without a baseline)
    gone: pl.DataFrame | None  # baseline templates not seen in this run
    error_lines: int = 0
    warn_lines: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _pick_bucket(start: datetime | None, end: datetime | None) -> tuple[str, int] | None:
    if start is None or end is None:
        return None
    span = max(1.0, (end - start).total_seconds())
    for name, secs in BUCKETS:
        if span / secs <= MAX_BUCKETS:
            return name, secs
    return BUCKETS[-1]


def build_digest(lines: pl.LazyFrame, table: pl.DataFrame, sources: list[str],
                 baseline_ids: set[int] | None = None, rare_max: int | None = None,
                 examples: dict[int, str] | None = None) -> Digest:
    """Aggregate annotated lines (template_id, timestamp, level[, message]) into a Digest.

    With `examples` (template_id -> first message, gathered while mining) the message column
    is not read at all, which keeps a multi-GB digest small.
    """
    lvl = pl.col("level")
    is_err = lvl.is_in(list(ERROR_LEVELS))
    is_warn = lvl.is_in(list(WARN_LEVELS))
    per = (lines.group_by("template_id").agg(
        pl.len().alias("count"),
        pl.col("timestamp").min().alias("first_seen"),
        pl.col("timestamp").max().alias("last_seen"),
        lvl.drop_nulls().mode().first().alias("level"),
        is_err.sum().alias("errors"),
        is_warn.sum().alias("warns"),
        *([] if examples is not None else
          [pl.col("message").first().str.split("\n").list.first().alias("example")]),
    ).collect())
    if examples is not None:
        per = per.with_columns(pl.col("template_id").replace_strict(
            list(examples), [m.split("\n")[0] for m in examples.values()], default=None,
            return_dtype=pl.String).alias("example"))
    total = int(per["count"].sum()) if per.height else 0
    tpl = (per.join(table.select("template_id", "template"), on="template_id", how="left")
           .with_columns((pl.col("count") / max(total, 1)).alias("share"))
           .sort(["count", "template_id"], descending=[True, False]))
    tpl = tpl.select("template_id", "template", "count", "share", "first_seen", "last_seen", "level",
                     "errors", "warns", "example")
    levels = dict(lines.group_by("level").len().collect().drop_nulls("level").sort("len", descending=True)
                  .iter_rows())
    has_levels = bool(levels)
    if has_levels:
        problems = tpl.filter((pl.col("errors") > 0) | (pl.col("warns") > 0)).sort(
            ["errors", "warns", "count"], descending=True)
    else:  # no levels in these logs: fall back on problem words in the template
        problems = tpl.filter(pl.col("template").str.contains(PROBLEM_RE)).with_columns(
            pl.col("count").alias("errors")).sort("count", descending=True)
    rare_max = rare_max if rare_max is not None else max(2, math.ceil(total / 10_000))
    rare = tpl.filter(pl.col("count") <= rare_max).sort(["count", "first_seen"])
    span = lines.select(pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b")).collect()
    start, end = span["a"][0], span["b"][0]
    pick = _pick_bucket(start, end)
    bucket_name = None
    buckets = pl.DataFrame(schema={"bucket": pl.Datetime("us"), "count": pl.UInt32, "problems": pl.UInt32})
    busiest = worst = buckets
    median = problem_median = 0.0
    if pick is not None:
        bucket_name, _ = pick
        prob_ids = problems["template_id"].to_list()
        buckets = (lines.filter(pl.col("timestamp").is_not_null())
                   .group_by(pl.col("timestamp").dt.truncate(bucket_name).alias("bucket"))
                   .agg(pl.len().alias("count"),
                        ((is_err | is_warn) if has_levels else pl.col("template_id").is_in(prob_ids))
                        .sum().alias("problems"))
                   .sort("bucket").collect())
        median = float(buckets["count"].median() or 0.0)
        busiest = buckets.sort(["count", "bucket"], descending=[True, False]).head(3)
        worst = buckets.sort(["problems", "bucket"], descending=[True, False]).head(3).filter(pl.col("problems") > 0)
        problem_median = float(buckets["problems"].median() or 0.0)
    new = gone = None
    if baseline_ids is not None:
        new = tpl.filter(~pl.col("template_id").is_in(list(baseline_ids)))
        seen = set(tpl["template_id"].to_list())
        gone = table.filter(pl.col("template_id").is_in(list(baseline_ids - seen))).select("template_id", "template")
    err_lines = sum(v for k, v in levels.items() if k in ERROR_LEVELS)
    warn_lines = sum(v for k, v in levels.items() if k in WARN_LEVELS)
    if not has_levels:
        err_lines = int(problems["count"].sum()) if problems.height else 0
    return Digest(sources, total, start, end, levels, tpl, problems, rare, bucket_name, buckets, busiest,
                  median, new, gone, err_lines, warn_lines,
                  {"has_levels": has_levels, "rare_max": rare_max, "worst": worst, "problem_median": problem_median})


# ----------------------------------------------------------------------------- text

def _ts(t: datetime | None) -> str:
    if t is None:
        return "?"
    return t.strftime("%Y-%m-%d %H:%M:%S") if t.second or t.minute or t.hour else t.strftime("%Y-%m-%d")


def _span(a: datetime | None, b: datetime | None) -> str:
    if a is None or b is None:
        return "no timestamps"
    d: timedelta = b - a
    secs = int(d.total_seconds())
    if secs < 120:
        return f"{secs} s"
    if secs < 7200:
        return f"{secs // 60} min"
    if secs < 172800:
        return f"{secs // 3600} h {secs % 3600 // 60} min"
    return f"{secs // 86400} days"


def _n(k: int, noun: str) -> str:
    return f"{k:,} {noun}" + ("" if k == 1 else "s")


def _short(template: str, n: int = 90) -> str:
    t = template if len(template) <= n else template[: n - 1] + "…"
    return "`" + t.replace("`", "'") + "`"


def digest_markdown(d: Digest, top: int = 10) -> str:
    """The digest as Markdown tables and lists (what the CLI prints and the summary file ends with)."""
    names = ", ".join(d.sources[:5]) + (f" and {len(d.sources) - 5} more files" if len(d.sources) > 5 else "")
    out = [f"## Digest: {names}", "",
           f"{d.lines:,} lines, {d.templates.height:,} templates, {_ts(d.start)} to {_ts(d.end)} "
           f"({_span(d.start, d.end)}).", ""]
    if d.levels:
        out.append("Levels: " + ", ".join(f"{k} {v:,}" for k, v in d.levels.items()) + ".")
    else:
        out.append("Levels: none in these logs (problems below are found by words such as error/fail).")
    out += ["", "### Top templates", "", "| # | count | share | first seen | last seen | template |",
            "|---|---:|---:|---|---|---|"]
    for r in d.templates.head(top).iter_rows(named=True):
        out.append(f"| {r['template_id']} | {r['count']:,} | {r['share']:.1%} | {_ts(r['first_seen'])} | "
                   f"{_ts(r['last_seen'])} | {_short(r['template'])} |")
    out += ["", "### Errors and warnings", ""]
    if d.problems.height == 0:
        out.append("None found.")
    for r in d.problems.head(top).iter_rows(named=True):
        kind = " and ".join(x for x in (f"{r['errors']:,} error" if r["errors"] else "",
                                        f"{r['warns']:,} warning" if r["warns"] else "") if x)
        of = "" if (r["errors"] + r["warns"]) == r["count"] else f" of {r['count']:,}"
        out.append(f"- {kind} lines{of}, {_ts(r['first_seen'])} to "
                   f"{_ts(r['last_seen'])}: {_short(r['template'])}")
    if d.problems.height > top:
        out.append(f"- … and {d.problems.height - top} more")
    out += ["", f"### Rare templates (seen at most {d.extra['rare_max']} times)", ""]
    if d.rare.height == 0:
        out.append("None.")
    for r in d.rare.head(top).iter_rows(named=True):
        out.append(f"- {r['count']}× at {_ts(r['first_seen'])}: {_short(r['template'])}")
    if d.rare.height > top:
        out.append(f"- … and {d.rare.height - top} more")
    if d.bucket:
        out += ["", f"### Activity per {d.bucket} (median {d.median_bucket:,.0f} lines per bucket)", ""]
        for r in d.busiest.iter_rows(named=True):
            ratio = r["count"] / d.median_bucket if d.median_bucket else float("inf")
            out.append(f"- busiest: {_ts(r['bucket'])}: {r['count']:,} lines ({ratio:.1f}× median), "
                       f"{r['problems']:,} error/warning lines")
        pm = d.extra.get("problem_median", 0.0)
        for r in d.extra["worst"].filter(pl.col("problems") >= max(5, 2 * pm)).iter_rows(named=True):
            out.append(f"- most errors/warnings: {_ts(r['bucket'])}: {r['problems']:,} "
                       f"(median {pm:,.0f} per bucket), of {r['count']:,} lines")
    if d.new is not None:
        out += ["", "### New since the baseline", ""]
        if d.new.height == 0:
            out.append("No new templates.")
        for r in d.new.head(top).iter_rows(named=True):
            out.append(f"- {r['count']:,}× from {_ts(r['first_seen'])}: {_short(r['template'])}")
        if d.new.height > top:
            out.append(f"- … and {d.new.height - top} more")
        if d.gone is not None and d.gone.height:
            out.append(f"- {d.gone.height} baseline templates did not occur this time")
    return "\n".join(out) + "\n"


def _fact_lines(d: Digest) -> list[str]:
    """Short factual sentences about the digest; both the fallback summary and the model prompt use them."""
    facts = [f"{d.lines:,} log lines from {_ts(d.start)} to {_ts(d.end)} ({_span(d.start, d.end)}), "
             f"{d.templates.height} distinct event templates."]
    top = d.templates.head(3)
    if top.height:
        facts.append("Most common events: " + "; ".join(
            f"{_short(r['template'], 70)} ({r['count']:,} lines, {r['share']:.0%})" for r in top.iter_rows(named=True))
            + ".")
    if d.levels:
        facts.append("Levels: " + ", ".join(f"{v:,} {k}" for k, v in d.levels.items()) + ".")
    if d.problems.height:
        probs = d.problems.head(3)
        what = "; ".join(
            f"{_short(r['template'], 70)} ({(r['errors'] or r['warns']):,} lines, {_ts(r['first_seen'])} to "
            f"{_ts(r['last_seen'])})" for r in probs.iter_rows(named=True))
        if d.extra.get("has_levels"):
            counts = " and ".join(x for x in (f"{d.error_lines:,} error" if d.error_lines else "",
                                              f"{d.warn_lines:,} warning" if d.warn_lines else "") if x)
            facts.append(f"Failing: {counts} lines in {_n(d.problems.height, 'template')}; "
                         f"the main ones: {what}.")
        else:
            facts.append(f"Problems: {d.error_lines:,} lines in {_n(d.problems.height, 'template')} that name a "
                         f"failure; the main ones: {what}.")
    else:
        facts.append("No error or warning lines.")
    if d.bucket and d.busiest.height and d.median_bucket:
        b = d.busiest.row(0, named=True)
        ratio = b["count"] / d.median_bucket
        if ratio >= 2:
            facts.append(f"Busiest {d.bucket} period: the one starting {_ts(b['bucket'])} with {b['count']:,} lines "
                         f"({ratio:.1f}× the median), {b['problems']:,} of them errors or warnings.")
        else:
            facts.append(f"Activity was even: no {d.bucket} period above twice the median ({d.median_bucket:,.0f} lines).")
    worst = d.extra.get("worst")
    pm = d.extra.get("problem_median", 0.0)
    if d.bucket and worst is not None and worst.height:
        w = worst.row(0, named=True)
        if w["problems"] >= max(5, 3 * pm):
            facts.append(f"Errors and warnings peaked in the {d.bucket} period starting {_ts(w['bucket'])}: "
                         f"{w['problems']:,} of its {w['count']:,} lines (median {pm:,.0f} per period).")
    if d.new is not None:
        if d.new.height:
            facts.append(f"New since the baseline: {_n(d.new.height, 'template')}, {int(d.new['count'].sum()):,} lines; "
                         + "; ".join(_short(r["template"], 70) + f" ({r['count']:,})"
                                     for r in d.new.head(3).iter_rows(named=True)) + ".")
        else:
            facts.append("Nothing new since the baseline.")
    if d.rare.height:
        facts.append(f"{_n(d.rare.height, 'rare template')} (at most {d.extra['rare_max']} lines each), e.g. "
                     + _short(d.rare.row(0, named=True)["template"], 70) + ".")
    return facts


def fallback_summary(d: Digest) -> str:
    """Deterministic summary from the digest facts: what happened, how much, when, what fails, what is new."""
    return "\n".join(f"- {f}" for f in _fact_lines(d))


_STOP = set("""this that with from were was have has had been into over than then they them their there
these those which while when what where about after before during between within without also only just
such very more most many much some each other same total lines line log logs system""".split())


def _grounded(text: str, facts: Sequence[str]) -> str:
    """Keep only the model's sentences whose numbers and content words all come from the facts.

    A 135M-parameter model invents causes and figures; a sentence that says anything the
    digest does not is dropped rather than shown to an engineer as fact.
    """
    source = " ".join(facts).lower()
    stems = {w[:5] for w in re.findall(r"[a-z][a-z0-9_.*]{3,}", source)}
    numbers = set(re.findall(r"\d[\d,.:-]*\d|\d", source))
    kept = []
    for sent in re.split(r"(?<=[.!?])\s+", text.strip()):
        nums = re.findall(r"\d[\d,.:-]*\d|\d", sent)
        content = [w for w in re.findall(r"[a-z][a-z0-9_.*]{3,}", sent.lower()) if w not in _STOP]
        if not content or any(n not in numbers for n in nums):
            continue
        if sum(w[:5] in stems for w in content) / len(content) >= 0.7:
            kept.append(sent)
    return " ".join(kept)


def summarize_digest(d: Digest, use_model: bool = True, on_token: Callable[[str], None] | None = None,
                     cancel=None) -> tuple[str, str]:
    """(summary Markdown, how it was made): grounded model sentences when prepared, then the facts."""
    facts = _fact_lines(d)
    bullets = "\n".join(f"- {f}" for f in facts)
    if use_model:
        try:
            from fieldkit.inference.generator import is_prepared, load_generator
            ready = is_prepared(GENERATOR_ID)
        except Exception:
            ready = False
        if ready:
            gen = load_generator(GENERATOR_ID)
            plain = [f.replace("`", "") for f in facts[:4]]
            prompt = ("Log facts:\n" + "\n".join(f"- {f}" for f in plain)
                      + "\n\nIn two sentences, say what this system was doing and what went wrong. "
                        "Use only these facts.")
            text = gen.chat([{"role": "user", "content": prompt}], max_new_tokens=120, temperature=0.0,
                            repetition_penalty=1.1, on_token=on_token, cancel=cancel)
            kept = _grounded(text, plain)
            if kept:
                return kept + "\n\n" + bullets, f"{gen.model_id} (sentences checked against the digest) + facts"
            return bullets, f"digest facts ({gen.model_id}'s text was not supported by the digest, so it was dropped)"
    return bullets, "digest facts (deterministic)"


# ----------------------------------------------------------------------------- the run

@dataclass
class LogsResult:
    output: Path
    digest: Digest
    summary: str
    summary_model: str
    templates: pl.DataFrame
    files: list[Path]


def run_logs(paths: Sequence[str | Path], out: str | Path, *, baseline: str | Path | None = None,
             summary_out: str | Path | None = None, templates_out: str | Path | None = None,
             use_model: bool = True, reporter: Reporter | None = None, batch_bytes: int = 16 << 20,
             miner: TemplateMiner | None = None) -> LogsResult:
    """Mine templates over the logs, write the annotated lines and the digest/summary outputs."""
    from fieldkit.store import file_sha256, make_provenance, write_batches, write_frame

    files = resolve_log_paths(paths)
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise UsageError(f"output {out.name} should end in .parquet", "e.g. -o lines.parquet")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"output folder {out.parent} does not exist", f"create it first: mkdir -p {out.parent}")
    base = read_baseline(baseline) if baseline else None
    if miner is None:
        miner = TemplateMiner.from_table(base) if base is not None else TemplateMiner()
    baseline_ids = set(base["template_id"].to_list()) if base is not None else None
    several = len(files) > 1
    total_bytes = sum(f.stat().st_size for f in files)
    rep = reporter or Reporter("logs")
    mining = rep.child("reading and mining", total_bytes)
    with tempfile.TemporaryDirectory(prefix="fieldkit-logs-") as tmp:
        parts: list[Path] = []
        examples: dict[int, str] = {}
        done = 0
        for f in files:
            for batch in iter_log_batches(f, batch_bytes=batch_bytes):
                mining.update(done)
                ids = miner.add_messages(batch["message"])
                batch = batch.with_columns(ids)
                for tid, msg in batch.group_by("template_id", maintain_order=True).agg(
                        pl.col("message").first()).iter_rows():
                    examples.setdefault(tid, msg)
                if several:
                    batch = batch.with_columns(pl.lit(f.name).alias("source"))
                part = Path(tmp) / f"part-{len(parts):06d}.parquet"
                batch.write_parquet(part, compression="lz4")
                parts.append(part)
                done += int(batch["raw"].str.len_bytes().sum() or 0) + batch.height
            done = sum(x.stat().st_size for x in files[: files.index(f) + 1])
            mining.update(done)
        table = miner.table()
        lines = pl.scan_parquet([str(p) for p in parts]) if parts else pl.LazyFrame(
            schema={"line_no": pl.Int64, "timestamp": pl.Datetime("us"), "level": pl.String,
                    "message": pl.String, "raw": pl.String, "template_id": pl.Int64})
        if lines.collect_schema().get("template_id") is None:
            raise InputError("no lines found in the logs", "pass a non-empty text log")
        cols = (["source"] if several else []) + ["line_no", "timestamp", "level", "message",
                                                  "template_id", "template", "raw"]
        # an element-wise lookup (not a join) keeps the final write streaming in bounded memory
        annotated = lines.with_columns(pl.col("template_id").replace_strict(
            table["template_id"], table["template"], default=None, return_dtype=pl.String).alias("template"))
        if several:  # merge by time; lines without a timestamp keep their place after the previous one
            annotated = (annotated.with_columns(pl.col("timestamp").forward_fill().over("source").alias("_t"))
                         .sort(["_t", "source", "line_no"], nulls_last=False, maintain_order=True).drop("_t"))
        annotated = annotated.select(cols)
        rep.check()
        digest = build_digest(lines.select("template_id", "timestamp", "level"), table,
                              [f.name for f in files], baseline_ids, examples=examples)
        steps = [{"operation": "logs", "parameters": {
            "files": [str(f) for f in files], "baseline": str(baseline) if baseline else None,
            "sim_threshold": miner.sim_threshold, "templates": table.height}}]
        source = {"path": str(files[0]) if not several else [str(f) for f in files],
                  "sha256": file_sha256(files[0]) if not several else None, "format": "log",
                  "encoding": "utf-8"}
        rep.check()
        if several:  # the merge by time needs a sort over everything
            write_frame(annotated, out, make_provenance(source, steps))
        else:  # one part at a time: memory stays at one batch whatever the log's size
            writing = rep.child("writing", len(parts))

            def batches():
                for i, part in enumerate(parts):
                    writing.update(i)
                    yield pl.read_parquet(part).with_columns(pl.col("template_id").replace_strict(
                        table["template_id"], table["template"], default=None,
                        return_dtype=pl.String).alias("template")).select(cols)

            write_batches(batches(), out, make_provenance(source, steps))
    summary, how = summarize_digest(digest, use_model=use_model, cancel=rep.cancel)
    if templates_out:
        miner.save(templates_out, make_provenance(source, steps))
    if summary_out:
        _write_text_atomic(Path(summary_out), f"# Log summary\n\n{summary}\n\n_Summary: {how}._\n\n"
                           + digest_markdown(d=digest))
    rep.finish()
    return LogsResult(out, digest, summary, how, table, files)


def _write_text_atomic(path: Path, text: str) -> None:
    from fieldkit.store import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
