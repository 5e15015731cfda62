"""One local Ray per test session (starting Ray costs seconds; CI time stays bounded)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray on 2 CPUs without the dashboard, shut down after the last Ray test."""
    ray = pytest.importorskip("ray", reason="the `scale` extra (Ray Data) is not installed")
    import logging

    started = not ray.is_initialized()
    if started:
        # address="local": the tests' own Ray even when a cluster (`ray start --head`) runs here
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    """An empty FIELDKIT_HOME shared by one module's tests (no user store, no user caches)."""
    home = tmp_path_factory.mktemp("fkhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIELDKIT_HOME", str(home))
        yield home
