"""The Ray engine (`--engine ray`, extra `scale`): the same pipeline jobs with their heavy parts on Ray Data.

Nothing here imports ray until a job asks for it, so `fieldkit` without the extra starts as
fast as before and `--engine local` (the default) never touches Ray.
"""

from __future__ import annotations

import importlib.util

from fieldkit.errors import UsageError

INSTALL_HINT = "pip install 'fieldkit[scale]'"


def available() -> bool:
    """True when Ray Data can be imported (the `scale` extra is installed)."""
    return importlib.util.find_spec("ray") is not None


def require() -> None:
    """Refuse `--engine ray` with one line and the install command when Ray is missing."""
    if not available():
        raise UsageError("--engine ray needs Ray Data, which is not installed", INSTALL_HINT)


def ray_engine(address: str | None = None, workers: int | None = None):
    """A context manager that starts (or joins, with `address`) Ray and runs the jobs inside on it."""
    require()
    from fieldkit.scale.engine import session

    return session(address=address, workers=workers)
