"""Stable identities for the rows of a data file, so journaled annotations find their rows again.

A journal entry made on row 7 must land on the same record after the file is re-exported,
re-sorted or edited. The key is the survey's own record id when the file has a unique one
(`_uuid`, `instanceID`, ...), else a hash of the row's values.
"""

from __future__ import annotations

import hashlib

import polars as pl

ID_COLUMNS = ("_uuid", "meta/instanceID", "instanceID", "_submission__uuid", "KEY", "uuid")
NULL = "\x00"   # a null cell, told apart from an empty string
SEP = "\x1f"    # between cells
LIST_SEP = "\x1e"  # between the items of a list cell


def id_column(frame: pl.DataFrame) -> str | None:
    """The record-id column, when the file has one that is complete and unique."""
    for name in ID_COLUMNS:
        if name in frame.columns:
            s = frame.get_column(name)
            if s.null_count() == 0 and s.n_unique() == s.len():
                return name
    return None


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as text for hashing; lists and arrays item by item, structs as JSON (a plain cast fails)."""
    if isinstance(dtype, pl.Array):
        return pl.col(name).arr.eval(pl.element().cast(pl.String).fill_null(NULL)).arr.join(LIST_SEP)
    if isinstance(dtype, pl.List):
        return pl.col(name).list.eval(pl.element().cast(pl.String).fill_null(NULL)).list.join(LIST_SEP)
    if isinstance(dtype, pl.Struct):
        return pl.col(name).struct.json_encode()
    return pl.col(name).cast(pl.String)


def _joined(frame: pl.DataFrame, exclude: frozenset[str]) -> pl.Series:
    cols = [c for c in frame.columns if not c.startswith("_fk_") and c not in exclude]
    return frame.select(pl.concat_str([as_text(c, frame.schema[c]).fill_null(NULL) for c in cols],
                                      separator=SEP).alias("k")).to_series()


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


class RowKeys:
    """Key of any row (computed on demand) and the row of any key (index built once, when needed)."""

    def __init__(self, frame: pl.DataFrame, exclude: tuple[str, ...] = ()) -> None:
        """`exclude`: columns left out of the hash (annotations saved into the file change with use)."""
        self.frame = frame
        self.exclude = frozenset(exclude)
        self.column = id_column(frame)
        self._index: dict[str, int] | None = None

    def key(self, row: int) -> str:
        if self.column is not None:
            return "id:" + str(self.frame.get_column(self.column)[row])
        return "h:" + _hash(_joined(self.frame.slice(row, 1), self.exclude)[0])

    def all_keys(self) -> list[str]:
        if self.column is not None:
            return ["id:" + str(v) for v in self.frame.get_column(self.column).to_list()]
        return ["h:" + _hash(t) for t in _joined(self.frame, self.exclude).to_list()]

    def row_of(self, key: str) -> int | None:
        """The row with this key now (the first one, when identical rows repeat)."""
        if self._index is None:
            self._index = {}
            for i, k in enumerate(self.all_keys()):
                self._index.setdefault(k, i)
        return self._index.get(key)
