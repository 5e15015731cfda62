"""What `inspect` shows, as plain data (the CLI prints it, the TUI renders it).

Row counts use Polars' fast count path; null counts are exact except for large files read
in place, where they cover the first rows only (and say so), so inspecting a 1 GB CSV
takes about a second.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fieldkit.errors import InputError
from fieldkit.io.dataset import Dataset

NULL_SAMPLE_ROWS = 100_000


def inspect_dataset(ds: Dataset, preview_rows: int = 0) -> dict[str, Any]:
    """Everything `fieldkit inspect --json` prints; stable keys (scripts rely on them)."""
    schema = ds.frame.collect_schema()
    if ds.format == "folder":
        listing = ds.frame.collect()
        return {
            "path": str(ds.path), "format": "folder", "size_bytes": ds.size_bytes,
            "datasets": [
                {"name": r["name"], "format": r["format"], "size_bytes": r["size_bytes"],
                 "modified": r["modified"].isoformat() if r["modified"] else None}
                for r in listing.iter_rows(named=True)
            ],
            "notes": ds.notes,
        }
    try:
        rows = ds.frame.select(pl.len()).collect().item()
        sampled = ds.mode == "scan" and ds.format in ("csv", "tsv") and rows > NULL_SAMPLE_ROWS
        src = ds.frame.head(NULL_SAMPLE_ROWS) if sampled else ds.frame
        nulls = src.select(pl.all().null_count()).collect().row(0) if schema.len() else ()
    except pl.exceptions.PolarsError as e:
        raise InputError(f"{ds.path.name} cannot be read to the end: {_first(e)}",
                         "the file may be truncated or have a malformed row; "
                         "`fieldkit convert` repairs ragged rows") from e
    info: dict[str, Any] = {
        "path": str(ds.path),
        "format": ds.format,
        "compression": ds.compression,
        "encoding": ds.encoding,
        "delimiter": ds.delimiter,
        "sheet": ds.sheet,
        "sheets": ds.sheets,
        "size_bytes": ds.size_bytes,
        "rows": rows,
        "columns": [
            {"name": name, "dtype": str(dtype), "nulls": int(n)}
            for (name, dtype), n in zip(schema.items(), nulls)
        ],
        "nulls_exact": not sampled,
        "ragged_rows": ds.ragged_rows,
        "notes": list(ds.notes) + ([f"null counts cover the first {NULL_SAMPLE_ROWS:,} rows"]
                                   if sampled else []),
        "survey": _survey(ds),
    }
    for key in ("quoting", "newline", "encoding_detected_by", "repairs"):
        if key in ds.extra:
            info[key] = ds.extra[key]
    if preview_rows:
        info["preview"] = ds.frame.head(preview_rows).collect().to_dicts()
    return info


def _survey(ds: Dataset) -> dict[str, Any] | None:
    if ds.survey is None:
        return None
    d = ds.survey.to_dict()
    d["timestamps"] = [{k: v for k, v in t.items() if k != "kind" and v is not None}
                       for t in d["timestamps"]]
    return d


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__
