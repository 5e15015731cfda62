"""Ray engine vs local on the shared R survey: the same vectors, themes and duplicate groups."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fieldkit import pipelines
from tests.conftest import shared

pytestmark = pytest.mark.slow
LIKE_BEST = "What do you like best about using R?"


@pytest.fixture(scope="module")
def survey():
    return shared("survey", "rstudio_r_community_survey_2019_en.tsv")


@pytest.fixture(scope="module")
def local(survey, module_home):
    """The local jobs (the reference), run once for the module."""
    ds = pipelines.dataset(survey)
    return {"embed": pipelines.embed(ds, LIKE_BEST), "themes": pipelines.themes(ds, LIKE_BEST),
            "dupes": pipelines.dupes(ds, LIKE_BEST, threshold=0.9)}


@pytest.fixture(scope="module")
def on_ray(survey, local, local_ray, module_home):
    """The same jobs on a 2-CPU local Ray (embedding cache not used: the workers really embed)."""
    from fieldkit.scale import ray_engine
    from fieldkit.scale.themes import themes

    with ray_engine() as engine:
        out = {"embed": pipelines.embed(pipelines.dataset(survey), LIKE_BEST),
               "themes": themes(pipelines.dataset(survey), LIKE_BEST),
               "dupes": pipelines.dupes(pipelines.dataset(survey), LIKE_BEST, threshold=0.9),
               "sample": themes(pipelines.dataset(survey), LIKE_BEST, sample=600, k=5)}
        out["workers"] = engine.workers
    return out


def test_embeddings_equal_local_within_1e4(local, on_ray):
    a = np.asarray(local["embed"].columns["embedding"])
    b = np.asarray(on_ray["embed"].columns["embedding"])
    assert a.shape == b.shape == (1838, 384)
    assert float(np.abs(a - b).max()) <= 1e-4
    la, ra = local["embed"].step, on_ray["embed"].step
    assert (ra["model"], ra["model_sha256"], ra["parameters"]) == (la["model"], la["model_sha256"], la["parameters"])
    assert ra["engine"]["name"] == "ray" and ra["engine"]["workers"] == on_ray["workers"] == 2
    assert "engine" not in la
    assert on_ray["embed"].outcome.stats.empty == local["embed"].outcome.stats.empty > 0


def test_theme_assignment_matches_local(local, on_ray):
    from sklearn.metrics import adjusted_rand_score

    a = local["themes"].columns["theme_id"].to_numpy()
    b = on_ray["themes"].columns["theme_id"].to_numpy()
    assert adjusted_rand_score(a, b) >= 0.95
    lt, rt = local["themes"].outcome.result, on_ray["themes"].outcome.result
    assert rt.k == lt.k and [t.label for t in rt.themes] == [t.label for t in lt.themes]
    # fewer answers than the fit sample: the fit saw every answer, as the local run's did
    from fieldkit.analysis.themes import MIN_CHARS, _normalised_len

    answers = sum(_normalised_len(t) >= MIN_CHARS for t in local["dupes"].outcome.texts)
    assert on_ray["themes"].step["parameters"]["fit_rows"] == answers > 1000


def test_same_seed_same_themes_as_local_on_the_sample(local, on_ray):
    """Fitted on 600 sampled rows, the Ray run's themes are the local fit's on those rows."""
    from fieldkit.analysis.themes import find_themes
    from fieldkit.scale.themes import fit_sample

    texts = local["dupes"].outcome.texts
    rows = fit_sample(texts, 600)
    vecs = np.asarray(local["embed"].columns["embedding"])[rows]
    ref = find_themes([texts[i] for i in rows], vecs, k=5)
    got = on_ray["sample"].outcome.result
    assert [(t.id, t.label, t.keywords) for t in got.themes[:-1]] == [(t.id, t.label, t.keywords) for t in ref.themes[:-1]]
    np.testing.assert_allclose(got.model.centres, ref.model.centres, atol=1e-5)
    # every other row was assigned on the workers by the fit's rule
    assert np.array_equal(on_ray["sample"].columns["theme_id"].to_numpy()[rows], ref.theme_id)
    assert sum(t.size for t in got.themes) == len(texts)


def test_duplicate_groups_equal_local(local, on_ray):
    a, b = local["dupes"], on_ray["dupes"]
    assert a.outcome.result.groups > 10
    assert a.columns["dup_group"].equals(b.columns["dup_group"])
    assert a.columns["dup_size"].equals(b.columns["dup_size"])
    assert b.outcome.result.near_links == a.outcome.result.near_links > 0
