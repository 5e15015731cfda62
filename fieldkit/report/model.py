"""What a report is made of, as plain data: sections holding charts, tables and notes.

Why apart from the rendering: the same sections become HTML (inline SVG), PDF pages and
terminal charts, and tests can check the numbers without parsing any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Chart:
    """One chart: `kind` is barh (categories/values), stacked (categories x series shares),
    lines (x times, series counts), timebars (x days, values) or hist (values in bins)."""

    title: str
    kind: str
    categories: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    x: list[Any] = field(default_factory=list)
    percent: bool = False
    xlabel: str = ""


@dataclass
class Table:
    """Rows under a chart; `total` is how many rows there were before the cut to `rows`."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    total: int | None = None


@dataclass
class Section:
    """One kind of content from one input: its title, a short summary and its blocks in order."""

    kind: str
    title: str
    summary: list[str] = field(default_factory=list)
    blocks: list[Chart | Table] = field(default_factory=list)

    @property
    def charts(self) -> list[Chart]:
        return [b for b in self.blocks if isinstance(b, Chart)]

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


@dataclass
class InputFacts:
    """An input file as the provenance section shows it."""

    path: str
    sha256: str | None
    rows: int
    kinds: list[str]
    provenance: dict[str, Any] | None


@dataclass
class Report:
    """The whole report: title, language, sections in order, inputs with their provenance."""

    title: str
    lang: str
    sections: list[Section]
    inputs: list[InputFacts]
    created: str
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]
