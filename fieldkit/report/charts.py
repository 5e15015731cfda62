"""Charts as self-contained SVG (and PDF pages) drawn with matplotlib, text turned into paths.

Why matplotlib: a well-kept plotting library that renders offline with no browser or
JavaScript, so the SVG needs no font or script from anywhere (`svg.fonttype = 'path'`).
The Figure API is used without pyplot, so nothing global (backends, open figures) is touched.
"""

from __future__ import annotations

import io
import itertools
import re
from typing import Any

from fieldkit.report.model import Chart

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]  # Tableau 10: distinct for most colour-blind readers
RC = {"svg.fonttype": "path", "pdf.fonttype": 42, "font.size": 9, "axes.spines.top": False,
      "axes.spines.right": False, "font.family": "DejaVu Sans"}
LABEL_CHARS = 48
_ids = itertools.count(1)


def _label(text: Any) -> str:
    """A data label for a chart: one line, cut, right-to-left scripts in visual order.

    Mathtext is off for every text object (`usetex`/`$`), so a `$` in data is drawn as is.
    """
    from bidi import get_display

    s = " ".join(str(text).split()) if text is not None else "∅"
    if len(s) > LABEL_CHARS:
        s = s[:LABEL_CHARS - 1] + "…"
    return get_display(s)


def _figure(chart: Chart):
    from matplotlib.figure import Figure

    n = max(len(chart.categories), 1)
    height = {"barh": 0.9 + 0.28 * n, "stacked": 1.3 + 0.34 * n}.get(chart.kind, 3.2)
    return Figure(figsize=(8.0, min(max(height, 2.0), 11.0)), layout="constrained")


def draw(chart: Chart):
    """The matplotlib Figure of one chart."""
    from matplotlib import rc_context

    with rc_context(RC):
        fig = _figure(chart)
        ax = fig.add_subplot()
        {"barh": _barh, "stacked": _stacked, "lines": _lines, "timebars": _timebars,
         "hist": _hist}[chart.kind](ax, chart)
        for t in ax.texts + [ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]:
            t.set_parse_math(False)
        if chart.xlabel:
            ax.set_xlabel(_label(chart.xlabel), parse_math=False)
    return fig


def _barh(ax, chart: Chart) -> None:
    cats = [_label(c) for c in chart.categories][::-1]
    vals = list(chart.values)[::-1]
    ax.barh(range(len(vals)), vals, color=PALETTE[0])
    ax.set_yticks(range(len(vals)), cats)
    top = max(vals, default=0) or 1
    for i, v in enumerate(vals):
        ax.text(v + top * 0.01, i, f"{v:.1%}" if chart.percent else f"{v:,.0f}",
                va="center", fontsize=8, parse_math=False)
    ax.set_xlim(0, top * 1.15)
    if chart.percent:
        ax.xaxis.set_major_formatter(_pct())


def _pct():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=None)


def _stacked(ax, chart: Chart) -> None:
    cats = [_label(c) for c in chart.categories][::-1]
    left = [0.0] * len(cats)
    for i, (name, vals) in enumerate(chart.series.items()):
        vals = list(vals)[::-1]
        ax.barh(range(len(cats)), vals, left=left, label=_label(name), color=PALETTE[i % len(PALETTE)])
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(range(len(cats)), cats)
    if chart.percent:
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(_pct())
    _legend(ax, len(chart.series))


def _legend(ax, n: int) -> None:
    if n:
        leg = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        for t in leg.get_texts():
            t.set_parse_math(False)


def _lines(ax, chart: Chart) -> None:
    for i, (name, vals) in enumerate(chart.series.items()):
        ax.plot(chart.x, vals, label=_label(name), color=PALETTE[i % len(PALETTE)], linewidth=1.4,
                marker="o" if len(chart.x) < 3 else None, markersize=3)
    ax.set_ylim(bottom=0)
    _dates(ax)
    _legend(ax, len(chart.series))


def _timebars(ax, chart: Chart) -> None:
    ax.bar(chart.x, chart.values, color=PALETTE[0], width=0.8)
    _dates(ax)


def _dates(ax) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    loc = AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))


def _hist(ax, chart: Chart) -> None:
    ax.hist(chart.values, bins=20, range=tuple(chart.x) if len(chart.x) == 2 else None,
            color=PALETTE[0])


_STRIP = [re.compile(r"<\?xml[^>]*\?>\s*"), re.compile(r"<!DOCTYPE[^>]*>\s*", re.S),
          re.compile(r"<metadata>.*?</metadata>\s*", re.S),
          re.compile(r'\s+xmlns(:\w+)?="[^"]*"')]


def svg(chart: Chart) -> str:
    """The chart as an inline <svg> element: no XML prolog, namespaces or metadata (no URL at all),
    ids made unique per chart so several charts can share one page."""
    fig = draw(chart)
    buf = io.StringIO()
    with _rc():
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                  "Type": None})
    text = buf.getvalue()
    for rx in _STRIP:
        text = rx.sub("", text)
    prefix = f"c{next(_ids)}-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    return text.replace("<svg ", '<svg role="img" ', 1)


def _rc():
    from matplotlib import rc_context

    return rc_context(RC)


def pdf(title: str, pages: list[tuple[str, Chart | None, list[str]]], target) -> None:
    """A PDF: one page per (heading, chart or None, text lines), fonts embedded (Type 42)."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with _rc(), PdfPages(target, metadata={"Title": title, "Creator": "fieldkit"}) as out:
        for heading, chart, lines in pages:
            if chart is not None:
                fig = draw(chart)
                fig.suptitle(_label(heading), fontsize=11, x=0.02, ha="left")
            else:
                fig = Figure(figsize=(8.27, 11.69))
                fig.text(0.06, 0.95, _label(heading), fontsize=14, va="top", parse_math=False)
                for i, line in enumerate(lines[:60]):
                    fig.text(0.06, 0.91 - i * 0.014, _label_long(line), fontsize=7.5, va="top",
                             family="DejaVu Sans Mono", parse_math=False)
            out.savefig(fig)


def _label_long(text: str) -> str:
    from bidi import get_display

    s = " ".join(str(text).split())
    return get_display(s[:120])
