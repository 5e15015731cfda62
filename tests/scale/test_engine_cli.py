"""`--engine` on the commands: local needs no Ray, a missing extra is one clean error, parts on Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fieldkit.store import read_provenance
from tests.conftest import shared
from tests.e2e.test_cli_text import run

LIKE_BEST = "What do you like best about using R?"
COMMANDS = [["embed", "-c", "feedback/comment", "-o", "OUT.parquet"],
            ["themes", "-c", "feedback/comment", "-o", "OUT.parquet"],
            ["dupes", "-c", "feedback/comment", "-o", "OUT.parquet"],
            ["code", "-c", "feedback/comment", "--labels", "feedback/language", "-o", "OUT.parquet"],
            ["convert", "-o", "OUT.parquet"],
            ["logs", "-o", "OUT.parquet"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c[0])
def test_engine_ray_without_the_extra_is_one_error_line(cmd, capsys, tmp_path, fk_home, monkeypatch):
    import fieldkit.scale

    monkeypatch.setattr(fieldkit.scale, "available", lambda: False)
    out = tmp_path / "out.parquet"
    src = "sample_data/fieldsync_server.log" if cmd[0] == "logs" else "sample_data/kobo_water_survey.csv"
    args = [cmd[0], src, *[str(out) if a == "OUT.parquet" else a for a in cmd[1:]]]
    code, stdout, err = run(capsys, *args, "--engine", "ray")
    assert code == 2 and stdout == ""
    assert err.splitlines() == ["error: --engine ray needs Ray Data, which is not installed",
                                "hint: pip install 'fieldkit[scale]'"]
    assert not out.exists()


def test_address_without_ray_engine_is_a_usage_error(capsys, tmp_path, fk_home):
    code, _, err = run(capsys, "dupes", "sample_data/kobo_water_survey.csv", "-c", "feedback/comment",
                       "--exact", "--address", "10.0.0.1:6379")
    assert code == 2 and err.startswith("error: --address is for --engine ray")


def test_local_engine_never_imports_ray(tmp_path, fk_home):
    """The default engine runs a job without Ray in the process (nor its start-up cost)."""
    out = tmp_path / "o.parquet"
    code = ("import sys\nfrom fieldkit.cli import main\n"
            "try:\n    main(['dupes', 'sample_data/kobo_water_survey.csv', '-c', 'feedback/comment', '--exact',"
            f" '--engine', 'local', '-o', {str(out)!r}])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert pl.read_parquet(out).height > 0


@pytest.mark.slow
def test_embed_on_ray_as_a_folder_of_parts_equals_local(capsys, tmp_path, local_ray, module_home, monkeypatch):
    pytest.importorskip("ray")
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    code, out, err = run(capsys, "embed", str(src), "-c", LIKE_BEST, "-o", str(tmp_path / "local.parquet"))
    assert code == 0, err
    parts = tmp_path / "parts"

    def driver_writes(*a, **k):
        raise AssertionError("the driver wrote the parts; the workers should have")

    monkeypatch.setattr("fieldkit.pipelines.parts.save_parts", driver_writes)
    code, out, err = run(capsys, "embed", str(src), "-c", LIKE_BEST, "-o", str(parts),
                         "--parts", "700", "--engine", "ray")
    assert code == 0, err
    assert "(3 parts)" in out
    names = sorted(p.name for p in parts.glob("part-*.parquet"))
    assert names == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    manifest = json.loads((parts / "manifest.json").read_text())
    assert manifest["rows"] == 1838 and [(p["file"], p["rows"]) for p in manifest["parts"]] == \
        [(names[0], 700), (names[1], 700), (names[2], 438)]
    local = pl.read_parquet(tmp_path / "local.parquet")
    ray_rows = pl.concat([pl.read_parquet(parts / n) for n in names])
    assert ray_rows.columns == local.columns and ray_rows.height == local.height == 1838
    assert ray_rows.drop("embedding").equals(local.drop("embedding"))
    diff = np.abs(np.stack(ray_rows["embedding"].to_numpy()) - np.stack(local["embedding"].to_numpy()))
    assert float(diff.max()) <= 1e-4
    lp = read_provenance(tmp_path / "local.parquet")
    for n in names:  # every part says where it came from and what ran, as the local file does
        rp = read_provenance(parts / n)
        assert rp["source"] == lp["source"]
        (ls,), (rs,) = lp["steps"], rp["steps"]
        assert {k: rs[k] for k in ("operation", "parameters", "model", "model_sha256")} == \
               {k: ls[k] for k in ("operation", "parameters", "model", "model_sha256")}
        assert rs["engine"]["name"] == "ray"


@pytest.mark.slow
def test_convert_a_folder_on_ray_one_task_per_file(capsys, tmp_path, local_ray, module_home):
    """Each file converted by the local job on a worker; a file that is not data is named, not fatal."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for src in ("sample_data/kobo_water_survey.csv", shared("messy", "csvkit_latin1.csv")):
        (folder / Path(src).name).write_bytes(Path(src).read_bytes())
    (folder / "photo.bin").write_bytes(b"\x00\x01\x02binary")
    code, out, err = run(capsys, "convert", str(folder), "-o", str(tmp_path / "parquet"), "--engine", "ray")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "parquet").iterdir()) == ["csvkit_latin1.parquet", "kobo_water_survey.parquet"]
    assert "note: skipped photo.bin:" in err
    for name in ("kobo_water_survey", "csvkit_latin1"):
        code, _, err = run(capsys, "convert", str(folder / next(p.name for p in folder.iterdir() if p.stem == name)),
                           "-o", str(tmp_path / f"{name}.parquet"))
        assert code == 0, err
        assert pl.read_parquet(tmp_path / "parquet" / f"{name}.parquet").equals(pl.read_parquet(tmp_path / f"{name}.parquet"))
        assert read_provenance(tmp_path / "parquet" / f"{name}.parquet")["source"] == \
            read_provenance(tmp_path / f"{name}.parquet")["source"]


@pytest.mark.slow
def test_a_ray_run_prints_no_ray_data_chatter(tmp_path, local_ray, module_home):
    """`embed --engine ray` printed Ray Data's "Progress bars disabled" warning and its
    "execution finished in N seconds" line on every run, beside fieldkit's own progress."""
    address = local_ray.get_runtime_context().gcs_address
    out = tmp_path / "e.parquet"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_DATA_LOG")}
    env.update(FIELDKIT_HOME=str(module_home), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([sys.executable, "-m", "fieldkit", "embed", "sample_data/kobo_water_survey.csv",
                        "-c", "feedback/comment", "-o", str(out), "--engine", "ray", "--address", address],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert pl.read_parquet(out).height == 300
    assert "Progress bars disabled" not in r.stderr and "streaming_executor" not in r.stderr, r.stderr
