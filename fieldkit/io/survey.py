"""Survey-export awareness: KoboToolbox, ODK (Briefcase/Central), SurveyCTO, Google Forms.

Recognises metadata columns, group paths, select_multiple option columns with their
summary column, split GPS columns, and the exports' timestamp forms. Nothing is renamed;
timestamp columns are parsed to datetimes (offsets normalised to UTC) because every later
step (filters, per-day counts) needs real times, and `inspect` reports what was found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

# Metadata names, lower-cased, after stripping the prefixes exporters and R add
# (`_`, `X_`, `X.`, `meta/`, `meta.`, `meta-`, a mangled BOM `X.U.FEFF.`).
META = {
    # KoboToolbox
    "uuid", "submission_time", "index", "id", "notes", "status", "submitted_by", "tags",
    "validation_status", "version", "__version__", "parent_table_name", "parent_index",
    "attachments", "geolocation", "xform_id_string", "submission__id", "instanceid",
    "instancename", "deprecatedid", "rootuuid", "audit", "audit_url",
    # ODK / XLSForm metadata questions
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "simid", "phonenumber",
    "username", "email", "audit", "starttime", "endtime",
    # ODK Briefcase / Central, SurveyCTO
    "key", "parent_key", "submissiondate", "completiondate", "formdef_version", "submitterid",
    "submittername", "attachmentspresent", "attachmentsexpected", "reviewstate", "devicedate",
    "edits", "duration", "caseid", "review_status", "review_comments", "review_quality",
}
SURVEY_HINTS = {"uuid", "submission_time", "key", "submissiondate", "instanceid", "deviceid",
                "xform_id_string", "formdef_version"}
PREFIX_RE = re.compile(r"^(?:x\.u\.feff\.|\ufeff|meta[/.\-]|_+|x_+|x\.)", re.I)
GPS_PART = {"latitude": "latitude", "longitude": "longitude", "altitude": "altitude",
            "precision": "precision", "accuracy": "precision"}
KOBO_GPS_RE = re.compile(r"^(?:_|X_)(?P<base>.+)_(?P<part>latitude|longitude|altitude|precision)$", re.I)
SPLIT_GPS_RE = re.compile(r"^(?P<base>.+?)[-./:](?P<part>latitude|longitude|altitude|accuracy|precision)$",
                          re.I)
GROUP_SEPS = ("/", ".", "-")
BINARY = {"0", "1", "true", "false", "0.0", "1.0"}

# Timestamp forms seen in exports: (name, full-match regex on the sample, parser kind)
TS_FORMS = [
    ("iso8601 with offset",
     re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)$"), "iso_tz"),
    ("iso8601", re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$"), "iso"),
    ("iso date", re.compile(r"^\d{4}-\d{2}-\d{2}$"), "date"),
    ("Mon d, yyyy h:mm:ss AM", re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$"),
     "mdy_ampm"),
    ("m/d/yyyy h:mm:ss", re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$"), "slash_time"),
    ("m/d/yyyy", re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), "slash_date"),
]


def meta_key(name: str) -> str:
    """The bare metadata name: strip exporter/R prefixes, lower-case."""
    key = name.strip()
    for _ in range(3):
        new = PREFIX_RE.sub("", key)
        if new == key:
            break
        key = new
    return key.lower()


@dataclass
class SurveyInfo:
    tool: str
    metadata: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # top-level group -> column count
    group_separator: str | None = None
    select_multiple: list[dict[str, Any]] = field(default_factory=list)
    gps: list[dict[str, Any]] = field(default_factory=list)
    timestamps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tool(keys: set[str], names: list[str]) -> str:
    if {"uuid", "submission_time"} & keys and any(n.lstrip("X").startswith("_") or n.startswith("X_")
                                                   for n in names):
        return "kobotoolbox"
    if "formdef_version" in keys or "completiondate" in keys:
        return "surveycto"
    if "submissiondate" in keys or "key" in keys or "instanceid" in keys or "reviewstate" in keys:
        return "odk"
    if names and names[0].lower() == "timestamp":
        return "google forms"
    return "xlsform"


def detect(sample: pl.DataFrame) -> SurveyInfo | None:
    """Survey roles found in a sample of the data (a few hundred rows are enough)."""
    names = sample.columns
    keys = {n: meta_key(n) for n in names}
    metadata = [n for n in names if keys[n] in META]
    meta_keys = {keys[n] for n in metadata}
    # Google Forms: a `Timestamp` column first, then whole questions as headers
    google = bool(names) and names[0] == "Timestamp" and sum(" " in n for n in names) >= 3
    if google:
        metadata = [names[0]] + [m for m in metadata if m != names[0]]
    # a plain `key` or `id` column is common in any table: only exporter spellings count
    strong = {keys[n] for n in metadata if keys[n] in SURVEY_HINTS
              and (keys[n] != "key" or n == "KEY")}
    if not (strong or google or ({"start", "end"} <= meta_keys and len(meta_keys) >= 3)):
        return None
    info = SurveyInfo(tool=_tool(meta_keys, names), metadata=metadata)
    nameset = set(names)
    _find_gps(info, names, nameset)
    gps_cols = {c for g in info.gps for k, c in g.items() if k != "base" and c}
    _find_select_multiple(info, sample, names, nameset, gps_cols)
    option_cols = {c for sm in info.select_multiple for c in sm["options"]}
    _find_groups(info, names, set(metadata) | option_cols | gps_cols)
    _find_timestamps(info, sample)
    return info


def _find_gps(info: SurveyInfo, names: list[str], nameset: set[str]) -> None:
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for n in names:
        m = KOBO_GPS_RE.match(n) or SPLIT_GPS_RE.match(n)
        if m:
            found[m.group("base")][GPS_PART[m.group("part").lower()]] = n
    for base, parts in found.items():
        if "latitude" not in parts or "longitude" not in parts:
            continue
        combined = None
        for n in names:
            last = re.split(r"[/.]", n)[-1]
            if n != base and last != base:
                continue
            if n not in parts.values():
                combined = n
                break
        info.gps.append({"base": base, "combined": combined, "latitude": parts["latitude"],
                         "longitude": parts["longitude"], "altitude": parts.get("altitude"),
                         "precision": parts.get("precision")})


def _is_binary(s: pl.Series) -> bool:
    if s.dtype == pl.Boolean:
        return True
    vals = s.drop_nulls()
    if vals.len() == 0:
        return True
    if s.dtype.is_numeric():
        return bool(vals.cast(pl.Float64).is_in([0.0, 1.0]).all())
    if s.dtype == pl.String:
        return bool(vals.str.strip_chars().str.to_lowercase().is_in(list(BINARY)).all())
    return False


def _find_select_multiple(info: SurveyInfo, sample: pl.DataFrame, names: list[str],
                          nameset: set[str], skip: set[str]) -> None:
    by_base: dict[tuple[str, str], list[str]] = defaultdict(list)
    for n in names:
        if n in skip:
            continue
        for sep in GROUP_SEPS:
            if sep in n:
                base = n.rsplit(sep, 1)[0]
                by_base[(base, sep)].append(n)
    for (base, sep), options in by_base.items():
        binary = [o for o in options if _is_binary(sample[o])]
        if not binary:
            continue
        has_summary = base in nameset
        # without a summary column, require several binary siblings and no other children
        if has_summary and len(binary) >= 1 or (len(binary) >= 2 and len(binary) == len(options)):
            info.select_multiple.append({"column": base if has_summary else None,
                                         "options": binary, "separator": sep})


def _find_groups(info: SurveyInfo, names: list[str], skip: set[str]) -> None:
    best_sep, best_groups = None, {}
    for sep in GROUP_SEPS:
        groups: dict[str, int] = defaultdict(int)
        for n in names:
            if n in skip or sep not in n:
                continue
            head = n.split(sep, 1)[0]
            if head and not PREFIX_RE.match(n):
                groups[head] += 1
        # hyphens and dots also occur in plain names: a group needs two members
        groups = {g: c for g, c in groups.items() if c >= 2}
        if sum(groups.values()) > sum(best_groups.values()):
            best_sep, best_groups = sep, groups
    info.group_separator = best_sep
    info.groups = dict(sorted(best_groups.items(), key=lambda kv: -kv[1]))


def _find_timestamps(info: SurveyInfo, sample: pl.DataFrame) -> None:
    for name in sample.columns:
        s = sample[name]
        if s.dtype != pl.String:
            continue
        vals = [v.strip() for v in s.drop_nulls().head(500).to_list() if v.strip()]
        if not vals:
            continue
        for label, rx, kind in TS_FORMS:
            if all(rx.match(v) for v in vals):
                fmt = _slash_order(vals) if kind.startswith("slash") else None
                info.timestamps.append({"column": name, "form": label, "kind": kind,
                                        "order": fmt})
                break


def _slash_order(vals: list[str]) -> str:
    """'mdy' or 'dmy': a first part above 12 means day-first; US/Kobo order otherwise."""
    firsts = [int(v.split("/")[0]) for v in vals]
    seconds = [int(v.split("/")[1]) for v in vals]
    if any(f > 12 for f in firsts) and not any(s > 12 for s in seconds):
        return "dmy"
    return "mdy"


def parse_expr(column: str, kind: str, order: str | None = None) -> pl.Expr:
    """A lazy expression parsing one timestamp column (unparseable cells become null)."""
    s = pl.col(column).str.strip_chars()
    if kind == "iso_tz":
        s = (s.str.replace(r"Z$", "+00:00").str.replace(r"([+-]\d{2})$", "${1}:00")
             .str.replace(r"([+-]\d{2})(\d{2})$", "${1}:${2}").str.replace(" ", "T", literal=True))
        return s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC",
                                 time_unit="us")
    if kind == "iso":
        return s.str.replace(" ", "T", literal=True).str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    if kind == "date":
        return s.str.to_date("%Y-%m-%d", strict=False)
    if kind == "mdy_ampm":
        return s.str.to_datetime("%b %d, %Y %I:%M:%S %p", strict=False, time_unit="us")
    day = "%d/%m/%Y" if order == "dmy" else "%m/%d/%Y"
    if kind == "slash_time":
        return (s.str.replace(r"^(\S+ \d{1,2}:\d{2})$", "${1}:00")
                .str.to_datetime(day + " %H:%M:%S", strict=False, time_unit="us"))
    return s.str.to_date(day, strict=False)


def apply(frame: pl.LazyFrame, info: SurveyInfo, sample: pl.DataFrame) -> pl.LazyFrame:
    """Parse the recognised timestamp columns (those whose whole sample parses) and GPS parts."""
    exprs = []
    kept = []
    for ts in info.timestamps:
        expr = parse_expr(ts["column"], ts["kind"], ts["order"])
        check = sample.select(expr.alias("v"), pl.col(ts["column"]).alias("raw"))
        new_nulls = check.filter(pl.col("v").is_null() & pl.col("raw").str.strip_chars().ne("")).height
        ts["parsed"] = new_nulls == 0
        if ts["parsed"]:
            exprs.append(expr.alias(ts["column"]))
        kept.append(ts)
    info.timestamps = kept
    schema = sample.schema
    for g in info.gps:
        for part in ("latitude", "longitude", "altitude", "precision"):
            col = g.get(part)
            if col and schema.get(col) == pl.String:
                vals = sample[col].drop_nulls()
                if vals.cast(pl.Float64, strict=False).null_count() == 0:
                    exprs.append(pl.col(col).cast(pl.Float64, strict=False))
    return frame.with_columns(exprs) if exprs else frame
