"""Merge rules for annotated copies of one dataset: row keys, per-field winners, kept conflicts.

Why vectorised and symmetric: field teams merge a million rows from several laptops on a
small machine, and the office must get the same file whatever order the laptops arrive in
and however often one is merged in again. Every rule here therefore depends only on the
values (and their recorded times), never on the position of an input on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fieldkit import conflicts
from fieldkit.errors import UsageError
from fieldkit.io.survey import meta_key
from fieldkit.rowkeys import ID_COLUMNS, NULL, SEP, _hash, as_text

KEY = "_fk_key"
SRC = "_fk_src"
POS = "_fk_pos"
TIME = "_fk_t"
TIME_COLUMN = "annotated_at"
CONFLICTS = conflicts.COLUMN
TAGS = "tags"
# single-value annotations: the first column decides, the others follow the winning row
GROUPS: tuple[tuple[str, ...], ...] = (
    ("note",),
    ("code", "code_score", "code_source", "needs_review"),
    ("theme_label", "theme_id", "theme_score", "theme_reviewed"),
)
ANNOTATIONS = (TAGS, *(c for g in GROUPS for c in g), TIME_COLUMN, CONFLICTS)
# derived per-row columns that never identify a row (left out of the fingerprint)
DERIVED = ANNOTATIONS + ("embedding", "dup_group", "dup_size")
ID_META = ("uuid", "instanceid", "submission__uuid")  # exporter spellings (X_uuid, meta.instanceID), in this order
NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)
SHOWN_DUPLICATES = 5


@dataclass
class KeyChoice:
    """How rows are matched: a column's values (`column`) or the row fingerprint (None)."""

    column: str | None
    how: str  # "--key", "survey id" or "fingerprint"
    notes: list[str] = field(default_factory=list)
    fingerprint_columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.how} {self.column}" if self.column else "row fingerprint"


def _duplicates(s: pl.Series) -> list[str]:
    return s.filter(s.is_duplicated()).cast(pl.String).unique(maintain_order=True).head(SHOWN_DUPLICATES).to_list()


def choose_key(frames: dict[str, pl.DataFrame], key: str | None) -> KeyChoice:
    """`--key` (checked: in every input, no nulls or repeats), else a survey id all share, else the fingerprint."""
    labels = list(frames)
    if key is not None:
        if key in ANNOTATIONS:
            raise UsageError(f"--key {key!r} is an annotation column, not a row identity",
                             "give a column that names each record, such as _uuid")
        for label, df in frames.items():
            if key not in df.columns:
                raise UsageError(f"--key column {key!r} is not in {label}",
                                 f"its columns include: {', '.join(df.columns[:8])}")
            s = df.get_column(key)
            if s.null_count():
                raise UsageError(f"--key column {key!r} is empty in {s.null_count():,} row(s) of {label}",
                                 "every row needs a key; choose another column or leave --key out")
            dups = _duplicates(s)
            if dups:
                raise UsageError(f"--key column {key!r} repeats in {label}: " + ", ".join(map(repr, dups)),
                                 "a key must name one row; remove the duplicates or choose another column")
        return KeyChoice(key, "--key")
    common = [c for c in frames[labels[0]].columns if all(c in df.columns for df in frames.values())]
    candidates = [c for c in ID_COLUMNS if c in common]
    candidates += sorted((c for c in common if c not in candidates and meta_key(c) in ID_META),
                         key=lambda c: ID_META.index(meta_key(c)))
    notes: list[str] = []
    for col in candidates:
        bad = next(((label, df.get_column(col)) for label, df in frames.items()
                    if df.get_column(col).null_count() or df.get_column(col).is_duplicated().any()), None)
        if bad is None:
            return KeyChoice(col, "survey id", notes)
        label, s = bad
        what = (f"has {s.null_count():,} empty cell(s)" if s.null_count()
                else "repeats (" + ", ".join(map(repr, _duplicates(s))) + ")")
        notes.append(f"survey id {col} {what} in {label}: rows matched by their values instead")
    choice = KeyChoice(None, "fingerprint", notes)
    choice.fingerprint_columns = fingerprint_columns(frames)
    return choice


