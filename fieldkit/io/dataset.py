"""Dataset: a lazy frame plus what the loader learned about the file.

(Minimal first version: Parquet and plain CSV; the full loaders replace `_load`.)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from fieldkit.errors import InputError, UsageError
from fieldkit.progress import Reporter


@dataclass
class Dataset:
    path: Path
    format: str
    frame: pl.LazyFrame
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def columns(self) -> list[str]:
        return self.frame.collect_schema().names()

    @cached_property
    def sha256(self) -> str:
        from fieldkit.store import file_sha256

        return file_sha256(self.path)

    def source_info(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "format": self.format,
            "encoding": self.encoding,
            **({"sheet": self.sheet} if self.sheet else {}),
        }

    def require_column(self, name: str) -> str:
        if name in self.columns:
            return name
        close = difflib.get_close_matches(name, self.columns, n=3, cutoff=0.5)
        lower = [c for c in self.columns if name.lower() in c.lower() and c not in close]
        guesses = close + lower[: 3 - len(close)]
        hint = (
            "did you mean: " + ", ".join(repr(c) for c in guesses)
            if guesses
            else f"run `fieldkit inspect {self.path}` to list the columns"
        )
        raise UsageError(f"column {name!r} is not in {self.path.name}", hint)

    def text_column(self, name: str) -> pl.Series:
        col = self.require_column(name)
        return self.frame.select(pl.col(col).cast(pl.String)).collect().to_series()


def load_dataset(
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    reporter: Reporter | None = None,
) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path and spelling")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return Dataset(path, "parquet", pl.scan_parquet(path))
    if suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" else ","
        return Dataset(path, "csv", pl.scan_csv(path, separator=sep), "utf-8", sep)
    raise InputError(f"cannot open {path.name}: unknown format", "fieldkit reads CSV and Parquet")
