"""The core never imports textual (or click/rich): checked in a fresh interpreter per module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import fieldkit

CORE_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(fieldkit.__path__, "fieldkit.")
    if not m.name.startswith(("fieldkit.tui", "fieldkit.cli", "fieldkit.__main__"))
)


def test_there_are_core_modules():
    assert "fieldkit.store.parquet" in CORE_MODULES
    assert "fieldkit.io.dataset" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_not_import_ui(module):
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('textual', 'click', 'rich') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"
