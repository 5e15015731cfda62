"""Logs on Ray: each file read, masked and folded on a worker; the folded tables merged through the local miner.

A shard is one log file (compressed files cannot be split, and a fleet's logs come as many
files), read by the local reader in the local job's batches and masked by the local rules.
The local miner sees, batch by batch, each distinct masked line with its count
(`add_masked`). Only a line it has not seen before makes a decision (which template, widened
how); a line seen before goes to its cached template and only adds to that template's size,
and sizes are read only by the next decision (ties). So each worker folds its shard's calls
between its new lines into one (line, summed count) per line and segment (`fold_calls`); the
driver folds the shards' tables again between the lines new to all shards taken in file order,
and feeds the result through the local miner (`merge_folded`): the same decisions in the same
order with the same sizes, hence the same templates, ids and counts, with one call per new
line instead of one per (batch, line). Exact while the miner never forgets: no more distinct
lines than its cache holds and no more templates than it keeps (checked; otherwise every
(batch, line) is replayed as before, `replay`, also exact). The workers then put each line's
template id on it; the local job's own code (`analysis.logs.mined`, `MinedLogs.annotated`,
`pipelines.logs`) builds the digest and writes. (Mining each shard on its own and merging the
shards' template tables was tried first: 2 of 16,000 loghub lines changed group, since the online
miner's choices depend on what it has seen.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import polars as pl
import pyarrow as pa

from fieldkit.analysis.logs import (MINER_SETTINGS, annotate, default_miner, mine_logs, mined, read_baseline,
                                   resolve_log_paths)
from fieldkit.io.log_header import HEADER_COLS
from fieldkit.progress import Reporter

BATCH_BYTES = mine_logs.__kwdefaults__["batch_bytes"]  # the local batches, hence the local mining order
BATCH, MASKED = "_batch", "_masked"
SEG, NEW = "_seg", "_new"


def fold_calls(calls: pl.DataFrame) -> pl.DataFrame:
    """The miner's calls (masked line, count) in order, summed per line between lines new to these calls.

    Row k of the result that starts a segment is the k-th new line; the rows after it until the
    next new line are lines seen before, one row each with their counts summed.
    """
    return (calls.select(MASKED, pl.col("count").cast(pl.Int64))
            .with_columns(pl.col(MASKED).is_first_distinct().alias(NEW))
            .with_columns(pl.col(NEW).cum_sum().alias(SEG))
            .group_by(SEG, MASKED, maintain_order=True).agg(pl.col("count").sum(), pl.col(NEW).first()))


def merge_folded(folded: Sequence[pl.DataFrame], miner) -> pl.DataFrame | None:
    """(masked line, template id) for every distinct line: the shards' folded calls, in file order, through `miner`.

    None when folding would not be exact (the miner would forget lines or templates); then
    the caller replays every call (`replay`) with a fresh miner.
    """
    calls = pl.concat([f.select(MASKED, "count") for f in folded]) if folded else \
        pl.DataFrame(schema={MASKED: pl.String, "count": pl.Int64})
    if calls[MASKED].n_unique() > miner.cache_size:  # the miner's cache would be cleared mid-way
        return None
    seeded, first_id = len(miner.clusters), miner.next_id
    ids: dict[str, int] = {}
    for masked, count, new in fold_calls(calls).select(MASKED, "count", NEW).iter_rows():
        cid = miner.add_masked(masked, count)
        if new:
            ids[masked] = cid
        elif ids[masked] != cid:  # a seen line must hit its cached template
            return None
    if seeded + miner.next_id - first_id > miner.max_clusters:  # templates were evicted
        return None
    return pl.DataFrame({MASKED: list(ids), "template_id": list(ids.values())},
                        schema={MASKED: pl.String, "template_id": pl.Int64})


def read_shard(path: str, env: dict[str, str], batch_bytes: int):
    """On a worker: one file's header learnt, the file read and masked as the local job does both.

    Returns (lines, distinct masked lines per batch with counts, those calls folded, the layout).
    """
    os.environ.update(env)
    from fieldkit.analysis.logtemplates import mask_expr
    from fieldkit.io.logs import file_layout, iter_log_batches

    layout = file_layout(Path(path))  # ~0.4 s per file: on the workers, not once per file on the driver
    lines, distinct = [], []
    for batch in iter_log_batches(Path(path), batch_bytes=batch_bytes, layout=layout):
        if batch.height == 0:  # only a file header in this batch, skipped as the local pass skips it
            continue
        batch = batch.with_columns(mask_expr(pl.col("message"), MINER_SETTINGS["mask_hosts"]).alias(MASKED),
                                   pl.lit(len(lines), pl.Int64).alias(BATCH))
        distinct.append(batch.group_by(BATCH, MASKED, maintain_order=True).len("count"))
        lines.append(batch)
    empty = pl.DataFrame(schema={BATCH: pl.Int64, MASKED: pl.String, "count": pl.UInt32})
    calls = pl.concat(distinct) if distinct else empty
    return (pl.concat(lines, how="vertical_relaxed").to_arrow() if lines else empty.to_arrow(),
            calls.to_arrow(), fold_calls(calls).to_arrow(), layout)


def replay(shards: Sequence[pl.DataFrame], base: pl.DataFrame | None = None, miner=None):
    """(miner, (batch, masked line) -> template id per shard): the local miner fed every call of every shard."""
    miner = miner if miner is not None else default_miner(base)
    ids = []
    for d in shards:
        got = [miner.add_masked(m, int(n)) for m, n in d.select(MASKED, "count").iter_rows()]
        ids.append(d.select(BATCH, MASKED).with_columns(pl.Series("template_id", got, dtype=pl.Int64)))
    return miner, ids


def merge(shards, folded: list[pl.DataFrame], base: pl.DataFrame | None):
    """(miner, per shard the template id of its lines): folded when exact, else every call replayed."""
    import ray

    miner = default_miner(base)
    ids = merge_folded(folded, miner)
    if ids is not None:
        return miner, [ids.join(f.select(MASKED).unique(), on=MASKED, how="semi") for f in folded]
    return replay([pl.from_arrow(ray.get(s[1])) for s in shards], base)


def label_shard(lines: pa.Table, ids: pa.Table, source: str | None, header_cols: list[str],
                templates: dict[int, str] | None = None) -> pa.Table:
    """On a worker: a shard's lines with their template ids (by masked line, or by batch and masked line).

    With the final `templates`, each line also gets its template and params here (the local
    `annotate`), so the driver only writes.
    """
    ids_df = pl.from_arrow(ids)
    on = [c for c in ids_df.columns if c != "template_id"]
    df = pl.from_arrow(lines).join(ids_df, on=on, how="left", maintain_order="left")
    df = df.drop(BATCH, MASKED)
    if source is not None:
        df = df.with_columns(pl.lit(source).alias("source"))
    df = df.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in header_cols if c not in df.columns])
    return (annotate(df, None, templates) if templates is not None else df).to_arrow()


def mine_logs_on_ray(paths: Sequence[str | os.PathLike], tmp: Path, *, baseline=None,
                     reporter: Reporter | None = None):
    """`analysis.logs.mine_logs` with reading, masking, labelling and annotating on Ray workers (same MinedLogs)."""
    import ray

    from fieldkit.scale.workers import _env

    files = resolve_log_paths(paths)
    base = read_baseline(baseline) if baseline else None
    rep = reporter or Reporter("logs")
    reading = rep.child("reading shards", len(files))
    task = ray.remote(num_cpus=1)(read_shard).options(num_returns=4)
    shards = [task.remote(str(f), _env(), BATCH_BYTES) for f in files]
    folded, layouts = [], {}
    for i, (f, s) in enumerate(zip(files, shards)):  # in file order as the shards arrive
        folded.append(pl.from_arrow(ray.get(s[2])))
        layouts[f] = ray.get(s[3])
        reading.update(i + 1)
    header_cols = [c for c in HEADER_COLS if any(c in lay.columns for lay in layouts.values())]
    miner, ids = merge(shards, folded, base)
    table = miner.table()  # final: mining is over
    templates = ray.put(dict(zip(table["template_id"].to_list(), table["template"].to_list())))
    label = ray.remote(num_cpus=1)(label_shard)
    several = len(files) > 1
    labelled = [label.remote(s[0], i.to_arrow(), f.name if several else None, header_cols, templates)
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
