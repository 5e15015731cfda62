"""Big files paged from disk: a Parquet copy with small row groups, and a table model that reads only what is on screen.

A file over `PAGE_BYTES` is converted once, streaming, to a Parquet cache keyed by the
file's sha256 (so reopening it is instant and an edited file gets a new copy). The table then
holds at most `KEEP_GROUPS` row groups of `GROUP_ROWS` rows, whatever the file's size. Sorts,
filters and row restrictions (search hits, a theme, duplicate groups) are lazy Polars queries
on the cache: a first pass collects only the row ids in view order (one integer per row plus
the sort key), a second pass streams the rows into a view file of their own, in that order, by
distributing them into buckets on disk and sorting each bucket by position. Nothing ever
collects the whole table. Free of Textual, so it is tested and benchmarked alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fieldkit.annotate import ANNOTATION_COLUMNS
from fieldkit.errors import UsageError
from fieldkit.progress import Reporter
from fieldkit.tui.model import ROW, TableModel, ViewSpec, first_line

# Files above this size are paged from disk instead of read into memory. Loaded into Polars a
# file takes 0.6-1.8x its size on disk (17 shared sets, frame.estimated_size() / file size; the
# largest ratio of any 16 when one is left out is 1.45-1.79) and loading peaks near 1.6x (the
# 250 MB head of the bench CSV), and a sorted or filtered view is one more copy. The threshold
# keeps the in-memory path inside the paged path's 800 MB goal: at 160 MB a file stays near
# 2 x 1.79 x 160 + ~180 MB of app = ~750 MB in the worst shared case and ~500 MB in the usual
# one (ratio ~1.0). Paging costs a one-off streaming conversion (a few seconds per 100 MB) and
# a disk pass per sort, which smaller files need not pay.
PAGE_BYTES = 160 * 1024 * 1024
GROUP_ROWS = 16_384  # rows per row group: one screen never needs more than two of them
KEEP_GROUPS = 4  # row groups held in memory at once (the memory bound of browsing)
BUCKET_ROWS = 131_072  # rows per bucket when reordering a view on disk (the memory of a sort)
# Text is sorted by its first SORT_PREFIX characters (answers that agree that far keep file
# order): sorting whole answers held the entire text column (peak 750 MB for the plan of the
# bench file's 280-character answers; 32-character keys: 409 MB).
SORT_PREFIX = 32
SAMPLE_ROWS = GROUP_ROWS  # rows the survey-role hints of a paged file look at (one row group)
KEEP_VIEWS = 6  # view files kept on disk per cache folder (older ones are removed)
CACHE_VERSION = 1


def cache_dir() -> Path:
    """Where page caches and their view folders live."""
    from fieldkit.config import cache_home

    return cache_home() / "tui-pages"


def should_page(ds: Any) -> bool:
    """Whether a dataset is big enough to page from disk (files only; a folder listing stays in memory)."""
    if ds.format == "folder":
        return False
    size = getattr(ds, "size_bytes", 0) or _size(ds.path)
    return size > PAGE_BYTES


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def cache_path(ds: Any) -> Path:
    """The cache copy of a dataset: named by the file's sha256 and what changes how it was read."""
    from fieldkit import files

    parts = [f"v{CACHE_VERSION}", ds.sha256, str(ds.sheet), str(ds.encoding), str(ds.delimiter), str(GROUP_ROWS)]
    return files.derived_path("tui-pages", parts, ".parquet")


