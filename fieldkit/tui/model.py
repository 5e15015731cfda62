"""The table's data side: the loaded frame, the current view (restriction, filter, sort) and row pages.

Kept free of Textual so it can be tested and benchmarked alone. The table widget asks for
single rows; rows are fetched a page at a time with `DataFrame.slice` and formatted once, so
only what is on screen is ever turned into text, whatever the number of rows.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fieldkit.display import display_text, escape_controls
from fieldkit.errors import UsageError

ROW = "_fk_row"  # original 0-based row position; annotations are keyed by it
PAGE = 128
MAX_CELL = 40
SPARK = "▁▂▃▄▅▆▇█"


def quote_ident(name: str) -> str:
    """A column name quoted for Polars SQL."""
    return '"' + name.replace('"', '""') + '"'


def short_dtype(dtype: pl.DataType) -> str:
    """A compact dtype label for column headers (str, i64, f64, date, list[str]...)."""
    s = str(dtype)
    table = {
        "String": "str", "Int64": "i64", "Int32": "i32", "Int16": "i16", "Int8": "i8",
        "UInt64": "u64", "UInt32": "u32", "UInt16": "u16", "UInt8": "u8",
        "Float64": "f64", "Float32": "f32", "Boolean": "bool", "Date": "date", "Null": "null",
        "Categorical": "cat",
    }
    if s in table:
        return table[s]
    if s.startswith("Datetime"):
        return "datetime"
    if s.startswith("List(String"):
        return "list[str]"
    if s.startswith("List"):
        return "list"
    return s.lower()[:12]


def format_value(v: Any) -> str:
    """One value as one line of text, control characters escaped (line breaks as ⏎)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:.6g}"
    return escape_controls(str(v))


@dataclass
class ViewSpec:
    """What the table shows: an optional row restriction (ranked or grouped), a filter, a sort."""

    restrict: pl.DataFrame | None = None  # ROW plus extra columns (score, dup_group...), in order
    restrict_label: str = ""
    where: str | None = None
    sort_by: str | None = None
    descending: bool = False


