"""The `fieldkit` command: a thin edge that parses, calls the core, prints, sets the exit code.

Exit codes: 0 success; 2 bad input or usage (one `error: ...` line plus a hint on stderr,
never a traceback); 130 cancelled; 1 an internal fault.
"""

from __future__ import annotations

import os
import sys

import click

from fieldkit.cli.group import cli
from fieldkit.errors import FieldkitError


def _err(line: str) -> None:
    click.echo(line, err=True)


__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turn every failure into one clean line and an exit code."""
    try:
        rv = cli.main(args=argv, prog_name="fieldkit", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else "", err=True)
        code = 2
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "fieldkit"
        _err(f"error: {e.format_message()}")
        _err(f"hint: see `{cmd} --help`")
        code = 2
    except click.exceptions.Abort:
        _err("error: cancelled")
        code = 130
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        _err(f"error: {e.format_message()}")
        code = 2
    except FieldkitError as e:
        _err(f"error: {e.message}")
        if e.hint:
            _err(f"hint: {e.hint}")
        code = e.exit_code
    except KeyboardInterrupt:
        _err("error: cancelled; nothing was written")
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as e:  # an internal fault: say so plainly; details on request
        if os.environ.get("FIELDKIT_DEBUG"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        _err(f"internal error: {type(e).__name__}: {first}")
        _err("hint: this is a bug in fieldkit; rerun with FIELDKIT_DEBUG=1 for details and report it")
        code = 1
    sys.exit(code)


def _register() -> None:
    """Import the command modules; each adds its commands to `cli`."""
    import importlib

    for name in ("data", "models", "embed", "text", "logs"):
        try:
            importlib.import_module(f"fieldkit.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"fieldkit.cli.{name}":
                raise


_register()