def convert(ds: Any, reporter: Reporter | None = None) -> Path:
    """The dataset as a Parquet cache with `ROW` and small row groups, written once (atomic, cancellable).

    Polars' streaming sink does the work in the background (measured 1.5x faster and 45% less
    peak memory than pulling batches through Python); progress is the cache file's growth
    against the size a sample of the first rows predicts, and cancel stops the query.
    """
    from fieldkit import files
    from fieldkit.errors import InputError

    lf = ds.frame.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))

    def build(tmp: Path) -> None:
        expected = _expected_mb(ds, lf) if reporter is not None else None
        query = lf.sink_parquet(tmp, compression="zstd", row_group_size=GROUP_ROWS, lazy=True).collect(background=True)
        try:
            while query.fetch() is None:
                time.sleep(0.1)
                if reporter is not None:
                    written = tmp.stat().st_size >> 20
                    reporter.total = max(expected, written + 1) if expected else None
                    reporter.update(written, "MB of the page cache")
        except pl.exceptions.ComputeError as exc:  # bad data found while streaming
            raise InputError(f"could not read {ds.path.name}: {first_line(exc)}",
                             f"run `fieldkit inspect {ds.path}` to see what is wrong") from exc
        except BaseException:
            query.cancel()
            raise
        if reporter is not None:
            done = tmp.stat().st_size >> 20
            reporter.total = done
            reporter.update(done, "MB of the page cache", force=True)

    return files.cached_file(cache_path(ds), build)


def _expected_mb(ds: Any, lf: pl.LazyFrame) -> int | None:
    """The cache's size in MB as the first rows predict it (for the progress bar), or None when unknown."""
    rows = _estimate_rows(ds)
    if not rows:
        return None
    sample = lf.head(GROUP_ROWS).collect()
    if not sample.height:
        return None
    buf = io.BytesIO()
    sample.write_parquet(buf, compression="zstd")
    return max(1, int(buf.tell() / sample.height * rows) >> 20)


