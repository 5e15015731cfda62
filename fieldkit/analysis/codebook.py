"""Codebooks and code values: what codes exist, what they mean, and how one answer holds several.

CONTRACT: split_codes(value) -> list[str]; read_codebook(path) -> Codebook (InputError without
a `code` column); Codebook.seed_texts(code) -> the texts that stand for a code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldkit.errors import InputError

SEP = ";"  # several codes in one answer: "water;health"


def split_codes(value: Any) -> list[str]:
    """The codes of one answer: a `;`-separated string or a list; empty -> []."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(SEP)
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        code = " ".join(str(item).split())
        if code and code not in out:
            out.append(code)
    return out


def humanize(code: str) -> str:
    """'card_arrival' -> 'card arrival': code names read as words by the embedding model."""
    return " ".join(code.replace("_", " ").replace("-", " ").split())


@dataclass
class Codebook:
    """Codes in the analyst's order, with what each means (description, example answers)."""

    codes: list[str]
    descriptions: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def seed_texts(self, code: str) -> list[str]:
        """Texts that stand for a code: its name, description and examples."""
        texts = [humanize(code)]
        if self.descriptions.get(code):
            texts.append(self.descriptions[code])
        texts += self.examples.get(code, [])
        return texts


def read_codebook(path: str | Path) -> Codebook:
    """A codebook file (CSV or any table fieldkit reads): columns code, description, examples."""
    from fieldkit.io import load_dataset

    ds = load_dataset(path)
    by_lower = {c.strip().lower(): c for c in ds.columns}
    if "code" not in by_lower:
        shown = ", ".join(repr(c[:30]) for c in ds.columns[:6])
        raise InputError(f"codebook {Path(path).name} has no `code` column (it has {shown})",
                         "give a CSV with columns code, description and optionally examples "
                         "(examples separated by ;)")
    df = ds.frame.collect()

    def column(name: str) -> list[Any]:
        return df.get_column(by_lower[name]).to_list() if name in by_lower else [None] * df.height

    book = Codebook(codes=[])
    for code, desc, ex in zip(column("code"), column("description"), column("examples")):
        code = " ".join(str(code).split()) if code is not None else ""
        if not code:
            continue
        if code not in book.codes:
            book.codes.append(code)
        if desc is not None and str(desc).strip():
            book.descriptions[code] = " ".join(str(desc).split())
        book.examples.setdefault(code, []).extend(split_codes(ex))
    if not book.codes:
        raise InputError(f"codebook {Path(path).name} names no codes",
                         "fill the `code` column, one code per row")
    return book
