"""The `fieldkit` click group, apart from the package so command modules can import it without a cycle."""

from __future__ import annotations

import click

from fieldkit import __version__


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fieldkit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Offline field data toolkit. Run without a command to open the terminal interface."""
    if ctx.invoked_subcommand is None:
        from fieldkit.tui.app import run_app

        run_app(None)
