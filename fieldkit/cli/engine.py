"""The shared `--engine local|ray [--address A]` options of the row-heavy commands."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

import click

ENGINES = ("local", "ray")


def engine_options(command: Callable) -> Callable:
    """Add --engine and --address to a command (one definition, the same help everywhere)."""
    command = click.option(
        "--address", default=None, metavar="HOST:PORT",
        help="with --engine ray: join this Ray cluster (`ray start --head` prints it); default a local Ray")(command)
    return click.option(
        "--engine", type=click.Choice(ENGINES), default="local", show_default=True,
        help="where the work runs: this process, or Ray Data (extra `scale`: pip install 'fieldkit[scale]')")(command)


def engine_context(engine: str, address: str | None):
    """A context in which the command's pipeline calls run on the chosen engine.

    `local` imports nothing; `ray` checks the extra first (one error line and the install
    hint, exit 2) and starts or joins Ray.
    """
    from fieldkit.errors import UsageError

    if engine == "local":
        if address:
            raise UsageError("--address is for --engine ray", "add --engine ray, or leave --address out")
        return nullcontext(None)
    from fieldkit.scale import ray_engine, require

    require()
    return ray_engine(address)
