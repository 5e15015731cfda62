"""The logs job: templates per line, a digest and a summary, over one or more log files.

fieldkit.analysis.logs mines the templates and builds the digest (streaming, bounded memory);
this module writes the outputs through `save_annotated` with the one provenance step shape,
like every other job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from fieldkit.analysis.logs import LogsResult, check_output, mine_logs, summarize_digest, write_summary
from fieldkit.errors import UsageError
from fieldkit.files import scratch_dir
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.core import Result, make_step, save_annotated, timed
from fieldkit.pipelines.engine import current, mark_step
from fieldkit.progress import Reporter


ROW_GROUP_LINES = 8_192
MAX_ROW_GROUPS = 512


def row_group_lines(lines: int) -> int:
    """Lines per output row group: 8k, doubled (up to 64k) until the output has at most MAX_ROW_GROUPS groups.

    Why: Polars' Parquet writer keeps about 38 KB per row group until the file is closed (13.5M lines in
    8k groups: +65 MB by the end of a 2 GB run), while a group's lines wait in memory until it is full;
    32k groups at 2 GB keep the writer flat and take a fifth less CPU (bench/bench_logs.py).
    """
    size = ROW_GROUP_LINES
    while size < 8 * ROW_GROUP_LINES and lines > MAX_ROW_GROUPS * size:
        size *= 2
    return size


def _log_dataset(files: list[Path], given: Sequence[str | os.PathLike]) -> Dataset:
    """The source the provenance names: the one log file, or for several files the folder or first path given."""
    import polars as pl

    if len(files) == 1:
        return Dataset(files[0], "log", pl.LazyFrame(), encoding="utf-8", mode="scan")
    ds = Dataset(Path(given[0]), "log", pl.LazyFrame(), encoding="utf-8", mode="scan")
    ds.__dict__["sha256"] = None  # several files: each is named in the step's `files`, none hashed alone
    return ds


def _provenance(paths: Sequence[str | os.PathLike], clock, baseline):
    """provenance(files, layouts, miner[, step]): the logs step (as it stands: seconds so far) with its source."""
    from fieldkit.analysis.logs import log_parameters
    from fieldkit.pipelines.core import _source
    from fieldkit.store import make_provenance

    sources: dict = {}

    def make(files, layouts, miner, step: dict | None = None) -> dict:
        step = step or mark_step(make_step("logs", log_parameters(files, layouts, miner, baseline), clock))
        if "source" not in sources:  # one file is hashed once, not per call
            sources["source"] = _source(_log_dataset(files, paths))
        source, previous = sources["source"]
        return make_provenance(source, [step], previous)

    return make


def logs(paths: Sequence[str | os.PathLike] | str | os.PathLike, out: str | os.PathLike, *,
         baseline: str | os.PathLike | None = None, summary_out: str | os.PathLike | None = None,
         templates_out: str | os.PathLike | None = None, use_model: bool = False,
         reporter: Reporter | None = None, parts: bool = False) -> Result[LogsResult]:
    """Write one row per log record (line_no, timestamp, level, header columns, message, template_id,
    template, params, raw) to `out`.

    The digest and summary come back in the result; `summary_out` and `templates_out` also
    save them (Markdown; a template table for a later `baseline`). `parts`: `out` is a folder of
    parts, one per batch of each file in file order (not merged by time), written by the
    workers on Ray (fieldkit.pipelines.parts).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    from fieldkit.pipelines.parts import PartsFolder, check_parts_output, publish_log_parts

    out = check_parts_output(out) if parts else check_output(out)
    for extra in (summary_out, templates_out):
        if extra and Path(extra).resolve() == out.resolve():
            raise UsageError(f"{extra} is also the output path", "give each output its own file")
    rep = reporter or Reporter("logs")
    folder = PartsFolder(out) if parts else None
    try:
        with scratch_dir("fieldkit-logs-") as tmp:  # swept if a run is killed
            with timed() as clock:
                prov = _provenance(paths, clock, baseline)
                engine = current()  # on Ray: one shard per file, mined in the local order (fieldkit.scale.logs)
                if engine is not None:
                    on_workers = (folder.tmp, prov) if folder else None
                    mined = engine.mine_logs(paths, Path(tmp), baseline=baseline, reporter=rep, parts=on_workers)
                else:
                    mined = mine_logs(paths, Path(tmp), baseline=baseline, reporter=rep)
            step = mark_step(make_step("logs", mined.parameters(baseline), clock))
            ds = _log_dataset(mined.files, paths)
            rep.check()
            if folder is not None:
                publish_log_parts(folder, mined, prov(mined.files, mined.layouts, mined.miner, step), rep)
            else:
                # zstd level 1: the default level took a quarter of a multi-GB run's CPU, for a file no smaller
                save_annotated(ds, {}, [step], out, table=mined.annotated(rep, consume=True), compression_level=1,
                               row_group_size=row_group_lines(mined.digest.lines))
    except BaseException:
        if folder is not None:
            folder.discard()
        raise
    digest = mined.digest
    summary, how = summarize_digest(digest, use_model=use_model, cancel=rep.cancel)
    if templates_out:
        save_annotated(ds, {}, [step], templates_out, table=mined.table)
    if summary_out:
        write_summary(summary_out, digest, summary, how)
    rep.finish()
    return Result(LogsResult(out, digest, summary, how, mined.table, mined.files), {}, step)
