"""Text from data (names, values, messages) made safe for Textual's markup parser.

`textual.markup.escape` only escapes brackets that look like lowercase tags, so `[N]` or
`[Other]` would still be read as markup; escaping every `[` keeps any text exactly as typed.
"""

from __future__ import annotations

import unicodedata

import polars as pl


def escape(text: object) -> str:
    """`text` as markup that renders to exactly `text`."""
    return str(text).replace("[", "\\[")


def fold(expr: pl.Expr) -> pl.Expr:
    """Text with case and accents folded, so `grafic` finds `Gráficos`."""
    return expr.cast(pl.String).str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()


def fold_text(text: str) -> str:
    """The same folding for a Python string (the needle)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
