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
(batch, line) is replayed as before, `replay`, also exact). The shard's lines stay on the
worker that read them (an actor per CPU holds its shards on its own disk) until the merge has
fixed the templates; that worker then puts each line's template id, template and params on it
and only the annotated batches travel, as Parquet bytes the driver stores as they are. The
local job's own code (`analysis.logs.mined`, `MinedLogs.annotated`, `pipelines.logs`) builds
the digest and writes. (Mining each shard on its own and merging the
shards' template tables was tried first: 2 of 16,000 loghub lines changed group, since the online
miner's choices depend on what it has seen.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import polars as pl
import pyarrow as pa

from fieldkit.analysis.logs import (KEY, MINER_SETTINGS, annotate_part, default_miner, mine_logs, mined, prefetch,
                                   read_baseline, resolve_log_paths)
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


class Shard:
    """One log file on a worker: read, masked and folded once; its lines wait on the worker's disk.

    Why keep them there: only the folded calls (a few rows per distinct masked line) travel to
    the driver for the merge; the lines themselves are read back on the same worker to be
    annotated, so they never pass through the object store before the output. Each batch is
    masked as the local miner masks it (`masked_keys`: one mask per distinct digit-blind line).
    """

    def __init__(self, path: str | os.PathLike, folder: str | os.PathLike, batch_bytes: int = BATCH_BYTES):
        self.path, self.folder, self.batch_bytes = Path(path), Path(folder), batch_bytes
        self.batches = 0

    def read(self):
        """(the miner's calls per batch, those calls folded, the file's layout); the lines kept in `folder`."""
        from fieldkit.analysis.logtemplates import masked_keys
        from fieldkit.io.logs import file_layout, iter_log_batches

        self.folder.mkdir(exist_ok=True)  # not its parents: a removed (cancelled) actor folder stays removed
        layout = file_layout(self.path)  # ~0.4 s per file: on the workers, not once per file on the driver
        calls = []
        for batch in prefetch(iter_log_batches(self.path, batch_bytes=self.batch_bytes, layout=layout)):
            if batch.height == 0:  # only a file header in this batch, skipped as the local pass skips it
                continue
            codes, keys = masked_keys(batch["message"], MINER_SETTINGS["mask_hosts"], MINER_SETTINGS["token_classes"],
                                      MINER_SETTINGS["vary"])
            b = self.batches
            calls.append(keys.group_by("m", maintain_order=True).agg(pl.col("n").sum())
                         .select(pl.lit(b, pl.Int64).alias(BATCH), pl.col("m").alias(MASKED),
                                 pl.col("n").cast(pl.Int64).alias("count")))
            batch.with_columns(pl.Series(KEY, codes, pl.UInt32)).write_parquet(self._lines(b), compression="lz4")
            keys.select(pl.col("m").alias(MASKED), "k").write_parquet(self._keys(b), compression="lz4")
            self.batches += 1
        empty = pl.DataFrame(schema={BATCH: pl.Int64, MASKED: pl.String, "count": pl.Int64})
        calls = pl.concat(calls) if calls else empty
        return calls, fold_calls(calls), layout

    def _lines(self, b: int) -> Path:
        return self.folder / f"lines-{b:06d}.parquet"

    def _keys(self, b: int) -> Path:
        return self.folder / f"keys-{b:06d}.parquet"

    def _stored(self) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
        for b in range(self.batches):
            yield b, pl.read_parquet(self._keys(b)), pl.read_parquet(self._lines(b))

    def annotate(self, ids: pl.DataFrame, source: str | None, header_cols: list[str],
                 templates: dict[int, str] | None = None, columns: list[str] | None = None,
                 cache=None) -> Iterator[pl.DataFrame]:
        """The shard's lines batch by batch with their template ids (by masked line, or by batch and masked line).

        With the final `templates`, each line also gets its template and params (the local
        `annotate`), and `columns` puts them in the output's order. Each batch's files are
        removed once it is out.
        """
        by_batch = BATCH in ids.columns
        for b, keys, df in prefetch(self._stored()):  # the next batch read while this one is annotated
            want = ids.filter(pl.col(BATCH) == b).drop(BATCH) if by_batch else ids
            per_key = keys.join(want, on=MASKED, how="left", maintain_order="left")["template_id"]
            df = df.with_columns(per_key.gather(df[KEY]).alias("template_id"))
            if source is not None:
                df = df.with_columns(pl.lit(source).alias("source"))
            df = df.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in header_cols if c not in df.columns])
            if templates is not None:  # the local run's own path: params cut at the spans each key gives
                df = annotate_part(df, keys["k"], templates, cache)
            df = df.drop(KEY)
            yield df.select(columns) if columns is not None else df
            self._lines(b).unlink(missing_ok=True)
            self._keys(b).unlink(missing_ok=True)


