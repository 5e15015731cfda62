"""A progress callback that draws one status line on stderr (only on a terminal)."""

from __future__ import annotations

import sys
import time

import click

from fieldkit.progress import Progress
from fieldkit.cli.output import safe


class StderrProgress:
    """Callable progress sink: `stage 1,234/10,000 (12%) 3.1s` rewritten in place."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self._width = 0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        total = f"/{p.total:,}" if p.total else ""
        pct = f" ({p.fraction:.0%})" if p.fraction is not None else ""
        msg = f" {p.message}" if p.message else ""
        line = f"{p.stage} {p.done:,}{total}{pct} {elapsed:.1f}s{msg}"
        pad = max(0, self._width - len(line))
        self._width = len(line)
        click.echo("\r" + safe(line) + " " * pad, err=True, nl=False)

    def close(self) -> None:
        if self.enabled and self._width:
            click.echo("\r" + " " * self._width + "\r", err=True, nl=False)
            self._width = 0

    def __enter__(self) -> "StderrProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