class TableModel:
    """The loaded frame plus the current view; serves formatted rows page by page."""

    def __init__(self, base: pl.DataFrame, complete: bool = True):
        if ROW not in base.columns:
            base = base.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
        self.base = base
        self.complete = complete  # False while only the first rows are loaded
        self.spec = ViewSpec()
        self.view = base
        self._pages: OrderedDict[int, list[tuple[int, list[str]]]] = OrderedDict()
        self.extra_columns: list[str] = []
        self._cache_schema()

    # ---- shape ----

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.base.columns if c != ROW]

    @property
    def columns(self) -> list[str]:
        return self.extra_columns + self.data_columns

    @property
    def row_count(self) -> int:
        return self.view.height

    def dtype(self, column: str) -> pl.DataType:
        return self._schema[column]

    def is_numeric(self, column: str) -> bool:
        return self._numeric.get(column, False)

    # ---- view ----

    def build_view(self, spec: ViewSpec) -> pl.DataFrame:
        """Compute the rows for `spec` (may raise UsageError for a bad filter); no state change."""
        lf = self.base.lazy()
        if spec.restrict is not None:
            lf = spec.restrict.lazy().join(lf, on=ROW, how="inner", maintain_order="left")
        if spec.where:
            try:
                ctx = pl.SQLContext(frame=lf, eager=False)
                lf = ctx.execute(f"SELECT * FROM frame WHERE {spec.where}")
            except Exception as exc:  # polars raises several error types for SQL
                raise UsageError(f"filter not understood: {first_line(exc)}",
                                 'write a SQL WHERE clause, e.g. "Age" > 30 AND "Country" = \'Kenya\'') from exc
        if spec.sort_by:
            lf = lf.sort(spec.sort_by, descending=spec.descending, nulls_last=True, maintain_order=True)
        try:
            return lf.collect()
        except Exception as exc:
            if spec.where:
                raise UsageError(f"filter failed: {first_line(exc)}",
                                 "quote column names with double quotes and text with single quotes") from exc
            raise

    def set_view(self, spec: ViewSpec, view: pl.DataFrame | None = None) -> None:
        self.spec = spec
        self.view = view if view is not None else self.build_view(spec)
        extra = [c for c in self.view.columns if c not in self.base.columns]
        self.extra_columns = extra
        self._pages.clear()
        self._cache_schema()

    def _cache_schema(self) -> None:
        """Schema lookups cost a Python object each time in Polars; drawing asks for them per cell."""
        self._schema = dict(self.view.schema)
        self._numeric = {c: t.is_numeric() for c, t in self._schema.items()}

    def replace_base(self, base: pl.DataFrame, complete: bool = True) -> None:
        """Swap in the fully loaded frame, keeping the current view settings."""
        if ROW not in base.columns:
            base = base.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
        self.base = base
        self.complete = complete
        self.set_view(self.spec)

    # ---- rows ----

    def row(self, index: int) -> tuple[int, list[str]]:
        """(original row id, formatted cells in `columns` order) for view row `index`."""
        page_no = index // PAGE
        page = self._pages.get(page_no)
        if page is None:
            page = self._fetch(page_no)
            self._pages[page_no] = page
            if len(self._pages) > 64:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page[index - page_no * PAGE]

    def _fetch(self, page_no: int) -> list[tuple[int, list[str]]]:
        chunk = self.view.slice(page_no * PAGE, PAGE)
        cols = []
        for name in self.columns:
            s = chunk.get_column(name)
            if s.dtype.is_nested() or s.dtype == pl.Object:
                vals = [format_value(v) for v in s.to_list()]
            elif s.dtype.is_float():
                vals = [format_value(v) for v in s.to_list()]
            elif s.dtype == pl.Datetime or isinstance(s.dtype, pl.Datetime):
                vals = [format_value(v) for v in s.dt.to_string("%Y-%m-%d %H:%M:%S").to_list()]
            else:
                vals = [format_value(v) for v in s.cast(pl.String).to_list()]
            if name in self.value_labels:
                vals = self._labelled(name, vals)
            cols.append(vals)
        ids = chunk.get_column(ROW).to_list()
        return [(ids[i], [c[i] for c in cols]) for i in range(chunk.height)]

    def row_id(self, index: int) -> int:
        return self.row(index)[0]

    def full_record(self, index: int) -> dict[str, Any]:
        """All values of one view row, unformatted (for the row detail)."""
        return self.view.slice(index, 1).to_dicts()[0]

    def index_of_row_id(self, row_id: int) -> int | None:
        hits = self.view.select(pl.arg_where(pl.col(ROW) == row_id)).to_series()
        return int(hits[0]) if len(hits) else None

    def find(self, column: str, needle: str, start: int, backwards: bool = False) -> int | None:
        """Next view row at or after `start` (before, if backwards) whose `column` contains `needle`."""
        from fieldkit.tui.text import fold, fold_text

        expr = fold(pl.col(column)).str.contains(fold_text(needle), literal=True)  # case and accents ignored
        hits = self.view.select(pl.arg_where(expr.fill_null(False))).to_series()
        if not len(hits):
            return None
        if backwards:
            before = hits.filter(hits <= start)
            return int(before[-1]) if len(before) else int(hits[-1])
        after = hits.filter(hits >= start)
        return int(after[0]) if len(after) else int(hits[0])

    paged = False  # the in-memory model; fieldkit.tui.paging.PagedTableModel pages from disk

    # The questionnaire as a view (`fieldkit open PATH --form FORM.xlsx`): question labels in the
    # header, choice labels in the cells; the stored values (codes) never change. Replaced, never
    # mutated, by set_labels (class defaults shared by every model without a form).
    header_labels: dict[str, str] = {}
    value_labels: dict[str, tuple[bool, dict[str, str]]] = {}  # column -> (select_multiple, code -> label)

    def set_labels(self, header: dict[str, str], values: dict[str, tuple[bool, dict[str, str]]]) -> None:
        self.header_labels, self.value_labels = dict(header), dict(values)
        self._pages.clear()

    def header(self, column: str) -> str:
        """What the header shows: the question's label when a form is on, else the column name."""
        return self.header_labels.get(column, column)

    def _labelled(self, column: str, vals: list[str]) -> list[str]:
        multi, mapping = self.value_labels[column]
        if multi:  # "1 3" -> "label 1; label 3"
            return [escape_controls("; ".join(mapping.get(c, c) for c in v.split())) if v else v for v in vals]
        return [escape_controls(mapping[v]) if v in mapping else v for v in vals]

    def base_lazy(self) -> pl.LazyFrame:
        """The whole loaded frame (with ROW) as a lazy frame: saving streams from it."""
        return self.base.lazy()

    def sample_frame(self) -> pl.DataFrame:
        """The view as a DataFrame for survey-role hints (all of it here; the paged model gives its first rows)."""
        return self.view

    def view_lazy(self) -> pl.LazyFrame:
        """The current view as a lazy frame (profiles and summaries select only the columns they need)."""
        return self.view.lazy()

    @property
    def total_rows(self) -> int:
        """Rows in the loaded file (or its first page while the rest is still loading)."""
        return self.base.height

    def numeric_widths(self) -> dict[str, int]:
        """Cells the widest value of each numeric column takes over the whole view, so a number is never cut.

        From the column's min and max (integers) plus the widest sampled float: a sample of the
        first rows would size a year column by its empty first answers and cut `2019` to `20…`.
        """
        cols = [c for c, t in self._schema.items() if self._numeric.get(c) and t != pl.Boolean]
        if not cols or self.row_count == 0:
            return {}
        exprs = [e for c in cols for e in (pl.col(c).min().alias(f"{c}\0min"), pl.col(c).max().alias(f"{c}\0max"))]
        stats = self.view_lazy().select(exprs).collect().row(0)
        out = {}
        for i, c in enumerate(cols):
            out[c] = max(len(format_value(stats[2 * i])), len(format_value(stats[2 * i + 1])))
        return out

    def content_widths(self, sample: int = 200) -> list[int]:
        """Column widths from the header and the first rows (capped), measured in cells; numbers in full."""
        from rich.cells import cell_len

        widths = []
        n = min(sample, self.row_count)
        rows = [self.row(i)[1] for i in range(n)]
        numbers = self.numeric_widths()
        for j, name in enumerate(self.columns):
            head = max(cell_len(display_text(self.header(name))), len(short_dtype(self.dtype(name))))
            body = max((cell_len(display_text(r[j])) for r in rows), default=0)
            if name in numbers:  # the whole value, and the header beside it when it is short enough
                widths.append(max(3, numbers[name], body, min(head, MAX_CELL // 2 + 4)))
                continue
            widths.append(max(3, min(MAX_CELL, max(min(head, MAX_CELL // 2 + 4), body))))
        return widths


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


# ---- column profile ---------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    """What the side panel shows about a column over the current view."""

    name: str
    dtype: str
    rows: int
    nulls: int
    distinct: int
    top: list[tuple[str, int]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=list)
    hist_range: tuple[float, float] | None = None


def profile_column(frame: pl.DataFrame | pl.LazyFrame, name: str, top_n: int = 6, bins: int = 16) -> ColumnProfile:
    """Nulls, distinct, top values, numeric stats and a histogram of one column.

    Every figure is a lazy query run by the streaming engine, and distinct values are counted
    and ranked by their 64-bit hash: a 2.5M-row text column is profiled without holding its
    text (top values are looked up by hash in a second pass).
    """
    lf = frame.lazy().select(pl.col(name))
    dtype = lf.collect_schema()[name]
    col = pl.col(name)
    key = col
    if isinstance(dtype, pl.List):
        key = col.cast(pl.List(pl.String)).list.sort().list.join(", ")

    def run(q: pl.LazyFrame) -> pl.DataFrame:
        return q.collect(engine="streaming")

    try:
        head = run(lf.select(pl.len().alias("rows"), col.null_count().alias("nulls"),
                             key.hash().n_unique().alias("distinct"))).row(0)
    except Exception:
        head = run(lf.select(pl.len(), col.null_count(), pl.lit(-1))).row(0)
    rows, nulls, distinct = (int(x) for x in head)
    top: list[tuple[str, int]] = []
    try:
        ranked = run(lf.filter(col.is_not_null()).group_by(key.hash().alias("_h")).agg(pl.len().alias("_n"))
                     .sort(["_n", "_h"], descending=[True, False]).head(top_n))
        if ranked.height and not (dtype.is_temporal() and ranked["_n"][0] == 1):
            # every timestamp distinct: a "top" list says nothing
            counts = dict(zip(ranked["_h"].to_list(), ranked["_n"].to_list()))
            values = run(lf.filter(key.hash().is_in(list(counts))).group_by(key.hash().alias("_h"))
                         .agg(key.first().alias("_v")))
            named = dict(zip(values["_h"].to_list(), values["_v"].to_list()))
            top = [(format_value(named.get(h)), int(n)) for h, n in counts.items()]
    except Exception:
        pass
    stats: dict[str, float] = {}
    histogram: list[int] = []
    hist_range = None
    numeric = dtype.is_numeric() and not dtype == pl.Boolean
    if numeric or dtype == pl.String:
        # the values (or text lengths) as their own column first, so each batch is reduced to
        # numbers as it streams past; a median over `len_chars()` of the text held all of it
        lf = lf.select((col.str.len_chars() if dtype == pl.String else col).cast(pl.Float64).alias("_t"))
        t = pl.col("_t")
        t = t.filter(t.is_not_null() & t.is_finite())
        agg = run(lf.select(t.len().alias("n"), t.min().alias("lo"), t.max().alias("hi"), t.mean().alias("mean"),
                            t.median().alias("median"), t.std().alias("std"))).row(0, named=True)
        if dtype == pl.String:
            stats["len_mean"] = float(agg["mean"] or 0)
        if agg["n"]:
            lo, hi = float(agg["lo"]), float(agg["hi"])
            if numeric:
                stats.update(min=lo, max=hi, mean=float(agg["mean"]), median=float(agg["median"]),
                             std=float(agg["std"] or 0.0))
            else:
                stats.update(len_min=lo, len_max=hi, len_median=float(agg["median"]))
            hist_range = (lo, hi)
            histogram = _histogram(lf, t, lo, hi, bins) if hi > lo else [int(agg["n"])]
    elif dtype.is_temporal():
        agg = run(lf.select(col.min().alias("lo"), col.max().alias("hi"))).row(0, named=True)
        if agg["lo"] is not None:
            stats = {"min": agg["lo"], "max": agg["hi"]}  # type: ignore[dict-item]
            ints = col.drop_nulls().cast(pl.Int64).cast(pl.Float64)
            lim = run(lf.select(ints.min().alias("lo"), ints.max().alias("hi"))).row(0)
            if lim[1] > lim[0]:
                histogram = _histogram(lf, ints, float(lim[0]), float(lim[1]), bins)
    return ColumnProfile(name, short_dtype(dtype), rows, nulls, distinct, top, stats, histogram, hist_range)


def _histogram(lf: pl.LazyFrame, values: pl.Expr, lo: float, hi: float, bins: int) -> list[int]:
    idx = ((values - lo) / (hi - lo) * bins).floor().clip(0, bins - 1).cast(pl.Int32).alias("_b")
    counts = lf.select(idx).group_by("_b").agg(pl.len().alias("_n")).collect(engine="streaming")
    hist = [0] * bins
    for b, c in counts.iter_rows():
        hist[int(b)] = int(c)
    return hist


def sparkline(values: list[int] | list[float]) -> str:
    """Values as a one-line bar chart (▁..█); zero stays the lowest bar."""
    if not values:
        return ""
    hi = max(values)
    if hi <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int(round(v / hi * (len(SPARK) - 1))))] for v in values)


def fit_text(text: str, width: int) -> str:
    """Text cut to `width` cells with an ellipsis, in visual order (see fieldkit.display)."""
    return display_text(format_value(text), width)