def replay(shards: Sequence[pl.DataFrame], base: pl.DataFrame | None = None, miner=None):
    """(miner, (batch, masked line) -> template id per shard): the local miner fed every call of every shard."""
    miner = miner if miner is not None else default_miner(base)
    ids = []
    for d in shards:
        got = [miner.add_masked(m, int(n)) for m, n in d.select(MASKED, "count").iter_rows()]
        ids.append(d.select(BATCH, MASKED).with_columns(pl.Series("template_id", got, dtype=pl.Int64)))
    return miner, ids


def merge(calls: Callable[[], list[pl.DataFrame]], folded: list[pl.DataFrame], base: pl.DataFrame | None):
    """(miner, per shard the template id of its lines): folded when exact, else every call (`calls()`) replayed."""
    miner = default_miner(base)
    ids = merge_folded(folded, miner)
    if ids is not None:
        return miner, [ids.join(f.select(MASKED).unique(), on=MASKED, how="semi") for f in folded]
    return replay(calls(), base)


class ShardWorker:
    """A Ray actor holding the shards it read (one CPU): read, hand over the calls, annotate, clean up."""

    def __init__(self, env: dict[str, str]):
        import threading

        os.environ.update(env)
        self.folder: str | None = None  # made by the first read, on this worker's node; swept there if killed
        self.closed = False
        self.lock = threading.Lock()  # close (its own thread) against a read that has not made the folder yet
        self.shards: dict[int, Shard] = {}
        self.calls: dict[int, pl.DataFrame] = {}
        from fieldkit.analysis.log_params import SpanCache

        self.spans = SpanCache()  # final templates: a key's spans hold for every shard this actor annotates

    def read(self, i: int, path: str, batch_bytes: int):
        """(folded calls, layout, batches) of shard `i`."""
        with self.lock:
            if self.closed:
                raise RuntimeError("the run was stopped")
            if self.folder is None:
                from fieldkit.scale.workers import scratch_folder

                self.folder = str(scratch_folder("shards"))
        shard = self.shards[i] = Shard(path, Path(self.folder) / f"{i:06d}", batch_bytes)
        self.calls[i], folded, layout = shard.read()
        return folded.to_arrow(), layout, shard.batches

    def replay_calls(self, i: int) -> pa.Table:
        return self.calls[i].to_arrow()

    def annotate(self, i: int, ids: pa.Table, source: str | None, header_cols: list[str],
                 templates: dict[int, str], columns: list[str], worded: list[int], parts=None):
        """A stream of annotated batches, then the shard's digest counts (`DigestBuilder`).

        Each batch goes out as Parquet bytes (lz4; the driver stores them as they are), or with
        `parts` = (folder, number of this shard's first part, provenance) is written there as
        an output part and only its (name, rows) goes out.
        """
        import io

        from fieldkit.analysis.log_digest import DigestBuilder

        counts = DigestBuilder()
        shard = self.shards[i]
        for b, df in enumerate(shard.annotate(pl.from_arrow(ids), source, header_cols, templates, columns, self.spans)):
            counts.add(df.select("template_id", "timestamp", "level", "message"), worded)
            if parts is not None:
                from fieldkit.pipelines.parts import write_part

                yield write_part(parts[0], parts[1] + b, [df], parts[2])
                continue
            buf = io.BytesIO()
            df.write_parquet(buf, compression="lz4")
            yield buf.getvalue()
        yield counts

    def close(self) -> None:
        """Remove the shards' folder, even while a read still writes batches into it (a cancelled run).

        Renamed first: a batch file the read creates after that finds no folder and fails,
        instead of landing in a folder being removed (which then stays).
        """
        import shutil

        from fieldkit.files import temp_name

        with self.lock:
            self.closed = True
            if self.folder is None:
                return
        gone = temp_name(Path(self.folder))
        try:
            os.replace(self.folder, gone)
        except OSError:
            gone = Path(self.folder)
        shutil.rmtree(gone, ignore_errors=True)


