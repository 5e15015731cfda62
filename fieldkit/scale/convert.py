"""Convert on Ray: one `pipelines.convert` per file as a Ray task (a folder of exports in parallel).

Why per file: converting is reading and writing; a file is the natural unit a worker can
take whole (its encoding, delimiter and repair found by the same loader), and the outputs
stay one Parquet per input, each with its own provenance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fieldkit.errors import FieldkitError, InputError, OutputError
from fieldkit.progress import Reporter


@dataclass
class Converted:
    """What a Ray convert wrote: (output, rows, columns, format) per file, and the files skipped."""

    written: list[tuple[Path, int, int, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)


def _one(path: str, out: str, env: dict[str, str], kwargs: dict) -> tuple[str, int, int, str, list[str]] | tuple[str, str]:
    """Run on a worker: the local convert job on one file; a refused file comes back as its message."""
    os.environ.update(env)
    import polars as pl

    from fieldkit import pipelines

    try:
        done = pipelines.convert(path, out, **kwargs).outcome
    except FieldkitError as e:
        return (Path(path).name, e.message)
    lf = pl.scan_parquet(done.output)
    return (str(done.output), lf.select(pl.len()).collect().item(), len(lf.collect_schema()),
            done.dataset.format, list(done.dataset.notes))


def convert(path: str | os.PathLike, out: str | os.PathLike, *, reporter: Reporter | None = None,
            **kwargs) -> Converted:
    """PATH (a file) -> OUT.parquet, or PATH (a folder) -> OUT/<name>.parquet per file, on Ray tasks."""
    import ray

    from fieldkit.scale.workers import _env
    from fieldkit.store import check_parquet_output

    src, target = Path(path), Path(out)
    if not src.exists():
        raise InputError(f"{src} does not exist", "check the path")
    if src.is_dir():
        if target.suffix.lower() in (".parquet", ".pq") or (target.exists() and not target.is_dir()):
            raise OutputError(f"{target} must be a folder when converting the folder {src.name}",
                              "give a folder name, e.g. -o converted/ (it is created)")
        files = sorted(f for f in src.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise InputError(f"no files in {src}", "give a folder of data files")
        target.mkdir(parents=True, exist_ok=True)
        jobs = [(str(f), str(target / f"{f.stem}.parquet")) for f in files]
    else:
        check_parquet_output(target)
        jobs = [(str(src), str(target))]
    task = ray.remote(num_cpus=1)(_one)
    pending = [task.remote(a, b, _env(), kwargs) for a, b in jobs]
    result = Converted()
    if reporter is not None:
        reporter.total = len(pending)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        got = ray.get(ready[0])
        if len(got) == 2:
            result.skipped.append(got)
        else:
            result.written.append((Path(got[0]), got[1], got[2], got[3]))
        if reporter is not None:
            reporter.update(len(jobs) - len(pending))
    if not src.is_dir() and result.skipped:  # one file: its own error, as the local run gives it
        raise InputError(result.skipped[0][1], "run `fieldkit inspect` on it to see what fieldkit makes of it")
    result.written.sort()
    return result
