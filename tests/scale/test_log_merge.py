"""The shards' folded miner calls merged on the driver give the local run's templates, ids and counts.

No Ray here: what a worker does with its shard (`Shard`: read, mask, fold, annotate) is plain
Python, so the merge is checked on every shared log file, in small batches (many segments per file).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from fieldkit.analysis.logs import MINER_SETTINGS, default_miner, mine_logs, resolve_log_paths
from fieldkit.analysis.logtemplates import TemplateMiner
from fieldkit.scale.logs import Shard, merge_folded, replay
from tests.conftest import shared

SYSTEMS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Spark", "Zookeeper"]
SMALL = 16 << 10  # 16 KB batches: a 2k-line file is ~10-20 batches, so lines recur across batches


def local_ids(files: list[Path], tmp: Path, miner: TemplateMiner) -> pl.Series:
    """Each line's template id from the local job's mining pass, in file order."""
    got = mine_logs(files, tmp, miner=miner, batch_bytes=SMALL)
    return pl.concat([pl.read_ipc(p, columns=["template_id"]) for p in got.parts])["template_id"]


class Read:
    """A shard read by `Shard` as a worker reads it: the shard, its calls per batch, its folded calls."""

    def __init__(self, path: Path, folder: Path):
        self.shard = Shard(path, folder, SMALL)
        self.calls, self.folded, _ = self.shard.read()


def sharded(files: list[Path], tmp: Path) -> list[Read]:
    (tmp / "shards").mkdir(exist_ok=True)
    return [Read(f, tmp / "shards" / str(i)) for i, f in enumerate(files)]


def labelled(shards: list[Read], ids) -> pl.Series:
    """Each line's template id as the workers put it on, in file order (the lines read back from the worker's disk)."""
    return pl.concat([df.select("template_id") for s, i in zip(shards, ids)
                      for df in s.shard.annotate(i, None, [])])["template_id"]


def merged(shards: list[Read], miner):
    folded = [s.folded for s in shards]
    ids = merge_folded(folded, miner)
    return None if ids is None else [ids.join(f.select("_masked").unique(), on="_masked", how="semi") for f in folded]


@pytest.mark.parametrize("files", [
    pytest.param([shared("logs", f"{s}_2k.log") for s in SYSTEMS], id="loghub-8-files"),
    pytest.param([shared("logs", f"{s}_2k.log") for s in reversed(SYSTEMS)], id="loghub-reversed"),
    pytest.param(resolve_log_paths([shared("logs", "formats")]), id="lnav-formats"),
])
def test_folded_merge_equals_the_local_miner(files, tmp_path):
    local_miner = default_miner()
    want = local_ids(files, tmp_path, local_miner)
    shards = sharded(files, tmp_path)
    calls = sum(s.calls.height for s in shards)
    folded = sum(s.folded.height for s in shards)
    miner = default_miner()
    ids = merged(shards, miner)
    assert ids is not None
    got = labelled(shards, ids)
    assert got.len() == want.len() > 1000 and got.null_count() == 0
    assert got.equals(want)  # every line in the same group, with the same id
    assert miner.table().equals(local_miner.table())  # same templates, counts, known flags
    assert local_miner.table().height > 100
    assert folded < calls  # the driver made fewer calls than the replay of every (batch, line)


def test_against_a_baseline_ids_kept(tmp_path):
    """Seeded with an earlier run's templates, the merge keeps their ids and counts new ones as the local run."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = default_miner()
    local_ids([shared("logs", "HDFS_2k.log")], tmp_path / "a", first)
    base = first.table()
    files = [shared("logs", f"{s}_2k.log") for s in ("Apache", "HDFS", "Hadoop")]
    local_miner = default_miner(base)
    want = local_ids(files, tmp_path / "b", local_miner)
    shards = sharded(files, tmp_path)
    miner = default_miner(base)
    got = labelled(shards, merged(shards, miner))
    assert got.equals(want) and miner.table().equals(local_miner.table())
    assert local_miner.table()["known"].sum() == base.height


def test_a_miner_that_would_forget_falls_back_to_the_exact_replay(tmp_path):
    """More distinct lines than the miner's cache holds: folding is refused, the full replay matches."""
    files = [shared("logs", f"{s}_2k.log") for s in SYSTEMS]
    small = dict(MINER_SETTINGS, cache_size=300)
    local_miner = TemplateMiner(**small)
    want = local_ids(files, tmp_path, local_miner)
    shards = sharded(files, tmp_path)
    assert merged(shards, TemplateMiner(**small)) is None
    miner, ids = replay([s.calls for s in shards], miner=TemplateMiner(**small))
    assert labelled(shards, ids).equals(want) and miner.table().equals(local_miner.table())


def test_digest_counts_merged_across_shards_equal_one_pass(tmp_path, monkeypatch):
    """Each worker counts its own files (`DigestBuilder`); merged in file order they give the one-pass digest,
    also when the builders kept their time buckets at different steps."""
    from fieldkit.analysis import log_digest
    from fieldkit.analysis.logs import digest_markdown

    files = [shared("logs", f"{s}_2k.log") for s in SYSTEMS]
    got = mine_logs(files, tmp_path, batch_bytes=SMALL)
    worded = log_digest.worded_ids(got.table)
    batches = [df.select("template_id", "timestamp", "level", "message") for df in got.final_parts()]
    one = log_digest.DigestBuilder()
    for b in batches:
        one.add(b, worded)
    monkeypatch.setattr(log_digest, "_KEPT_MAX", 40)  # the shards' builders coarsen their buckets early
    shards = []
    for b in batches:
        shards.append(log_digest.DigestBuilder())
        shards[-1].add(b, worded)
    assert len({s.step for s in shards}) > 1
    merged = shards[0]
    for s in shards[1:]:
        merged.merge(s)
    names = [f.name for f in files]
    want = digest_markdown(one.finish(got.table, names))
    assert len(want) > 1000
    assert digest_markdown(merged.finish(got.table, names)) == want
