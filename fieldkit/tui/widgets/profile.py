"""The side panel's column profile: nulls, distinct, top values, numeric stats, histogram."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from fieldkit.tui.model import ColumnProfile, fit_text, sparkline


def render_profile(p: ColumnProfile, width: int = 30) -> Table:
    """A compact Rich table for a column profile (fits a 30-cell panel)."""
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True, overflow="ellipsis")
    t.add_row(Text(fit_text(p.name, width), style="bold underline"), "")
    t.add_row("type", p.dtype)
    t.add_row("rows", f"{p.rows:,}")
    pct = (p.nulls / p.rows * 100) if p.rows else 0.0
    t.add_row("nulls", f"{p.nulls:,} ({pct:.1f}%)")
    t.add_row("distinct", f"{p.distinct:,}" if p.distinct >= 0 else "?")
    for k, v in p.stats.items():
        t.add_row(k.replace("_", " "), f"{v:.4g}" if isinstance(v, float) else escape(str(v)))
    if p.histogram:
        label = "lengths" if "len_min" in p.stats else "histogram"
        t.add_row(label, Text(sparkline(p.histogram), style="green"))
    if p.top:
        t.add_row("", "")
        t.add_row("top values", "")
        for value, count in p.top:
            t.add_row(f"{count:,}", Text(fit_text(value or "(empty)", max(8, width - 8))))
    return t


class ProfilePanel(Static):
    """Shows the profile of the selected column (computed off the UI thread)."""

    def show(self, p: ColumnProfile | None, message: str = "") -> None:
        if p is None:
            self.update(message)
        else:
            self.update(render_profile(p, max(12, self.size.width - 10)))
