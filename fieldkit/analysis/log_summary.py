"""The log digest as text: Markdown tables, the deterministic summary, and the optional model summary.

Why separate: the digest facts are computed once (fieldkit.analysis.logs.build_digest); this
module only words them. The default summary is the deterministic one; the 135M generative
model runs only when asked (`--model-summary`, or the TUI's summary pane on demand), and its
sentences are kept only when every number and content word comes from the digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

import polars as pl

GENERATOR_ID = "smollm2-135m-instruct"


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


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _short(template: str, n: int = 90) -> str:
    """A template as inline code, cut to n characters; control characters from the log are never printed raw."""
    if not template.strip():  # records with a header and no words (`End-Date: 2025-06-24  14:37:04`)
        return "(no message)"
    t = template if len(template) <= n else template[: n - 1] + "…"
    return "`" + _CONTROL.sub("?", t).replace("`", "'") + "`"


def _listing(out: list[str], frame: pl.DataFrame, top: int, empty: str, line: Callable[[dict], str]) -> None:
    """Append up to `top` rows as list items (or `empty`), and how many more there are."""
    if frame.height == 0:
        out.append(empty)
    out.extend(line(r) for r in frame.head(top).iter_rows(named=True))
    if frame.height > top:
        out.append(f"- … and {frame.height - top} more")


def digest_markdown(d: Digest, top: int = 10) -> str:
    """The digest as Markdown tables and lists (what the CLI prints and the summary file ends with)."""
    names = ", ".join(d.sources[:5]) + (f" and {len(d.sources) - 5} more files" if len(d.sources) > 5 else "")
    out = [f"## Digest: {names}", "",
           f"{d.lines:,} lines, {d.templates.height:,} templates, {_ts(d.start)} to {_ts(d.end)} "
           f"({_span(d.start, d.end)}).", ""]
    for b in _bursts(d):
        out += [f"**Burst:** {b}", ""]
    for note in d.extra.get("notes", []):
        out += [f"Note: {_CONTROL.sub('?', note)}", ""]
    for name, how in d.extra.get("headers", {}).items():
        out += [_CONTROL.sub("?", f"Header of {name}: {how}."), ""]
    if d.levels:
        out.append("Levels: " + ", ".join(f"{k} {v:,}" for k, v in d.levels.items()) + ".")
    else:
        out.append("Levels: none in these logs (problems below are lines that say failed, denied, invalid, "
                   "timeout, error ...).")
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
    _listing(out, d.rare, top, "None.",
             lambda r: f"- {r['count']}× at {_ts(r['first_seen'])}: {_short(r['template'])}")
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
        _listing(out, d.new, top, "No new templates.",
                 lambda r: f"- {r['count']:,}× from {_ts(r['first_seen'])}: {_short(r['template'])}")
        if d.gone is not None and d.gone.height:
            out.append(f"- {d.gone.height} baseline templates did not occur this time")
    return "\n".join(out) + "\n"


def _bursts(d: Digest, top: int = 3) -> list[str]:
    b = d.extra.get("bursts")
    if b is None or b.height == 0:
        return []
    out = []
    for r in b.head(top).iter_rows(named=True):
        secs = max(1, int((r["last"] - r["first"]).total_seconds()) + 1)
        out.append(f"{r['lines']:,} lines of {_short(r['template'], 70)} within {secs} s from {_ts(r['first'])} "
                   f"({r['rate_ratio']:.0f}× its average rate).")
    if b.height > top:
        out.append(f"… and {b.height - top} more bursts.")
    return out


def _fact_lines(d: Digest) -> list[str]:
    """Short factual sentences about the digest; both the fallback summary and the model prompt use them."""
    facts = [f"Burst: {b}" for b in _bursts(d)]
    facts += [f"{d.lines:,} log lines from {_ts(d.start)} to {_ts(d.end)} ({_span(d.start, d.end)}), "
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
            facts.append(f"Activity was even: no {d.bucket} period above twice the median "
                         f"({d.median_bucket:,.0f} lines).")
    worst = d.extra.get("worst")
    pm = d.extra.get("problem_median", 0.0)
    if d.bucket and worst is not None and worst.height:
        w = worst.row(0, named=True)
        if w["problems"] >= max(5, 3 * pm):
            facts.append(f"Errors and warnings peaked in the {d.bucket} period starting {_ts(w['bucket'])}: "
                         f"{w['problems']:,} of its {w['count']:,} lines (median {pm:,.0f} per period).")
    if d.new is not None:
        if d.new.height:
            facts.append(f"New since the baseline: {_n(d.new.height, 'template')}, "
                         f"{int(d.new['count'].sum()):,} lines; "
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


