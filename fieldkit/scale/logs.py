"""Logs on Ray: each file read and masked on a worker, the template tables merged on the driver, lines re-mapped.

A shard is one log file (compressed files cannot be split, and a fleet's logs come as many
files), read by the local reader (header inference, multi-line records, the same batches)
and masked by the local rules; it comes back with its table of distinct masked lines per
batch. The driver merges those tables through the local miner with the local settings, in
file and batch order (`replay`): identical lines are unified by the miner's cache, near-
identical ones by its similarity rule and cross-template merge, so every line's group is the
local run's. (Mining each shard on its own and merging the shards' template tables was tried
first: on the 8 loghub sets 2 of 16,000 lines' groups changed, since the online miner's
choices depend on what it has seen; a template alone cannot say which of its <*> were masked
values and which were different words.) The workers then re-map their lines (template id,
template, params) and the driver writes them merged by time, with the same digest and summary.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import polars as pl
import pyarrow as pa

from fieldkit.analysis.logs import (MINER_SETTINGS, LogsResult, build_digest, default_miner, read_baseline,
                                    resolve_log_paths, summarize_digest)
from fieldkit.errors import InputError, UsageError
from fieldkit.io.log_header import HEADER_COLS
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.pipelines.engine import mark_step
from fieldkit.progress import Reporter

BATCH_BYTES = 4 << 20  # run_logs' batch size: the same batches, hence the same mining order
BATCH, MASKED = "_batch", "_masked"


def read_shard(path: str, env: dict[str, str], batch_bytes: int) -> tuple[pa.Table, pa.Table, dict]:
    """On a worker: one file read and masked as the local job reads it -> (lines, distinct lines, header facts).

    The distinct table lists each batch's distinct masked messages in first-appearance order
    with their counts: exactly the calls the local miner makes for that batch.
    """
    os.environ.update(env)
    from fieldkit.analysis.logs import layout_notes
    from fieldkit.analysis.logtemplates import mask_expr
    from fieldkit.io.logs import file_layout, iter_log_batches

    f = Path(path)
    layout = file_layout(f)
    lines, distinct = [], []
    for i, batch in enumerate(iter_log_batches(f, batch_bytes=batch_bytes, layout=layout)):
        batch = batch.with_columns(mask_expr(pl.col("message"), MINER_SETTINGS["mask_hosts"]).alias(MASKED),
                                   pl.lit(i, pl.Int64).alias(BATCH))
        distinct.append(batch.group_by(BATCH, MASKED, maintain_order=True).len("count"))
        lines.append(batch)
    facts = {"notes": layout_notes(f.name, layout), "headers": {f.name: layout.describe()}}
    empty = pl.DataFrame(schema={BATCH: pl.Int64, MASKED: pl.String, "count": pl.UInt32})
    return (pl.concat(lines, how="vertical_relaxed").to_arrow() if lines else pa.table({}),
            pl.concat(distinct).to_arrow() if distinct else empty.to_arrow(), facts)


def replay(shards: Sequence[pl.DataFrame], base: pl.DataFrame | None = None):
    """(miner, [(batch, masked) -> final template id] per shard): the local miner fed the shards' distinct lines.

    Shards in file order and batches in order, each batch's distinct masked lines with their
    counts, then the cross-template merge: the same calls in the same order as a local run, so
    the templates and every line's group are the local run's (identical lines are unified by
    the miner's cache, near-identical ones by its similarity rule).
    """
    miner = default_miner(base)
    raw: list[pl.DataFrame] = []
    for d in shards:
        ids: list[int] = []
        for _, rows in d.group_by(BATCH, maintain_order=True):
            ids += [miner.add_masked(m, int(n)) for m, n in rows.select(MASKED, "count").iter_rows()]
            miner.resolve(pl.Series([], dtype=pl.Int64))  # the local miner merges after each batch
        raw.append(d.select(BATCH, MASKED).with_columns(pl.Series("template_id", ids, dtype=pl.Int64)))
    return miner, [r.with_columns(miner.resolve(r["template_id"]).alias("template_id")) for r in raw]


def remap_shard(lines: pa.Table, ids: pa.Table, templates: dict[int, str]) -> pa.Table:
    """On a worker: a shard's lines with their template ids, templates and params (as the local job writes them)."""
    from fieldkit.analysis.log_params import line_params

    df = pl.from_arrow(lines).join(pl.from_arrow(ids), on=[BATCH, MASKED], how="left", maintain_order="left")
    tid = df["template_id"]
    return df.with_columns(tid.replace_strict(templates, default=None, return_dtype=pl.String).alias("template"),
                           line_params(df["message"], tid, templates).alias("params")).drop(BATCH, MASKED).to_arrow()


def logs(paths: Sequence[str | os.PathLike] | str | os.PathLike, out: str | os.PathLike, *,
         baseline: str | os.PathLike | None = None, summary_out: str | os.PathLike | None = None,
         templates_out: str | os.PathLike | None = None, use_model: bool = False,
         reporter: Reporter | None = None) -> Result[LogsResult]:
    """`pipelines.logs` on the Ray engine: one shard per file, merged templates, the same output."""
    import ray

    from fieldkit.analysis.logs import _write_text_atomic, digest_markdown, layout_notes  # noqa: F401
    from fieldkit.scale.engine import _env
    from fieldkit.store import file_sha256, make_provenance, write_frame

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = Path(out)
    for extra in (summary_out, templates_out):
        if extra and Path(extra).resolve() == out.resolve():
            raise UsageError(f"{extra} is also the output path", "give each output its own file")
    if out.suffix.lower() != ".parquet":
        raise UsageError(f"output {out.name} should end in .parquet", "e.g. -o lines.parquet")
    rep = reporter or Reporter("logs")
    with timed() as clock:
        files = resolve_log_paths(list(paths))
        base = read_baseline(baseline) if baseline else None
        several = len(files) > 1
        reading = rep.child("reading shards", len(files))
        task = ray.remote(num_cpus=1)(read_shard).options(num_returns=3)
        shards = [task.remote(str(f), _env(), BATCH_BYTES) for f in files]
        distinct, facts = [], []
        for i, s in enumerate(shards):  # mined in file order as each shard arrives
            distinct.append(pl.from_arrow(ray.get(s[1])))
            facts.append(ray.get(s[2]))
            reading.update(i + 1)
        miner, ids = replay(distinct, base)
        table = miner.table()
        templates = dict(zip(table["template_id"].to_list(), table["template"].to_list()))
        remap = ray.remote(num_cpus=1)(remap_shard)
        mapped = [remap.remote(s[0], m.to_arrow(), templates) for s, m in zip(shards, ids)]
        with tempfile.TemporaryDirectory(prefix="fieldkit-logs-") as tmp:
            parts = []
            writing = rep.child("re-mapping", len(files))
            for i, (ref, f) in enumerate(zip(mapped, files)):
                df = pl.from_arrow(ray.get(ref))
                if several:
                    df = df.with_columns(pl.lit(f.name).alias("source"))
                parts.append(Path(tmp) / f"final-{i:06d}.parquet")
                df.write_parquet(parts[-1], compression="lz4")
                writing.update(i + 1)
            frames = [pl.scan_parquet(str(p)) for p in parts]
            present = [c for c in HEADER_COLS if any(c in fr.collect_schema().names() for fr in frames)]
            cols = (["source"] if several else []) + ["line_no", "timestamp", "level", *present, "message",
                                                      "template_id", "template", "params", "raw"]
            frames = [fr.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in present
                                        if c not in fr.collect_schema().names()]).select(cols) for fr in frames]
            lines = pl.concat(frames, how="vertical_relaxed")
            if several:  # merge by time, as the local run over several files does
                lines = (lines.with_columns(pl.col("timestamp").forward_fill().over("source").alias("_t"))
                         .sort(["_t", "source", "line_no"], nulls_last=False, maintain_order=True).drop("_t"))
            firsts = (pl.concat([fr.select("template_id", "message").unique("template_id", keep="first",
                                                                             maintain_order=True) for fr in frames])
                      .unique("template_id", keep="first", maintain_order=True).collect())
            examples = dict(zip(firsts["template_id"].to_list(), firsts["message"].to_list()))
            baseline_ids = set(base["template_id"].to_list()) if base is not None else None
            digest = build_digest(lines.select("template_id", "timestamp", "level"), table,
                                  [f.name for f in files], baseline_ids, examples=examples)
            for f in facts:
                digest.extra["notes"] += f["notes"]
            digest.extra["headers"] = {k: v for f in facts for k, v in f["headers"].items()}
            steps = [{"operation": "logs", "parameters": {
                "files": [str(f) for f in files], "baseline": str(baseline) if baseline else None,
                "sim_threshold": miner.sim_threshold, "merge_values": miner.merge_values,
                "templates": table.height, "headers": digest.extra["headers"]}}]
            source = {"path": str(files[0]) if not several else [str(f) for f in files],
                      "sha256": file_sha256(files[0]) if not several else None, "format": "log",
                      "encoding": "utf-8"}
            rep.check()
            write_frame(lines, out, make_provenance(source, steps))
    summary, how = summarize_digest(digest, use_model=use_model, cancel=rep.cancel)
    if templates_out:
        miner.save(templates_out, make_provenance(source, steps))
    if summary_out:
        _write_text_atomic(Path(summary_out), f"# Log summary\n\n{summary}\n\n_Summary: {how}._\n\n"
                           + digest_markdown(d=digest))
    res = LogsResult(out, digest, summary, how, table, files)
    params = {"files": [str(f) for f in files], "baseline": str(baseline) if baseline else None,
              "templates": table.height, "shards": len(files)}
    if not files:
        raise InputError("no log files", "pass log files or a folder of them")
    return Result(res, {}, mark_step(make_step("logs", params, clock)))
