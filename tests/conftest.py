"""Shared fixtures: where the real third-party data lives, and a clean FIELDKIT_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE_DATA = ROOT / "sample_data"


def shared(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test with a reason when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared/data is not here ({p} missing); real-data tests skipped")
    return p


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not here; real-data tests skipped")
    return SHARED_DATA


@pytest.fixture
def fk_home(tmp_path, monkeypatch) -> Path:
    """An empty FIELDKIT_HOME for tests that must not see the user's store or caches."""
    home = tmp_path / "fkhome"
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    return home