def mine_logs_on_ray(paths: Sequence[str | os.PathLike], tmp: Path, *, baseline=None,
                     reporter: Reporter | None = None, workers: int = 1, parts=None):
    """`analysis.logs.mine_logs` with reading, masking, annotating and counting on Ray actors (same MinedLogs).

    `parts` = (folder, provenance(files, layouts, miner)): the workers write the output parts
    there themselves (the returned MinedLogs lists them); otherwise the annotated batches
    come back to `tmp`, ready to be merged by time and written.
    """
    import ray

    from fieldkit.analysis.log_digest import worded_ids
    from fieldkit.scale.workers import _env, sweep_scratch

    files = resolve_log_paths(paths)
    base = read_baseline(baseline) if baseline else None
    rep = reporter or Reporter("logs")
    reading = rep.child("reading shards", len(files))
    actor = ray.remote(num_cpus=1, concurrency_groups={"control": 1})(ShardWorker)
    actors = []
    try:
        actors.extend(actor.remote(_env()) for _ in range(max(1, min(workers, len(files)))))
        owner, got = _read_all(actors, files, reading, rep)
        folded = [pl.from_arrow(got[i][0]) for i in range(len(files))]
        layouts = {f: got[i][1] for i, f in enumerate(files)}
        header_cols = [c for c in HEADER_COLS if any(c in lay.columns for lay in layouts.values())]
        miner, ids = merge(lambda: [pl.from_arrow(ray.get(owner[i].replay_calls.remote(i))) for i in range(len(files))],
                           folded, base)
        table = miner.table()  # final: mining is over
        templates = ray.put(dict(zip(table["template_id"].to_list(), table["template"].to_list())))
        several = len(files) > 1
        columns = (["source"] if several else []) + ["line_no", "timestamp", "level", *header_cols, "message",
                                                     "template_id", "template", "params", "raw"]
        first = [sum(got[j][2] for j in range(i)) for i in range(len(files))]  # each shard's first part number
        prov = parts[1](files, layouts, miner) if parts is not None else None
        worded = worded_ids(table)
        streams = [owner[i].annotate.options(num_returns="streaming").remote(
            i, ids[i].to_arrow(), f.name if several else None, header_cols, templates, columns, worded,
            (str(parts[0]), first[i], prov) if parts is not None else None) for i, f in enumerate(files)]
        out, digest = [], None
        for stream in streams:  # in file order; the actors work ahead
            for ref in stream:
                item = ray.get(ref)
                if isinstance(item, bytes):
                    out.append(tmp / f"part-{len(out):06d}.parquet")
                    out[-1].write_bytes(item)
                elif isinstance(item, tuple):  # a part the worker wrote
                    out.append(Path(parts[0]) / item[0])
                elif digest is None:
                    digest = item
                else:
                    digest.merge(item)  # in file order: the first example of a template is the earliest
                rep.check()
    finally:
        closing = [a.close.options(concurrency_group="control").remote() for a in actors]
        for a, c in zip(actors, closing):
            try:
                ray.get(c)  # each actor removes its shards' folder
            except Exception:  # noqa: BLE001 - an actor that died: its folder is swept as stale
                pass
            ray.kill(a)
        sweep_scratch()
    baseline_ids = set(base["template_id"].to_list()) if base is not None else None
    return mined(files, layouts, header_cols, out, miner, digest.examples, baseline_ids, tmp, digest=digest,
                 ready=True)
def _read_all(actors, files: list[Path], reading: Reporter, rep: Reporter):
    """Each file read by the next free actor: ({shard: its actor}, {shard: (folded calls, layout)})."""
    import ray

    todo = list(range(len(files)))
    pending, owner, got = {}, {}, {}

    def give(a) -> None:
        if todo:
            i = todo.pop(0)
            pending[a.read.remote(i, str(files[i]), BATCH_BYTES)] = (i, a)

    for a in actors:
        give(a)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        i, a = pending.pop(ready[0])
        got[i], owner[i] = ray.get(ready[0]), a
        reading.update(len(got))
        rep.check()
        give(a)
    return owner, got