def _estimate_rows(ds: Any) -> int | None:
    """Rows in the file, estimated from the bytes per row of its first lines."""
    size = getattr(ds, "size_bytes", 0) or _size(ds.path)
    if ds.compression or not size or (ds.delimiter is None and ds.format not in ("ndjson", "text")):
        return None
    try:
        with open(ds.path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return None
    lines = head.count(b"\n")
    return int(size / (len(head) / lines)) if lines > 1 else None


class ParquetPages:
    """Parquet file(s) read a row group at a time; at most `keep` groups are held in memory.

    Offers what the table model asks of a frame: height, columns, schema, slice and lazy. A
    sorted view is several files (one per bucket), read as one sequence of row groups.
    """

    def __init__(self, paths: str | os.PathLike | list, keep: int | None = None):
        self.paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        self.path = self.paths[0]
        import pyarrow.parquet as pq  # here, not at import: every open would pay for it before its first paint

        self._files = [pq.ParquetFile(p) for p in self.paths]
        self._where: list[tuple[int, int]] = []  # row group number -> (file, group in file)
        sizes = []
        for fi, f in enumerate(self._files):
            meta = f.metadata
            for gi in range(meta.num_row_groups):
                self._where.append((fi, gi))
                sizes.append(meta.row_group(gi).num_rows)
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.height = int(self.starts[-1])
        self.schema = pl.scan_parquet(self.path).collect_schema()
        self.columns = self.schema.names()
        self.keep = keep or KEEP_GROUPS
        self._groups: OrderedDict[int, pl.DataFrame] = OrderedDict()
        self.most_held = 0  # the largest number of groups ever held (the memory-shape check)
        self.reads = 0
        # the UI thread and a worker (profile, find, save) may read at once; a pyarrow
        # ParquetFile is not safe for that ("ReadRangeCache did not find matching cache entry")
        self._lock = threading.RLock()

    def lazy(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.paths)

    def _read(self, i: int) -> pl.DataFrame:
        """Row group `i` straight from disk (not kept)."""
        fi, gi = self._where[i]
        with self._lock:
            return pl.from_arrow(self._files[fi].read_row_group(gi))

    def _group(self, i: int) -> pl.DataFrame:
        with self._lock:
            return self._held_group(i)

    def _held_group(self, i: int) -> pl.DataFrame:
        df = self._groups.get(i)
        if df is None:
            df = self._read(i)
            self.reads += 1
            self._groups[i] = df
            while len(self._groups) > self.keep:
                self._groups.popitem(last=False)
            self.most_held = max(self.most_held, len(self._groups))
        else:
            self._groups.move_to_end(i)
        return df

    def slice(self, start: int, length: int) -> pl.DataFrame:
        """Rows start..start+length, read from the row groups that hold them."""
        end = min(self.height, start + length)
        if start >= end:
            return pl.DataFrame(schema=self.schema)
        first = int(np.searchsorted(self.starts, start, side="right") - 1)
        parts = []
        g = first
        while g < len(self.starts) - 1 and self.starts[g] < end:
            lo = max(start, int(self.starts[g])) - int(self.starts[g])
            hi = min(end, int(self.starts[g + 1])) - int(self.starts[g])
            parts.append(self._group(g).slice(lo, hi - lo))
            g += 1
        return parts[0] if len(parts) == 1 else pl.concat(parts)

    def held(self) -> int:
        return len(self._groups)


class PagedTableModel(TableModel):
    """The TableModel over a Parquet cache: rows come from the row groups on screen, views are files."""

    paged = True

    def __init__(self, cache: str | os.PathLike, complete: bool = True):
        self.cache = Path(cache)
        self.base = ParquetPages(self.cache)
        self.complete = complete
        self.spec = ViewSpec()
        self.view = self.base
        self._pages = OrderedDict()
        self.extra_columns = []
        self._cache_schema()

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.base.columns if c != ROW]

    @property
    def total_rows(self) -> int:
        return self.base.height

    def base_lazy(self) -> pl.LazyFrame:
        return self.base.lazy()

    def view_lazy(self) -> pl.LazyFrame:
        return self.view.lazy()

    def sample_frame(self) -> pl.DataFrame:
        """The first SAMPLE_ROWS rows of the view: survey-role hints (free text, options) on a paged file come from them."""
        return self.view.slice(0, SAMPLE_ROWS)

    def held_groups(self) -> int:
        """Row groups in memory now, over the base and the view (what browsing costs)."""
        return self.base.held() + (self.view.held() if self.view is not self.base else 0)

    # ---- views ----

    def build_view(self, spec: ViewSpec, reporter: Reporter | None = None) -> ParquetPages:
        """The rows of `spec` as Parquet file(s) of their own (cached by spec), opened for paging."""
        if spec.restrict is None and not spec.where and not spec.sort_by:
            return self.base
        key = _spec_key(self.cache, spec)
        target = self.cache.with_name(f"{self.cache.stem}.view-{key}")
        if not target.is_dir():
            self._materialize(spec, target, reporter)
        _touch(target)
        _prune_views(self.cache)
        return ParquetPages(sorted(target.glob("part-*.parquet")))

    def _plan(self, spec: ViewSpec) -> pl.DataFrame:
        """Pass 1: the row ids in view order (plus the restriction's extra columns), nothing else."""
        lf = self.base.lazy()
        names = self.data_columns
        if spec.restrict is not None:
            order = spec.restrict.lazy().with_row_index("_fk_rank")
            lf = order.join(lf, on=ROW, how="inner")
        if spec.where:
            try:
                ctx = pl.SQLContext(frame=lf, eager=False)
                lf = ctx.execute(f"SELECT * FROM frame WHERE {spec.where}")
            except Exception as exc:
                raise UsageError(f"filter not understood: {first_line(exc)}",
                                 'write a SQL WHERE clause, e.g. "Age" > 30 AND "Country" = \'Kenya\'') from exc
        extra = [c for c in (spec.restrict.columns if spec.restrict is not None else []) if c != ROW]
        keep = [ROW] + [c for c in extra if c not in names]
        if spec.sort_by:
            key = pl.col(spec.sort_by)
            if lf.collect_schema().get(spec.sort_by) == pl.String:
                # the sort holds short keys, never whole answers; a slice alone is a view that keeps
                # the whole text buffer alive, so a NUL (below every character) makes fresh strings
                key = pl.concat_str([key.str.slice(0, SORT_PREFIX), pl.lit("\x00")])
            # select before sorting, so each batch is cut to (row, key) as it streams past
            lf = (lf.select(*keep, key.alias("_fk_key"))
                  .sort("_fk_key", descending=spec.descending, nulls_last=True, maintain_order=True))
        elif spec.restrict is not None:
            lf = lf.select(*keep, "_fk_rank").sort("_fk_rank")
        else:
            lf = lf.select(keep)  # a filter keeps file order
        try:
            return lf.select(keep).collect(engine="streaming")
        except Exception as exc:
            if spec.where:
                raise UsageError(f"filter failed: {first_line(exc)}",
                                 "quote column names with double quotes and text with single quotes") from exc
            raise

    def _materialize(self, spec: ViewSpec, target: Path, reporter: Reporter | None) -> None:
        """Pass 2: the base rows in plan order, written to a folder of Parquet parts that appears whole or not at all.

        Rows already in file order (a filter) stream straight through one sink, and a few rows
        are sorted in memory. Otherwise each row gets its place in the view, the base is read a
        bucket's worth of row groups at a time and its rows go to buckets of BUCKET_ROWS places
        on disk, and each bucket is sorted by place alone: memory stays at about one bucket
        (Polars' own sort of the bench file held 1.5 GB).
        """
        plan = self._plan(spec)
        n = plan.height
        extras = plan.drop(ROW)
        columns = extras.columns + self.base.columns
        work = Path(tempfile.mkdtemp(prefix=".view-", dir=target.parent))
        try:
            joined = self.base.lazy().join(plan.with_columns(pl.int_range(n, dtype=pl.Int64).alias("_fk_pos")).lazy(),
                                           on=ROW, how="inner", maintain_order="left")
            if n == 0 or plan.get_column(ROW).is_sorted():  # a filter: file order, one streaming pass
                joined.select(columns).sink_parquet(work / "part-00000.parquet", compression="lz4",
                                                    row_group_size=GROUP_ROWS)
            elif n <= BUCKET_ROWS:  # few rows: joined and sorted in memory at the size of one bucket
                joined.sort("_fk_pos").select(columns).sink_parquet(
                    work / "part-00000.parquet", compression="lz4", row_group_size=GROUP_ROWS)
            else:
                place = np.full(self.base.height, -1, dtype=np.int64)
                place[plan.get_column(ROW).to_numpy()] = np.arange(n, dtype=np.int64)
                del plan
                self._bucket_sort(place, extras, columns, work, reporter)
            with contextlib.suppress(OSError):
                os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _bucket_sort(self, place: np.ndarray, extras: pl.DataFrame, columns: list[str], work: Path,
                     reporter: Reporter | None) -> None:
        n = int((place >= 0).sum())
        groups = len(self.base.starts) - 1
        if reporter is not None:
            reporter.total = groups + -(-n // BUCKET_ROWS)
        step = max(1, BUCKET_ROWS // GROUP_ROWS // 2)  # row groups read at once: half a bucket of rows
        for first in range(0, groups, step):
            chunk = range(first, min(groups, first + step))
            pos = place[int(self.base.starts[chunk.start]):int(self.base.starts[chunk.stop])]
            keep = pos >= 0  # ROW is the row's place in the file, so no read is needed to know
            if keep.any():
                part = pl.concat([self.base._read(g) for g in chunk])
                part = part.filter(pl.Series(keep)).with_columns(pl.Series("_fk_pos", pos[keep]))
                if extras.width:
                    part = pl.concat([extras[pos[keep]], part], how="horizontal")
                part = part.with_columns((pl.col("_fk_pos") // BUCKET_ROWS).alias("_fk_bucket"))
                for (b,), piece in part.partition_by("_fk_bucket", as_dict=True, include_key=False).items():
                    piece.write_ipc(work / f"b{b:05d}-{first:06d}.arrow", compression="lz4")
                del part
            if reporter is not None:
                reporter.update(chunk.stop)
        del place
        for b in range(-(-n // BUCKET_ROWS)):
            pieces = sorted(work.glob(f"b{b:05d}-*.arrow"))
            frame = pl.scan_ipc(pieces).sort("_fk_pos").select(columns).collect()
            frame.write_parquet(work / f"part-{b:05d}.parquet", compression="lz4", row_group_size=GROUP_ROWS)
            del frame
            for piece in pieces:
                piece.unlink()
            if reporter is not None:
                reporter.update(groups + b + 1)

    def set_view(self, spec: ViewSpec, view: Any = None) -> None:
        self.spec = spec
        self.view = view if view is not None else self.build_view(spec)
        self.extra_columns = [c for c in self.view.columns if c not in self.base.columns]
        self._pages.clear()
        self._cache_schema()

    def replace_base(self, base, complete: bool = True) -> None:
        raise TypeError("a paged model reads its base from the cache file")

    # ---- lookups (lazy scans of the view file) ----

    def index_of_row_id(self, row_id: int) -> int | None:
        hits = (self.view.lazy().with_row_index("_fk_i").filter(pl.col(ROW) == row_id)
                .select("_fk_i").head(1).collect(engine="streaming"))
        return int(hits.item()) if hits.height else None

    def find(self, column: str, needle: str, start: int, backwards: bool = False) -> int | None:
        """Next view row at or after `start` (before, if backwards) whose `column` contains `needle`."""
        text = pl.col(column).cast(pl.String)
        if needle.lower() == needle:
            text = text.str.to_lowercase()
        lf = self.view.lazy().with_row_index("_fk_i").filter(text.str.contains(needle, literal=True).fill_null(False))
        idx = pl.col("_fk_i")
        if backwards:
            first = lf.filter(idx <= start).select(idx.max()).collect(engine="streaming").item()
            if first is None:
                first = lf.select(idx.max()).collect(engine="streaming").item()
        else:
            first = lf.filter(idx >= start).select(idx.min()).collect(engine="streaming").item()
            if first is None:
                first = lf.select(idx.min()).collect(engine="streaming").item()
        return int(first) if first is not None else None


def _spec_key(cache: Path, spec: ViewSpec) -> str:
    h = hashlib.sha256(json.dumps([str(cache), spec.where, spec.sort_by, spec.descending]).encode())
    if spec.restrict is not None:
        for col in spec.restrict.columns:
            h.update(col.encode())
            h.update(spec.restrict.get_column(col).hash().to_numpy().tobytes())
    return h.hexdigest()[:24]


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _prune_views(cache: Path) -> None:
    """Keep the most recently used views of this cache only: views are cheap to rebuild, disk is not."""
    views = sorted(cache.parent.glob(f"{cache.stem}.view-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in views[KEEP_VIEWS:]:
        shutil.rmtree(old, ignore_errors=True)


def annotation_frame(lf: pl.LazyFrame) -> pl.DataFrame | None:
    """Only the annotation columns a saved fieldkit output carries (for open_annotations), or None."""
    names = lf.collect_schema().names()
    cols = [c for c in ANNOTATION_COLUMNS if c in names]
    if not cols:
        return None
    return lf.select(cols).collect(engine="streaming")


def open_paged(ds: Any, part: str | None, reporter: Reporter) -> tuple[PagedTableModel, Any, list[str]]:
    """Convert (once) and open a big dataset for paging, with its annotations: the screen's load job."""
    from fieldkit.annotate import open_annotations

    cache = convert(ds, reporter)
    model = PagedTableModel(cache)
    ann, notes = open_annotations(ds.path, annotation_frame(model.base_lazy().drop(ROW)), part=part)
    return model, ann, notes
