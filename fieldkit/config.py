"""Paths and thread settings, from the environment with sensible defaults."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def fieldkit_home() -> Path:
    """FIELDKIT_HOME, default ~/.local/share/fieldkit (XDG_DATA_HOME respected)."""
    env = os.environ.get("FIELDKIT_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "fieldkit"


def models_home() -> Path:
    """Where installed (verified) model files live."""
    return fieldkit_home() / "models"


def cache_home() -> Path:
    """Where derived data (embedding caches, prepared graphs) live."""
    return fieldkit_home() / "cache"


def manifest_dir() -> Path:
    """The project's `models/` folder: manifest and small files such as tokenizer.json."""
    env = os.environ.get("FIELDKIT_MANIFEST_DIR")
    if env:
        return Path(env)
    checkout = PROJECT_ROOT / "models"
    # an install from a wheel (e.g. from the air-gapped kit) carries models/ inside the package
    return checkout if (checkout / "manifest.json").is_file() else Path(__file__).resolve().parent / "_bundled_models"


def physical_cores() -> int:
    """Physical cores (not hyper-threads) when we can tell; FIELDKIT_THREADS overrides."""
    env = os.environ.get("FIELDKIT_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = set()
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            phys = core = None
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip():
                    if core is not None:
                        cores.add((phys, core))
                    phys = core = None
        if cores:
            return max(1, min(len(cores), os.cpu_count() or 1))
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)
