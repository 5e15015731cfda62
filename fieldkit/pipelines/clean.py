"""The `clean` job: apply a cleaning log to a dataset -> the clean table, with the log's sha256 in provenance.

Dataset + log path + key + Reporter -> CleanResult and one provenance step. The step lists
the log file and its sha256, and how many changes were applied and refused, so the clean
file says exactly which decisions made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit.analysis.cleaning import CleanResult, apply_log, read_log
from fieldkit.pipelines.core import make_step, save_annotated, timed
from fieldkit.progress import Reporter


@dataclass
class CleanJob:
    result: CleanResult
    step: dict[str, Any]


def default_key(columns: list[str]) -> str | None:
    """The submission id column: _uuid / X_uuid / uuid, then instanceID, then KEY."""
    from fieldkit.analysis.checks import ID_KEYS
    from fieldkit.io.survey import meta_key

    for k in ID_KEYS:
        for c in columns:
            if meta_key(c) == k and (k != "key" or c == "KEY"):
                return c
    return None


def clean(ds, *, log: str | Path, key: str | None = None,
          reporter: Reporter | None = None) -> CleanJob:
    """Apply the log at `log` to `ds`, matching rows on `key` (default: the uuid column)."""
    from fieldkit.errors import UsageError
    from fieldkit.store import file_sha256

    if ds.format in ("folder", "log", "text"):
        raise UsageError(f"{ds.path.name} is a {ds.format}, not a table of submissions",
                         "give a survey export: CSV, Excel, JSON or Parquet")
    key = key or default_key(ds.columns)
    if key is None:
        raise UsageError(f"{ds.path.name} has no uuid/instanceID/KEY column to match the log on",
                         "name the column with --key")
    with timed() as clock:
        entries = read_log(log)
        if reporter is not None:
            reporter.check()
        res = apply_log(ds.frame, entries, ds.require_column(key))
    params = {"log": str(log), "log_sha256": file_sha256(log), "key": key, "entries": entries.height,
              "applied": res.applied.height, "refused": res.refused.height}
    return CleanJob(res, make_step("clean", params, clock))


def save_clean(job: CleanJob, ds, target: str | Path, reporter: Reporter | None = None) -> Path:
    """Write the clean table atomically with the source's provenance, its earlier steps and the clean step."""
    return save_annotated(ds, {}, [job.step], target, reporter=reporter, table=job.result.frame)
