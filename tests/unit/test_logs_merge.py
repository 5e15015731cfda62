"""Several logs merged by time in bounded memory (fieldkit.analysis.log_merge) on real shared logs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from fieldkit.analysis.log_merge import in_time_order, merge_by_time
from fieldkit.io.logs import scan_log
from tests.conftest import shared

SETS = ["Apache", "HPC", "HDFS", "Zookeeper"]  # Apache, HPC and Zookeeper step back in time now and then


def _files() -> list[pl.DataFrame]:
    """Four real logs plus HDFS backwards (every line late) and HPC with its first stamps blanked."""
    out = []
    for name in SETS:
        df = scan_log(shared("logs", f"{name}_2k.log")).collect().select("line_no", "timestamp", "raw")
        out.append(df.with_columns(pl.lit(f"{name}.log").alias("source")))
    hdfs = out[2]
    out.append(hdfs.with_columns(pl.col("timestamp").reverse(), pl.lit("HDFS.rev.log").alias("source")))
    hpc = out[1]
    out.append(hpc.with_columns(pl.when(pl.col("line_no") <= 30).then(None).otherwise(pl.col("timestamp"))
                                .alias("timestamp"), pl.lit("HPC.blank.log").alias("source")))
    return out


def _full_sort(files: list[pl.DataFrame]) -> pl.DataFrame:
    """What the merge must give: one stable sort by the time carried forward per file, then file, then line."""
    return (pl.concat([f.with_columns(pl.lit(i).alias("_f")) for i, f in enumerate(files)])
            .with_columns(pl.col("timestamp").forward_fill().over("_f").alias("_t"))
            .sort(["_t", "_f", "line_no"], nulls_last=False, maintain_order=True).drop("_t", "_f"))


@pytest.mark.parametrize("fan_in,block,run", [(16, 1 << 20, 8 << 20), (2, 4 << 10, 16 << 10), (3, 1 << 10, 64 << 10)])
def test_merge_equals_one_full_sort(tmp_path, fan_in, block, run):
    """Small blocks, runs and fan-in force merge passes and many late runs; the order is still the full sort's."""
    files = _files()

    def frames():
        for f in files:
            yield from f.iter_slices(173)  # parts of one file arrive in order, as mining writes them

    got = pl.concat(list(merge_by_time(frames(), tmp_path / "m", fan_in=fan_in, block_bytes=block, run_bytes=run)))
    want = _full_sort(files)
    assert got.height == want.height == 12_000
    assert got.equals(want)
    assert not list((tmp_path / "m").iterdir())  # every run's file is removed once read


def test_rotated_set_merges_like_the_one_file(tmp_path):
    """A log cut into a rotated set gives the one-file run's lines, groups and params, in time order, oldest file
    first on equal stamps (HDFS has many equal stamps at the cuts; Apache steps back in time)."""
    from fieldkit import pipelines

    for name in ("HDFS", "Apache"):
        lines = shared("logs", f"{name}_2k.log").read_text().splitlines(keepends=True)
        folder = tmp_path / name
        folder.mkdir()
        cuts = [0, 400, 1100, 1500, 2000]
        for k, (a, b) in enumerate(zip(cuts, cuts[1:])):  # app.log.3 is the oldest
            (folder / ("app.log" + (f".{3 - k}" if k < 3 else ""))).write_text("".join(lines[a:b]))
        one_path = tmp_path / f"{name}.log"
        one_path.write_text("".join(lines))
        pipelines.logs([one_path], tmp_path / f"{name}-one.parquet")
        res = pipelines.logs([folder], tmp_path / f"{name}-set.parquet").outcome
        assert [f.name for f in res.files] == ["app.log.3", "app.log.2", "app.log.1", "app.log"]
        one = pl.read_parquet(tmp_path / f"{name}-one.parquet")
        got = pl.read_parquet(tmp_path / f"{name}-set.parquet")
        cols = ["timestamp", "level", "message", "template_id", "template", "params", "raw"]
        want = one.with_columns(pl.col("timestamp").forward_fill().alias("_t")).sort("_t", maintain_order=True)
        assert got.select(cols).equals(want.select(cols))
        assert got["source"][0] == "app.log.3" and got["source"][-1] == "app.log"


def test_in_time_order_tells_when_no_merge_is_needed():
    """A rotated set whose files follow each other needs no merge; a file out of turn, a step back or a later
    file's lines before its first stamp (they sort first) do."""
    def load(name):
        return scan_log(shared("logs", f"{name}_2k.log")).collect().select("line_no", "timestamp")

    hdfs = load("HDFS")
    pieces = [hdfs.slice(a, 500).with_columns(pl.int_range(1, 501).alias("line_no"), pl.lit(f"app.log.{3 - i}")
                                               .alias("source")) for i, a in enumerate(range(0, 2000, 500))]
    assert in_time_order(iter(pieces))
    assert in_time_order(p.slice(o, 97) for p in pieces for o in range(0, 500, 97))
    assert not in_time_order(iter(pieces[1:] + pieces[:1]))
    assert not in_time_order(iter([load("Apache").with_columns(pl.lit("a").alias("source"))]))  # steps back
    blank = pieces[2].with_columns(pl.when(pl.col("line_no") <= 3).then(None).otherwise(pl.col("timestamp"))
                                   .alias("timestamp"))
    assert not in_time_order(iter(pieces[:2] + [blank] + pieces[3:]))


def test_merge_maps_a_few_blocks_per_run_at_a_time(tmp_path, monkeypatch):
    """Each file the merge reads back (and keeps mapped while it reads through it) holds about two blocks, also
    for runs of many late lines: a whole 8 MB run mapped per run was over 100 MB with 16 runs (the fleet's peak
    grew with its lines). The order is still the full sort's."""
    from fieldkit.analysis import log_merge

    files = _files()
    files = files + [f.with_columns(pl.lit(f"again-{i}").alias("source")) for i, f in enumerate(files)]
    block, run = 16 << 10, 1 << 20  # a late run gathers 64 blocks before it is sorted and written
    loaded = []
    read = log_merge._read_ipc

    def reading(path):
        df = read(path)
        loaded.append(df.estimated_size())
        return df

    monkeypatch.setattr(log_merge, "_read_ipc", reading)
    frames = (s for f in files for s in f.iter_slices(1_000))
    got = pl.concat(list(merge_by_time(frames, tmp_path / "m", fan_in=4, block_bytes=block, run_bytes=run)))
    assert got.equals(_full_sort(files))
    assert len(loaded) > 100 and max(loaded) <= 3 * block
