"""What a summary returns, shared by the extractive and generative paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from fieldkit.analysis.sentences import is_cjk_text


@dataclass(frozen=True)
class Summary:
    """A summary and how it was made (mode actually used, model id)."""

    text: str
    mode: str
    model: str | None
    units: tuple[str, ...] = ()  # extractive: the picked sentences or answers, in order
    notes: tuple[str, ...] = field(default_factory=tuple)
    genre: str = ""  # the input's shape (summary_genre.GENRES); "" for a collection
    replaced: int = 0  # generated sentences replaced by the closest source sentence
    generated: int = 0  # generated sentences checked against the source



def joiner(parts: Sequence[str]) -> str:
    """What goes between sentences: nothing for Chinese/Japanese/Korean, else a space."""
    return "" if parts and is_cjk_text("".join(parts)) else " "
