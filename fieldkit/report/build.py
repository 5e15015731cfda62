"""From loaded inputs to a Report: detect each input's kinds, compute its sections, in order.

Why a separate step from drawing: the numbers are computed once and drawn three ways
(HTML, PDF, the terminal), and the slow part (drawing) is never mixed with the reading.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fieldkit.progress import Reporter
import fieldkit.report.kinds as K
from fieldkit.report.model import Chart, InputFacts, Report, Section, Table
from fieldkit.report.sections import Labels, codes_section, dupes_section, themes_section
from fieldkit.report.timeline import checks_section, logs_section, survey_section
from fieldkit.report.words import Words


@dataclass
class Loaded:
    """One input: its rows (lazy), its provenance (None when it has none) and file facts."""

    path: Path
    frame: pl.LazyFrame
    provenance: dict[str, Any] | None
    sha256: str | None
    rows: int
    kinds: list[str] = field(default_factory=list)
    roles: tuple[str | None, str | None] = (None, None)


def detect(item: Loaded) -> list[str]:
    schema = item.frame.collect_schema()
    item.roles = K.survey_roles(schema)
    item.kinds = K.detect(list(schema.names()), item.provenance, item.roles)
    return item.kinds


def build(items: list[Loaded], *, title: str | None = None, lang: str | None = None,
          by: str | None = None, labels: Labels | None = None, baseline: pl.DataFrame | None = None,
          parameters: dict[str, Any] | None = None, notes: list[str] | None = None,
          reporter: Reporter | None = None) -> tuple[Report, list[str]]:
    """The Report and, per section, the name of the input it came from."""
    w = Words(lang)
    labels = labels or Labels()
    reporter = reporter or Reporter("report")
    sections: list[Section] = []
    sources: list[str] = []
    for i, item in enumerate(items):
        reporter.update(i, item.path.name)
        kinds = item.kinds or detect(item)
        names = item.frame.collect_schema().names()
        item_by = by if by in names else None
        for kind in kinds:
            reporter.check()
            sec = _section(kind, item, w, item_by, labels, baseline, names)
            sections.append(sec)
            sources.append(item.path.name)
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    report = Report(title or w("report"), w.lang, sections,
                    [InputFacts(str(it.path), it.sha256, it.rows, it.kinds, it.provenance) for it in items],
                    created, dict(parameters or {}), list(notes or []))
    return report, sources


def _section(kind: str, item: Loaded, w: Words, by: str | None, labels: Labels,
             baseline: pl.DataFrame | None, names: list[str]) -> Section:
    lf, prov = item.frame, item.provenance
    if kind == "themes":
        return themes_section(lf, w, by, K.text_column(prov, names, "themes"), labels)
    if kind == "codes":
        return codes_section(lf, w, by, K.text_column(prov, names, "code"), labels)
    if kind == "dupes":
        return dupes_section(lf, w, K.text_column(prov, names, "dupes"))
    if kind == "checks":
        return checks_section(lf, w, labels)
    if kind == "logs":
        return logs_section(lf, w, baseline)
    enum, when = item.roles
    return survey_section(lf, w, enum, when, labels)


def pdf_pages(report: Report, sources: list[str]) -> list[tuple[str, Chart | None, list[str]]]:
    """The PDF's pages: a cover, then each chart with the table under it as text, then provenance."""
    w = Words(report.lang)
    cover = [f"{w('generated')}: {report.created}", "", f"{w('inputs')}:"]
    cover += [f"  {it.path}  ({it.rows:,} {w('rows')}; {', '.join(it.kinds)})" for it in report.inputs]
    cover += [""] + report.notes + [""] + [f"{s.title} — {src}: " + "; ".join(s.summary)
                                           for s, src in zip(report.sections, sources)]
    pages: list[tuple[str, Chart | None, list[str]]] = [(report.title, None, cover)]
    for sec, src in zip(report.sections, sources):
        for b in sec.blocks:
            if isinstance(b, Chart):
                pages.append((f"{sec.title} — {src}: {b.title}", b, []))
            else:
                pages.append((f"{sec.title} — {src}: {b.title}", None, _table_lines(b)))
    prov = []
    for it in report.inputs:
        p = it.provenance or {}
        src = p.get("source") or {}
        prov += [f"{w('file')}: {it.path}", f"  {w('sha256')}: {it.sha256}",
                 f"  {w('source')}: {src.get('path')}  {src.get('sha256')}"]
        for s in p.get("steps") or []:
            if isinstance(s, dict):
                prov.append(f"  {s.get('operation')}  {s.get('started')}  {s.get('seconds')}s  "
                            f"{s.get('model') or ''} {s.get('model_sha256') or ''}")
        prov.append("")
    pages.append((w("provenance"), None, prov))
    return pages


def _table_lines(t: Table) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    rows = [t.columns] + [[cell(v) for v in r] for r in t.rows]
    widths = [min(36, max(len(str(r[i])) for r in rows)) for i in range(len(t.columns))]
    return ["  ".join(str(v)[:wd].ljust(wd) for v, wd in zip(r, widths)) for r in rows]
