"""Ray engine vs local on the shared loghub sets: the same lines, groups, templates, params and digest."""

from __future__ import annotations

import json

import polars as pl
import pytest

from fieldkit.store import read_provenance
from tests.conftest import shared
from tests.e2e.test_cli_text import run

pytestmark = pytest.mark.slow
SYSTEMS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Spark", "Zookeeper"]


@pytest.fixture(scope="module")
def loghub():
    return [str(shared("logs", f"{name}_2k.log")) for name in SYSTEMS]


def _both(capsys, tmp_path, files, *extra):
    code, local_out, err = run(capsys, "logs", *files, "-o", str(tmp_path / "local.parquet"), *extra)
    assert code == 0, err
    code, ray_out, err = run(capsys, "logs", *files, "-o", str(tmp_path / "ray.parquet"), *extra, "--engine", "ray")
    assert code == 0, err
    return local_out, ray_out, pl.read_parquet(tmp_path / "local.parquet"), pl.read_parquet(tmp_path / "ray.parquet")


def test_eight_systems_merged_by_time_group_exactly_as_local(capsys, tmp_path, loghub, local_ray, module_home):
    local_out, ray_out, a, b = _both(capsys, tmp_path, loghub)
    assert a.height == b.height == 16_000 and a.columns == b.columns
    assert a["template_id"].n_unique() > 300
    assert a.equals(b)  # every line, in the same order, with the same group, template and params
    # the digest and summary printed are the local run's, line for line (the "wrote" line names the file)
    assert local_out.splitlines()[:-1] == ray_out.splitlines()[:-1]
    lp, rp = read_provenance(tmp_path / "local.parquet"), read_provenance(tmp_path / "ray.parquet")
    assert rp["source"] == lp["source"] and rp["steps"][0]["parameters"] == lp["steps"][0]["parameters"]


def test_one_file_against_a_baseline(capsys, tmp_path, loghub, local_ray, module_home):
    """Seeded with an earlier run's templates (ids kept, new ones reported), as locally."""
    code, _, err = run(capsys, "logs", loghub[2], "-o", str(tmp_path / "old.parquet"),
                       "--templates-out", str(tmp_path / "tpl.parquet"))
    assert code == 0, err
    local_out, ray_out, a, b = _both(capsys, tmp_path, [loghub[0], loghub[2]], "--baseline", str(tmp_path / "tpl.parquet"))
    assert a.equals(b)
    assert local_out.splitlines()[:-1] == ray_out.splitlines()[:-1]
    assert "new" in local_out.lower()


def test_parts_written_by_the_workers_equal_the_local_parts(capsys, tmp_path, loghub, local_ray, module_home):
    """`--parts`: each batch of each file one part, the same on both engines, the one file's lines and provenance."""
    files = loghub[:3]
    code, local_out, err = run(capsys, "logs", *files, "-o", str(tmp_path / "local"), "--parts")
    assert code == 0, err
    code, ray_out, err = run(capsys, "logs", *files, "-o", str(tmp_path / "ray"), "--parts", "--engine", "ray")
    assert code == 0, err
    assert local_out.splitlines()[:-1] == ray_out.splitlines()[:-1] and "(a folder of parts)" in ray_out
    names = sorted(p.name for p in (tmp_path / "ray").glob("part-*.parquet"))
    assert names == sorted(p.name for p in (tmp_path / "local").glob("part-*.parquet")) and len(names) >= 3
    for n in names:
        assert pl.read_parquet(tmp_path / "ray" / n).equals(pl.read_parquet(tmp_path / "local" / n))
    code, _, err = run(capsys, "logs", *files, "-o", str(tmp_path / "one.parquet"))
    assert code == 0, err
    one = pl.read_parquet(tmp_path / "one.parquet")
    got = pl.concat([pl.read_parquet(tmp_path / "ray" / n) for n in names])
    assert got.columns == one.columns and got.sort("source", "line_no").equals(one.sort("source", "line_no"))
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert [p["file"] for p in manifest["parts"]] == names
    assert manifest["rows"] == sum(p["rows"] for p in manifest["parts"]) == one.height == 6_000
    lp = read_provenance(tmp_path / "one.parquet")
    for n in names:  # each part says where it came from and what ran, as the one file does
        rp = read_provenance(tmp_path / "ray" / n)
        assert rp["source"] == lp["source"] and rp["steps"][0]["parameters"] == lp["steps"][0]["parameters"]
        assert rp["steps"][0]["engine"]["name"] == "ray"
    assert manifest["provenance"]["steps"][0]["parameters"] == lp["steps"][0]["parameters"]


def test_word_variables_learnt_per_batch_are_learnt_alike_on_the_workers(capsys, tmp_path, local_ray, module_home):
    """`vary` decides from one batch's lines: the workers, masking the local batches, make the same templates."""
    from pathlib import Path

    dpkg = Path(__file__).resolve().parent.parent / "data" / "logs" / "dpkg_excerpt.log"
    _, _, a, b = _both(capsys, tmp_path, [str(dpkg), str(shared("logs", "HealthApp_2k.log"))])
    assert a.equals(b)
    assert {"status unpacked <*>", "install <*> <none> <*>"} <= set(a["template"].to_list())
