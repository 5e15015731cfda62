"""A prepared model (multilingual-e5-small, converted here) runs on the Ray workers like on one machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fieldkit import pipelines
from tests.unit.e5_support import MODEL_ID, prepared_home

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parent.parent.parent / "sample_data" / "kobo_water_survey.csv"


def test_embed_on_ray_with_a_prepared_model_equals_local(local_ray, monkeypatch):
    """model_view asked a prepared model for a shipped `model` file it does not have: --engine ray failed."""
    from fieldkit.scale import ray_engine

    home, run = prepared_home()
    assert run.returncode == 0, run.stderr
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    local = pipelines.embed(pipelines.dataset(SAMPLE), "feedback/comment", model_id=MODEL_ID)
    with ray_engine():
        on_ray = pipelines.embed(pipelines.dataset(SAMPLE), "feedback/comment", model_id=MODEL_ID)
    a = np.asarray(local.columns["embedding"])
    b = np.asarray(on_ray.columns["embedding"])
    assert a.shape == b.shape == (300, 384)
    assert float(np.abs(a - b).max()) <= 1e-4
    assert on_ray.step["model"] == local.step["model"] == MODEL_ID
    assert on_ray.step["model_sha256"] == local.step["model_sha256"]
    assert on_ray.step["engine"]["name"] == "ray"
