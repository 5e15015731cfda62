"""`embed -o OUT` on Ray: blocks written in row order as they come back, the provenance set at the end."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldkit.scale.embed_file import ProvenanceWriter, in_row_order
from fieldkit.scale.workers import ROW
from fieldkit.store import PROVENANCE_KEY, make_provenance, read_provenance, write_batches


def _block(rows) -> pa.Table:
    rows = np.asarray(rows, np.int64)
    return pa.table({ROW: rows, "x": rows * 10})


def test_blocks_come_out_in_row_order_whatever_order_they_arrive_in():
    arrived = [_block(range(6, 9)), _block(range(3, 6)), _block([]), _block(range(0, 3)), _block(range(9, 10))]
    out = list(in_row_order(arrived))
    assert [t.column(ROW).to_pylist() for t in out] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_a_block_with_gaps_is_cut_into_runs_and_missing_rows_are_an_error():
    got = pa.concat_tables(list(in_row_order([_block([4, 0, 1, 5]), _block([2, 3])])))
    assert got.column(ROW).to_pylist() == [0, 1, 2, 3, 4, 5]
    assert got.column("x").to_pylist() == [0, 10, 20, 30, 40, 50]  # each row keeps its own values
    with pytest.raises(RuntimeError, match="rows from 2"):
        list(in_row_order([_block([0, 1]), _block([3])]))


def test_provenance_set_at_close_reads_back_as_if_written_up_front(tmp_path):
    vecs = np.arange(12, dtype=np.float32).reshape(4, 3)
    df = pl.DataFrame({"id": [1, 2, 3, 4], "text": ["a", "b", None, "d"]}).with_columns(
        pl.Series("embedding", vecs, dtype=pl.Array(pl.Float32, 3)))
    final = make_provenance({"path": "in.csv"}, [{"operation": "embed", "seconds": 9.5}])
    write_batches([df.slice(0, 2), df.slice(2)], tmp_path / "ref.parquet", final)
    table = df.to_arrow()
    w = ProvenanceWriter(tmp_path / "new.parquet", table.schema, PROVENANCE_KEY)
    w.write(table.slice(0, 2), 64_000)
    w.write(table.slice(2), 64_000)
    w.close(final)
    assert read_provenance(tmp_path / "new.parquet") == final
    assert pq.read_schema(tmp_path / "new.parquet") == pq.read_schema(tmp_path / "ref.parquet")
    assert pq.read_schema(tmp_path / "new.parquet").metadata == pq.read_schema(tmp_path / "ref.parquet").metadata
    ref_meta, new_meta = (pq.read_metadata(tmp_path / f).metadata for f in ("ref.parquet", "new.parquet"))
    assert new_meta == ref_meta  # the ARROW:schema entry too, byte for byte
    assert pl.read_parquet(tmp_path / "new.parquet").equals(df)


@pytest.mark.slow
def test_one_file_on_ray_equals_local_in_row_order(tmp_path, local_ray, module_home, monkeypatch):
    """Answers over 3 sort windows (3 blocks, 2 workers): the driver writes them in order, never via save_annotated."""
    from fieldkit import pipelines
    from fieldkit.pipelines.embed import embed_file
    from fieldkit.scale import ray_engine
    from tests.conftest import shared

    survey = pipelines.dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    like = survey.text_column("What do you like best about using R?").to_list()
    least = survey.text_column("What do you like least about using R?").to_list()
    answers = (like + least + like)[:4500]
    df = pl.DataFrame({"id": np.arange(len(answers)), "answer": answers})
    loc = embed_file(df, "answer", tmp_path / "local.parquet")

    def driver_gathers(*a, **k):
        raise AssertionError("the whole output went through save_annotated; the blocks should stream")

    monkeypatch.setattr(sys.modules["fieldkit.pipelines.embed"], "save_annotated", driver_gathers)
    with ray_engine() as engine:
        assert len(engine.block_bounds(len(answers), 2048)) - 1 == 3
        r = embed_file(df, "answer", tmp_path / "ray.parquet")
    local, ray_ = pl.read_parquet(tmp_path / "local.parquet"), pl.read_parquet(tmp_path / "ray.parquet")
    assert ray_.schema == local.schema and ray_.drop("embedding").equals(local.drop("embedding"))
    diff = np.abs(np.stack(ray_["embedding"].to_numpy()) - np.stack(local["embedding"].to_numpy()))
    assert float(diff.max()) <= 1e-4
    assert (r.outcome.rows, r.outcome.dim, r.outcome.stats) == (4500, 384, loc.outcome.stats)
    assert r.outcome.stats.empty > 0  # empty answers counted on the workers, as locally
    (ls,), (rs,) = read_provenance(tmp_path / "local.parquet")["steps"], read_provenance(tmp_path / "ray.parquet")["steps"]
    keys = ("operation", "parameters", "model", "model_sha256")
    assert {k: rs[k] for k in keys} == {k: ls[k] for k in keys} and rs["seconds"] > 0
    assert rs["engine"]["name"] == "ray" and "engine" not in ls


@pytest.mark.parametrize("workers", [1, 2, 3, 16])
@pytest.mark.parametrize("n", [0, 1, 2048, 4000, 20_000, 200_001])
def test_blocks_are_whole_windows_even_over_the_workers(n, workers):
    """Every block but the last whole 2,048-row windows, <= 8 of them; the workers' shares within one window."""
    from fieldkit.scale.engine import MAX_WINDOWS_PER_BLOCK, RayEngine

    bounds = RayEngine(None, workers).block_bounds(n, 2048)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == n and (sizes > 0).all() == (n > 0)
    windows = -(-sizes // 2048)
    assert all(s % 2048 == 0 for s in sizes[:-1]) and windows.max() <= MAX_WINDOWS_PER_BLOCK
    assert windows.max() - windows.min() <= 1 and list(windows) == sorted(windows, reverse=True)  # bigger first
    loads = np.bincount(np.arange(len(windows)) % workers, weights=windows, minlength=workers)
    assert loads.max() - loads.min() <= 1  # blocks handed out in turn: no worker idles at the end for long
