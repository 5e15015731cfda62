"""The survey context every check reads: the table with a row index, its columns' roles, the form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fieldkit.progress import Reporter

ROW = "__row"


@dataclass
class Context:
    """What every check needs: the lazy table with a row index, the roles of its columns, the form."""

    lf: pl.LazyFrame
    schema: pl.Schema
    cfg: dict[str, Any]
    keys: pl.DataFrame  # ROW, uuid, enumerator
    key_column: str | None
    id_columns: list[str]
    enumerator: str | None
    start: str | None
    end: str | None
    gps: tuple[str, str] | None
    answer_columns: list[str]
    numeric_columns: list[str]
    option_columns: list[str]
    form: Any = None
    match: Any = None
    lang: str | None = None
    compiler: Any = None
    reporter: Reporter | None = None
    skipped: list[str] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    other_groups: int = 0

    @property
    def columns(self) -> list[str]:
        return [c for c in self.schema.names() if c != ROW]
