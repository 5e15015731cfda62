"""The side panel's column profile: nulls, distinct, top values, numeric stats, histogram."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from fieldkit.tui.model import ColumnProfile, fit_text, sparkline
from fieldkit.tui.roles import display_name


def render_profile(p: ColumnProfile, width: int = 30, extra: Any = None) -> Group:
    """The column name (wrapped in full), then a compact table that fits a ~30-cell panel.

    `extra` (from `fieldkit.tui.roles.column_facts`) adds the survey role, the options of a
    select_multiple question counted one by one, and hints such as values with end spaces.
    """
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True, overflow="ellipsis")
    t.add_row("type", p.dtype)
    t.add_row("rows", f"{p.rows:,}")
    pct = (p.nulls / p.rows * 100) if p.rows else 0.0
    t.add_row("nulls", f"{p.nulls:,} ({pct:.1f}%)")
    t.add_row("distinct", f"{p.distinct:,}" if p.distinct >= 0 else "?")
    categorical = 0 <= p.distinct <= 12
    for k, v in p.stats.items():
        if categorical and k.startswith("len"):
            continue
        t.add_row(k.replace("_", " "), f"{v:.4g}" if isinstance(v, float) else Text(str(v)))
    if p.histogram and not categorical:
        label = "lengths" if "len_min" in p.stats else "histogram"
        t.add_row(label, Text(sparkline(p.histogram), style="green"))
        if p.hist_range:
            lo, hi = p.hist_range
            t.add_row("", Text(f"{lo:.4g} … {hi:.4g}", style="dim"))
    parts = [Text(display_name(p.name), style="bold underline")]
    if extra is not None and extra.role:
        parts.append(Text(extra.role, style="magenta"))
    parts.append(t)
    if extra is not None and extra.options:
        opts = Table.grid(padding=(0, 1))
        opts.add_column(justify="right", style="cyan", no_wrap=True)
        opts.add_column(no_wrap=True, overflow="ellipsis")
        most = max((c for _, c in extra.options), default=0) or 1
        for name, count in extra.options:
            bar = "█" * max(1 if count else 0, round(count / most * 6))
            opts.add_row(f"{count:,}", Text.assemble((bar + " ", "green"), fit_text(name, max(8, width - 14))))
        parts += [Text(""), Text(f"options chosen ({extra.answered:,} answered)", style="bold"), opts]
    elif p.top:
        top = Table.grid(padding=(0, 1))
        top.add_column(justify="right", style="cyan", no_wrap=True)
        top.add_column(no_wrap=True, overflow="ellipsis")
        most = max(c for _, c in p.top) or 1
        for value, count in p.top:
            bar = "█" * max(1, round(count / most * 6))
            top.add_row(f"{count:,}", Text.assemble((bar + " ", "green"), fit_text(value or "(empty)", max(8, width - 14))))
        parts += [Text(""), Text("top values", style="bold"), top]
    for hint in (extra.hints if extra is not None else ()):
        parts += [Text(""), Text(hint, style="yellow")]
    return Group(*parts)


class ProfilePanel(Static):
    """Shows the profile of the selected column (computed off the UI thread)."""

    def show(self, p: ColumnProfile | None, message: str = "", extra: Any = None) -> None:
        if p is None:
            self.update(Text(message))
        else:
            self.update(render_profile(p, max(20, self.size.width), extra))