def fingerprint_columns(frames: dict[str, pl.DataFrame]) -> list[str]:
    """The data columns every input has, in their shared order (the TUI journal's order when it agrees)."""
    first = next(iter(frames.values()))
    cols = [c for c in first.columns if c not in DERIVED and not c.startswith("_fk_")
            and all(c in df.columns for df in frames.values())]
    same_order = all([c for c in df.columns if c in cols] == cols for df in frames.values())
    return cols if same_order else sorted(cols)


def row_keys(df: pl.DataFrame, choice: KeyChoice) -> pl.Series:
    """One key per row, in the TUI journal's spelling: `id:<value>`, else `h:<hash of the values>`.

    Identical rows get `#2`, `#3`... after their hash (the first keeps the plain one, which is
    the row the TUI's journal points to), so copies are matched copy by copy.
    """
    if choice.column is not None:
        return df.select((pl.lit("id:") + pl.col(choice.column).cast(pl.String)).alias(KEY)).to_series()
    cols = choice.fingerprint_columns
    if cols:
        joined = df.select(pl.concat_str([as_text(c, df.schema[c]).fill_null(NULL) for c in cols],
                                         separator=SEP)).to_series().to_list()
    else:
        joined = [""] * df.height
    frame = pl.DataFrame({KEY: pl.Series(["h:" + _hash(t) for t in joined], dtype=pl.String)})
    nth = pl.int_range(pl.len()).over(KEY)
    return frame.select(pl.when(nth == 0).then(pl.col(KEY))
                        .otherwise(pl.col(KEY) + "#" + (nth + 1).cast(pl.String)).alias(KEY)).to_series()


def prepare(df: pl.DataFrame, keys: pl.Series, src: int) -> pl.DataFrame:
    """An input with its key, source number, row position and annotation time; empty annotations as null."""
    fixes = [keys.alias(KEY), pl.lit(src, dtype=pl.UInt16).alias(SRC),
             pl.int_range(pl.len(), dtype=pl.Int64).alias(POS)]
    if TIME_COLUMN in df.columns:
        t = pl.col(TIME_COLUMN)
        if df.schema[TIME_COLUMN] == pl.String:
            t = t.str.to_datetime(time_zone="UTC", strict=False)
        elif isinstance(df.schema[TIME_COLUMN], pl.Datetime) and df.schema[TIME_COLUMN].time_zone is None:
            t = t.dt.replace_time_zone("UTC")
        fixes.append(t.cast(pl.Datetime("us", "UTC")).alias(TIME_COLUMN))
        fixes.append(t.cast(pl.Datetime("us", "UTC")).dt.epoch("us").fill_null(-1).alias(TIME))
    else:
        fixes.append(pl.lit(-1, dtype=pl.Int64).alias(TIME))
    for name in (TAGS, CONFLICTS):
        if name in df.columns:
            dtype = df.schema[name]
            col = (pl.col(name).cast(pl.List(pl.String)) if isinstance(dtype, (pl.List, pl.Array))
                   else pl.col(name).cast(pl.String).str.split(";"))  # a CSV round trip keeps tags as text
            fixes.append(col.list.eval(pl.element().filter(pl.element().str.len_chars() > 0)).alias(name))
    for group in GROUPS:
        lead = group[0]
        if lead in df.columns and df.schema[lead] == pl.String:
            fixes.append(pl.when(pl.col(lead).str.strip_chars() == "").then(None).otherwise(pl.col(lead)).alias(lead))
    return df.with_columns(fixes)


