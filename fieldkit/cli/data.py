"""Data commands: open, inspect, convert."""

from __future__ import annotations

import click

from fieldkit.cli import cli


def open_tui(path: str | None) -> None:
    """Start the terminal interface (imports textual only now)."""
    from fieldkit.tui.app import run_app

    run_app(path)


@cli.command("open")
@click.argument("path", required=False, type=click.Path())
def open_cmd(path: str | None) -> None:
    """Open PATH (a file or folder) in the terminal interface, or a file browser."""
    open_tui(path)
