"""Loaders: any field dataset -> a Dataset holding a pl.LazyFrame plus what we learned.

CONTRACT (other packages rely on it):
    load_dataset(path, *, sheet=None, encoding=None, reporter=None) -> Dataset
    Dataset.frame          pl.LazyFrame (scan where the format allows)
    Dataset.format         "csv" | "tsv" | "xlsx" | "xls" | "json" | "ndjson" | "parquet" | "arrow" | "log" | "text"
                           | "ods" | "folder" (a listing: name, format, size_bytes, modified, readable)
    Dataset.source_info()  dict(path, sha256, format, encoding) for provenance
    Dataset.require_column(name) -> str   (UsageError naming close matches otherwise)
    Dataset.text_column(name) -> pl.Series of str (nulls kept)
    Dataset.read(columns=None) -> pl.DataFrame   (the file read at most once per job)
    Dataset.from_frame(df) -> Dataset            (a frame already in memory)
"""

from fieldkit.io.dataset import Dataset, load_dataset
from fieldkit.io.report import inspect_dataset

__all__ = ["Dataset", "inspect_dataset", "load_dataset"]