def annotated_rows(df: pl.DataFrame) -> int:
    """Rows carrying any annotation (a tag or a single-value annotation)."""
    conds = []
    if TAGS in df.columns:
        conds.append(pl.col(TAGS).list.len().fill_null(0) > 0)
    conds += [pl.col(g[0]).is_not_null() for g in GROUPS if g[0] in df.columns]
    if not conds:
        return 0
    return int(df.select(pl.any_horizontal(conds).sum()).item())


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack inputs with different columns; a column whose types cannot be reconciled becomes text."""
    dtypes: dict[str, set] = {}
    for p in parts:
        for c, t in p.schema.items():
            dtypes.setdefault(c, set()).add(t)
    clash = [c for c, ts in dtypes.items() if len(ts) > 1
             and not all(t.is_numeric() or t == pl.Null for t in ts)
             and not any(isinstance(t, NESTED) for t in ts)]
    if clash:
        parts = [p.with_columns([pl.col(c).cast(pl.String) for c in clash if c in p.columns]) for p in parts]
    try:
        return pl.concat(parts, how="diagonal_relaxed")
    except (pl.exceptions.SchemaError, pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as e:
        raise UsageError(f"the inputs disagree on a column's type and cannot be stacked: {str(e).splitlines()[0]}",
                         "convert the column to the same type in every input first") from e


def _rank(frame: pl.DataFrame, group: tuple[str, ...]) -> pl.Series:
    """Each row's place in the winning order of a field: present, human over model, latest, then value."""
    lead = group[0]
    by = [pl.col(lead).is_not_null()]
    if lead == "code" and "code_source" in frame.columns:
        by.append(pl.col("code_source").fill_null("") == "human")
    by += [pl.col(TIME), pl.col(lead)]
    order = frame.select(pl.arg_sort_by(by)).to_series().to_numpy()
    rank = np.empty(frame.height, dtype=np.int64)
    rank[order] = np.arange(frame.height, dtype=np.int64)
    return pl.Series(f"_fk_rank_{lead}", rank)


def _orderable(dtype: pl.DataType) -> bool:
    return not isinstance(dtype, NESTED) and dtype not in (pl.Null, pl.Binary, pl.Categorical) \
        and not isinstance(dtype, pl.Enum)


@dataclass
class Merged:
    """The merged rows and what it took: conflicts per field, and rows per key."""

    frame: pl.DataFrame
    conflicts_per_field: dict[str, int]
    rows_with_conflicts: int


def merge_frames(parts: list[pl.DataFrame], labels: list[str], data_sources: int,
                 column_order: list[str], primary: int = 0) -> Merged:
    """Merge prepared inputs (`prepare`): one row per key, annotations merged, conflicts kept.

    `parts[:data_sources]` are data files; the rest (journals) only annotate keys the data files have.
    `column_order` puts the data columns in the widest input's order; annotations follow. Rows
    keep the order of input `primary` (the fullest copy), then the others' rows by position.
    """
    allf = _concat(parts)
    if len(parts) > data_sources:
        known = allf.filter(pl.col(SRC) < data_sources).select(KEY).unique()
        allf = allf.join(known, on=KEY, how="semi")
    # nested columns take the first value in a canonical order: sort by source label
    label_rank = {i: r for r, i in enumerate(sorted(range(len(labels)), key=lambda i: labels[i]))}
    allf = allf.with_columns(pl.col(SRC).replace_strict(label_rank, return_dtype=pl.UInt16).alias("_fk_lr"))
    allf = allf.sort(["_fk_lr", POS]).drop("_fk_lr")
    schema = allf.schema
    groups = [tuple(c for c in g if c in schema) for g in GROUPS if g[0] in schema]
    allf = allf.with_columns([_rank(allf, g) for g in groups])
    data_cols = [c for c in schema if c not in ANNOTATIONS and not c.startswith("_fk_")]
    aggs: list[pl.Expr] = [pl.col(POS).min(), pl.col(TIME).max(),
                           pl.col(POS).filter(pl.col(SRC) == primary).first().alias("_fk_p1")]
    flags: list[pl.Expr] = []
    for c in data_cols:
        if _orderable(schema[c]):
            aggs.append(pl.col(c).max())
            flags.append((pl.col(c).drop_nulls().n_unique() > 1).alias(f"_fk_d_{c}"))
        else:
            aggs.append(pl.col(c).drop_nulls().first())
    for g in groups:
        rank = pl.col(f"_fk_rank_{g[0]}")
        aggs += [pl.col(c).get(rank.arg_max()).alias(c) for c in g]
        flags.append((pl.col(g[0]).drop_nulls().n_unique() > 1).alias(f"_fk_d_{g[0]}"))
    if TAGS in schema:
        aggs.append(pl.col(TAGS).explode().drop_nulls().unique().sort().alias(TAGS))
    if CONFLICTS in schema:
        aggs.append(pl.col(CONFLICTS).explode().drop_nulls().unique().sort().alias("_fk_old"))
    if TIME_COLUMN in schema:
        aggs.append(pl.col(TIME_COLUMN).max())
    out = allf.group_by(KEY).agg(aggs + flags)
    flag_names = [f.meta.output_name() for f in flags]
    has_old = pl.col("_fk_old").list.len() > 0 if CONFLICTS in schema else pl.lit(False)
    disputed = out.filter(pl.any_horizontal([pl.col(f) for f in flag_names] + [has_old]) if flag_names
                          else has_old).select([KEY] + flag_names + (["_fk_old"] if CONFLICTS in schema else []))
    entries = _conflict_entries(allf, disputed, flag_names, labels, CONFLICTS in schema)
    out = (out.drop(flag_names + (["_fk_old"] if CONFLICTS in schema else []))
           .join(entries, on=KEY, how="left")
           .with_columns(pl.col(CONFLICTS).fill_null(pl.lit([], dtype=pl.List(pl.String))))
           .sort(["_fk_p1", POS, KEY], nulls_last=True))
    if TAGS in out.columns:
        out = out.with_columns(pl.col(TAGS).fill_null(pl.lit([], dtype=pl.List(pl.String))))
    per_field = _count_fields(entries)
    rows_with = int(entries.filter(pl.col(CONFLICTS).list.len() > 0).height)
    data_order = [c for c in column_order if c in data_cols] + sorted(set(data_cols) - set(column_order))
    ann_order = [c for c in ANNOTATIONS if c in out.columns]
    return Merged(out.select(data_order + ann_order), per_field, rows_with)


