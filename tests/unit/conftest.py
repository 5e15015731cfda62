"""Fixtures shared by several unit-test modules."""

from __future__ import annotations

import collections
import json

import pytest

from tests.conftest import shared


@pytest.fixture(scope="module")
def dialogues() -> list[tuple[str, list[str]]]:
    """The 500 DialogSum test dialogues, each with its three reference summaries."""
    rows = json.loads(shared("summarization", "dialogsum_test_500x3refs.json").read_text("utf-8"))
    refs: dict[str, list[str]] = collections.OrderedDict()
    for r in rows:
        refs.setdefault(r["dialogue"], []).append(r["summary"])
    return list(refs.items())
