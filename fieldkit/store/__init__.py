"""Parquet store: atomic writes with provenance under the file-metadata key `fieldkit`."""

from fieldkit.files import sha256 as file_sha256  # the one sha256 (stamped); kept for callers
from fieldkit.store.parquet import (
    PROVENANCE_KEY,
    atomic_path,
    check_parquet_output,
    make_provenance,
    read_provenance,
    write_batches,
    write_frame,
)

__all__ = [
    "PROVENANCE_KEY",
    "atomic_path",
    "check_parquet_output",
    "file_sha256",
    "make_provenance",
    "read_provenance",
    "write_batches",
    "write_frame",
]