def _conflict_entries(allf: pl.DataFrame, disputed: pl.DataFrame, flag_names: list[str],
                      labels: list[str], has_old: bool) -> pl.DataFrame:
    """`field: value (source)` for every value of a disputed field, plus the entries inputs already had.

    A value an input carries from an earlier merge is already listed with its first source
    in that input's own conflicts, so it is not listed again under the merged file's name
    (merging a merged file with one of its inputs changes nothing).
    """
    empty = pl.DataFrame({KEY: [], CONFLICTS: []}, schema={KEY: pl.String, CONFLICTS: pl.List(pl.String)})
    if disputed.height == 0:
        return empty
    rows = allf.join(disputed.select(KEY), on=KEY, how="semi").with_row_index("_fk_row")
    label = pl.col(SRC).replace_strict(dict(enumerate(labels)), return_dtype=pl.String)
    cands = []
    for flag in flag_names:
        name = flag[len("_fk_d_"):]
        keys = disputed.filter(pl.col(flag)).select(KEY)
        if keys.height == 0:
            continue
        value = pl.col(name).cast(pl.String)
        cands.append(rows.join(keys, on=KEY, how="semi").filter(pl.col(name).is_not_null()).select(
            KEY, "_fk_row", pl.format(conflicts.FORMAT, pl.lit(name), value, label).alias("entry"),
            pl.format("{}: {} (", pl.lit(name), value).alias("prefix")))
    found = pl.concat(cands) if cands else pl.DataFrame(schema={KEY: pl.String, "_fk_row": pl.UInt32,
                                                                "entry": pl.String, "prefix": pl.String})
    if has_old and found.height:
        own = rows.select("_fk_row", pl.col(CONFLICTS).alias("own")).explode("own").drop_nulls("own")
        carried = (found.join(own, on="_fk_row").filter(pl.col("own").str.starts_with(pl.col("prefix")))
                   .select("_fk_row", "prefix").unique())
        found = found.join(carried, on=["_fk_row", "prefix"], how="anti")
    new = found.select(KEY, "entry")
    if has_old:
        old = disputed.select(KEY, pl.col("_fk_old").alias("entry")).explode("entry").drop_nulls("entry")
        new = pl.concat([new, old])
    return new.unique().sort([KEY, "entry"]).group_by(KEY, maintain_order=True).agg(
        pl.col("entry").alias(CONFLICTS))


def _count_fields(entries: pl.DataFrame) -> dict[str, int]:
    """Rows in conflict per field (a row counts once per field however many sides it has)."""
    if entries.height == 0:
        return {}
    counts = (entries.explode(CONFLICTS).select(KEY, conflicts.field_of(pl.col(CONFLICTS)).alias("field"))
              .unique().group_by("field").len().sort("field"))
    return dict(counts.iter_rows())
