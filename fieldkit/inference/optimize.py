"""Derived graphs: faster rewrites of a verified model file, cached under cache_home()."""

from __future__ import annotations

from pathlib import Path

from fieldkit.inference.manifest import ModelEntry


def derived_graph(entry: ModelEntry, model_path: Path, sha256: str):
    """(path, sha256, kind) of a faster graph derived from `model_path`, or None to run it as is."""
    return None
