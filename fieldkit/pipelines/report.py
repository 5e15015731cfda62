"""The report job: fieldkit outputs (and survey exports) -> one self-contained HTML file (and a PDF).

Inputs are read lazily (only the columns a section needs); the page is written atomically,
so a failed or cancelled run never leaves half a report; the form, when given, names the
questions and choices in the report's language.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from fieldkit.errors import InputError, UsageError
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.progress import Reporter
from fieldkit.report import Loaded, Report, build, pdf_pages
from fieldkit.report.build import detect
from fieldkit.report.sections import Labels
from fieldkit.report.words import Words

HTML_SUFFIXES = (".html", ".htm")


@dataclass
class Written:
    """What the job wrote: the report, its PDF (or None), and the report's content as data."""

    html: Path
    pdf: Path | None
    report: Report
    sources: list[str]


def check_output(out: str | os.PathLike) -> Path:
    """Refuse a bad report path before any work: wrong suffix, missing folder, a folder."""
    p = Path(out)
    if p.suffix.lower() not in HTML_SUFFIXES:
        raise UsageError(f"output {str(out)!r} does not end in .html", "give e.g. -o report.html")
    if p.is_dir():
        raise UsageError(f"output {p} is a folder", "give a file name ending in .html")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder {parent} does not exist", f"create it first: mkdir -p {parent}")
    return p


def load(path: str | os.PathLike, reporter: Reporter | None = None) -> Loaded:
    """An input as a lazy frame with its provenance: a Parquet output read in place, else loaded."""
    from fieldkit.files import sha256
    from fieldkit.store import read_provenance

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist", "give a fieldkit output (.parquet) or a survey export")
    if p.is_dir():
        raise UsageError(f"{p} is a folder", "give one or more files")
    if p.suffix.lower() in (".parquet", ".pq"):
        prov = read_provenance(p)
        frame = pl.scan_parquet(p)
        try:
            rows = int(frame.select(pl.len()).collect().item())
        except pl.exceptions.PolarsError as e:
            raise InputError(f"{p.name} cannot be read: {str(e).splitlines()[0][:120]}",
                             "check that the file is complete") from e
    else:
        from fieldkit.io import load_dataset

        ds = load_dataset(p, reporter=reporter)
        if ds.format in ("folder", "log", "text"):
            raise UsageError(f"{p.name} is a {ds.format}, not a table",
                             "run the job first (e.g. `fieldkit logs` or `fieldkit themes`) and "
                             "report its .parquet output")
        prov, frame = None, ds.frame
        rows = int(frame.select(pl.len()).collect().item())
    return Loaded(p, frame, prov, sha256(p), rows)


def form_labels(form: str | os.PathLike, lang: str | None, columns: list[str]) -> tuple[Labels, str | None]:
    """Question and choice labels in `lang` (the form's default when it lacks that language)."""
    from fieldkit.io.xlsform import header_labels, match_columns, read_form

    frm = read_form(form)
    note = None
    try:
        form_lang = frm.language(lang) if lang else None
    except UsageError:
        form_lang = None
        note = f"the form has no {lang!r} labels; its default language is used"
    match = match_columns(frm, columns)
    choices = {match.columns[q.name]: frm.choice_labels(q.list_name, form_lang)
               for q in frm.questions if q.is_select_one and q.list_name and q.name in match.columns}
    return Labels(header_labels(frm, match, form_lang), choices), note


def report(inputs: Sequence[str | os.PathLike | Loaded], out: str | os.PathLike, *, title: str | None = None,
           by: str | None = None, lang: str | None = None, pdf: bool = False,
           form: str | os.PathLike | None = None, baseline: str | os.PathLike | None = None,
           reporter: Reporter | None = None) -> Result[Written]:
    """Write REPORT.html (and REPORT.pdf with `pdf`) from `inputs`; the step lists what went in.

    An input is a path, or a `Loaded` frame (the TUI reports the rows it holds, annotations included).
    """
    from fieldkit.report import charts, html

    if not inputs:
        raise UsageError("no input given", "give one or more fieldkit outputs, e.g. themes.parquet")
    target = check_output(out)
    words = Words(lang)  # an unknown language is refused before any reading
    reporter = reporter or Reporter("report")
    with timed() as clock:
        items = [p if isinstance(p, Loaded) else load(p, reporter.child("load")) for p in inputs]
        for item in items:
            detect(item)
        if not any(item.kinds for item in items):
            names = ", ".join(i.path.name for i in items)
            raise UsageError(f"nothing to report in {names}: no themes, codes, dupes, checks, logs "
                             "or survey columns", "give the .parquet output of fieldkit themes, code, "
                             "dupes, check or logs, or a survey export with enumerator/date columns")
        if by and not any(by in i.frame.collect_schema().names() for i in items
                          if {"themes", "codes"} & set(i.kinds)):
            raise UsageError(f"no themes or codes input has a column {by!r}",
                             "give --by a column of the themes/code output (e.g. district)")
        notes: list[str] = []
        labels = Labels()
        if form is not None:
            cols = sorted({c for i in items for c in i.frame.collect_schema().names()}
                          | {str(v) for i in items if "checks" in i.kinds
                             for v in i.frame.select(pl.col("column").unique()).collect()["column"]
                             if v is not None})
            labels, note = form_labels(form, lang, cols)
            notes += [note] if note else []
        base = _baseline(baseline, items)
        params: dict[str, Any] = {"inputs": [str(i.path) for i in items], "title": title, "by": by,
                                  "lang": words.lang, "pdf": pdf,
                                  "form": str(form) if form else None,
                                  "baseline": str(baseline) if baseline else None}
        rep, sources = build(items, title=title, lang=words.lang, by=by, labels=labels,
                             baseline=base, parameters=params, notes=notes,
                             reporter=reporter.child("sections", len(items)))
        draw = reporter.child("charts", len(rep.charts))

        def svg(chart):
            draw.advance()
            return charts.svg(chart)

        page = html.render(rep, svg, sources)
        from fieldkit.store import atomic_path

        pdf_path = target.with_suffix(".pdf") if pdf else None
        if pdf_path is not None:  # the PDF first: a failure there leaves no HTML half-announced
            with atomic_path(pdf_path) as tmp:
                charts.pdf(rep.title, pdf_pages(rep, sources), tmp)
        with atomic_path(target) as tmp:
            tmp.write_text(page, encoding="utf-8")
    step = make_step("report", {**params, "sections": [s.kind for s in rep.sections],
                                "charts": len(rep.charts)}, clock)
    return Result(Written(target, pdf_path, rep, sources), {}, step)


def _baseline(baseline, items: list[Loaded]) -> pl.DataFrame | None:
    """Templates to compare logs with: --baseline, else the one the logs job was given (if still there)."""
    from fieldkit.analysis.logs import read_baseline
    from fieldkit.report.kinds import step_of

    if baseline is not None:
        return read_baseline(baseline)
    for item in items:
        if "logs" in item.kinds:
            old = ((step_of(item.provenance, "logs") or {}).get("parameters") or {}).get("baseline")
            if old and Path(old).is_file():
                return read_baseline(old)
    return None
