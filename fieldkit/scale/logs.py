"""Logs on Ray: each file read and masked on a worker, the shards' tables of distinct lines mined on the driver.

A shard is one log file (compressed files cannot be split, and a fleet's logs come as many
files), read by the local reader in the local job's batches and masked by the local rules;
it comes back with its table of distinct masked lines per batch, with their counts: exactly
the calls the local miner makes. The driver merges those tables through the local miner in
file and batch order (`replay`): identical lines are unified by the miner's cache, near-
identical ones by its similarity rule, so every line's group is the local run's. (Mining each
shard on its own and merging the shards' template tables was tried first: on the 8 loghub
sets 2 of 16,000 lines changed group, since the online miner's choices depend on what it has
seen, and a template cannot say which of its <*> were masked values and which were differing
words.) The workers then put the template ids on their lines; the local job's own code
(`analysis.logs.mined`, `MinedLogs.annotated`, `pipelines.logs`) builds the digest and writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import polars as pl
import pyarrow as pa

from fieldkit.analysis.logs import MINER_SETTINGS, default_miner, mine_logs, mined, read_baseline, resolve_log_paths
from fieldkit.io.log_header import HEADER_COLS
from fieldkit.progress import Reporter

BATCH_BYTES = mine_logs.__kwdefaults__["batch_bytes"]  # the local batches, hence the local mining order
BATCH, MASKED = "_batch", "_masked"


def read_shard(path: str, layout, env: dict[str, str], batch_bytes: int) -> tuple[pa.Table, pa.Table]:
    """On a worker: one file read and masked as the local job reads it -> (lines, distinct masked lines per batch)."""
    os.environ.update(env)
    from fieldkit.analysis.logtemplates import mask_expr
    from fieldkit.io.logs import iter_log_batches

    lines, distinct = [], []
    for batch in iter_log_batches(Path(path), batch_bytes=batch_bytes, layout=layout):
        if batch.height == 0:  # only a file header in this batch, skipped as the local pass skips it
            continue
        batch = batch.with_columns(mask_expr(pl.col("message"), MINER_SETTINGS["mask_hosts"]).alias(MASKED),
                                   pl.lit(len(lines), pl.Int64).alias(BATCH))
        distinct.append(batch.group_by(BATCH, MASKED, maintain_order=True).len("count"))
        lines.append(batch)
    empty = pl.DataFrame(schema={BATCH: pl.Int64, MASKED: pl.String, "count": pl.UInt32})
    return (pl.concat(lines, how="vertical_relaxed").to_arrow() if lines else empty.to_arrow(),
            pl.concat(distinct).to_arrow() if distinct else empty.to_arrow())


def replay(shards: Sequence[pl.DataFrame], base: pl.DataFrame | None = None):
    """(miner, (batch, masked line) -> template id per shard): the local miner fed the shards' distinct lines."""
    miner = default_miner(base)
    ids = []
    for d in shards:
        got = [miner.add_masked(m, int(n)) for m, n in d.select(MASKED, "count").iter_rows()]
        ids.append(d.select(BATCH, MASKED).with_columns(pl.Series("template_id", got, dtype=pl.Int64)))
    return miner, ids


def label_shard(lines: pa.Table, ids: pa.Table, source: str | None, header_cols: list[str]) -> pa.Table:
    """On a worker: a shard's lines with their template ids, in the shape of the local job's parts."""
    df = pl.from_arrow(lines).join(pl.from_arrow(ids), on=[BATCH, MASKED], how="left", maintain_order="left")
    df = df.drop(BATCH, MASKED)
    if source is not None:
        df = df.with_columns(pl.lit(source).alias("source"))
    return df.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in header_cols
                             if c not in df.columns]).to_arrow()


def mine_logs_on_ray(paths: Sequence[str | os.PathLike], tmp: Path, *, baseline=None,
                     reporter: Reporter | None = None):
    """`analysis.logs.mine_logs` with the reading, masking and labelling on Ray workers (same MinedLogs)."""
    import ray

    from fieldkit.io.logs import file_layout
    from fieldkit.scale.workers import _env

    files = resolve_log_paths(paths)
    base = read_baseline(baseline) if baseline else None
    layouts = {f: file_layout(f) for f in files}
    header_cols = [c for c in HEADER_COLS if any(c in lay.columns for lay in layouts.values())]
    rep = reporter or Reporter("logs")
    reading = rep.child("reading shards", len(files))
    task = ray.remote(num_cpus=1)(read_shard).options(num_returns=2)
    shards = [task.remote(str(f), layouts[f], _env(), BATCH_BYTES) for f in files]
    distinct = []
    for i, (_, d) in enumerate(shards):  # mined in file order as the shards arrive
        distinct.append(pl.from_arrow(ray.get(d)))
        reading.update(i + 1)
    miner, ids = replay(distinct, base)
    label = ray.remote(num_cpus=1)(label_shard)
    several = len(files) > 1
    labelled = [label.remote(s[0], i.to_arrow(), f.name if several else None, header_cols)
                for s, i, f in zip(shards, ids, files)]
    parts, examples = [], {}
    for ref in labelled:
        df = pl.from_arrow(ray.get(ref))
        if df.height == 0:
            continue
        for tid, msg in df.group_by("template_id", maintain_order=True).agg(pl.col("message").first()).iter_rows():
            examples.setdefault(tid, msg)
        parts.append(tmp / f"part-{len(parts):06d}.parquet")
        df.write_parquet(parts[-1], compression="lz4")
        rep.check()
    baseline_ids = set(base["template_id"].to_list()) if base is not None else None
    return mined(files, layouts, header_cols, parts, miner, examples, baseline_ids, tmp)
