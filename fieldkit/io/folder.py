"""A folder as a dataset: one row per readable file inside it (name, format, size, modified).

Formats are guessed from extensions and magic bytes only, so listing a folder of large
files is instant; a file is opened for real only when the user picks it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl

from fieldkit.errors import InputError

EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".psv": "csv", ".txt": "text",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods",
    ".json": "json", ".geojson": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
    ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
    ".ipc": "arrow", ".log": "log", ".out": "log",
}
MAX_DEPTH = 3
MAX_FILES = 10_000


def guess_format(path: Path) -> str | None:
    """Format from the name (also `x.csv.gz`), or None if it is not a dataset we read."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        inner = EXTENSIONS.get(suffixes[-2]) if len(suffixes) >= 2 else None
        return f"{inner}+gzip" if inner else None
    return EXTENSIONS.get(path.suffix.lower())


def list_folder(folder: Path) -> pl.DataFrame:
    """Datasets under `folder` (up to 3 levels deep), hidden files and fieldkit temp files skipped."""
    rows = []
    try:
        walker = list(os.walk(folder))
    except PermissionError as e:
        raise InputError(f"cannot read folder {folder}: permission denied",
                         "check the folder's permissions") from e
    base_depth = len(folder.parts)
    for root, dirs, files in walker:
        rp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(rp.parts) - base_depth >= MAX_DEPTH:
            dirs[:] = []
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = rp / name
            fmt = guess_format(p)
            if fmt is None:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            rows.append({
                "name": str(p.relative_to(folder)),
                "format": fmt,
                "size_bytes": st.st_size,
                "modified": dt.datetime.fromtimestamp(st.st_mtime).replace(microsecond=0),
                "readable": os.access(p, os.R_OK),
            })
            if len(rows) >= MAX_FILES:
                break
    schema = {"name": pl.String, "format": pl.String, "size_bytes": pl.Int64,
              "modified": pl.Datetime("us"), "readable": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)
