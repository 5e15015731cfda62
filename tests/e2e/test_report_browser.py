"""The report opened in a real headless Chromium: the screenshot shows the page and its charts.

Skips when no Chromium is installed (CI need not install it; `apt-get install -y chromium`).
"""

from __future__ import annotations

import pytest

from bench.report_browser import find_chromium, screenshot
from fieldkit.pipelines.report import report
from tests.conftest import shared

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_chromium() is None, reason="no chromium (apt-get install -y chromium)")]


def test_report_screenshot_is_not_blank_and_a_blank_page_is_caught(tmp_path):
    page = tmp_path / "survey.html"
    report([shared("survey", "reach_bgd_hfc_sample_dataset.csv")], page, lang="ar")
    shot = screenshot(page, tmp_path / "survey.png", height=1600)
    assert shot.width == 1200 and not shot.blank, shot
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    assert screenshot(empty, tmp_path / "empty.png", height=600).blank
