"""JSON (array of records), NDJSON, Parquet and Arrow IPC loaders, checked before scanning.

Parquet and Arrow are scanned lazily after their footer is read, so a truncated file is
reported at open time instead of halfway through a conversion.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

from fieldkit.errors import InputError

HINT_TRUNCATED = "the file looks incomplete; copy or download it again"
MAX_JSON_DEPTH = 64  # real exports nest a few levels; deeper is an attack or a broken file
INT64 = (-(2**63), 2**63 - 1)


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__


def load_parquet(path: Path) -> tuple[pl.LazyFrame, list[str]]:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except Exception as e:
        raise InputError(f"{path.name} is a truncated or corrupt Parquet file: {_first(e)}",
                         HINT_TRUNCATED) from e
    notes = []
    if meta.num_row_groups == 0:
        notes.append("the Parquet file has no row groups (no rows)")
    return pl.scan_parquet(path), notes


def load_arrow(path: Path) -> tuple[pl.LazyFrame, list[str]]:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    head = path.open("rb").read(8)
    if head.startswith(b"ARROW1"):
        try:
            with pa.memory_map(str(path)) as src:
                ipc.open_file(src).schema  # reads the footer: fails on truncation
        except Exception as e:
            raise InputError(f"{path.name} is a truncated or corrupt Arrow file: {_first(e)}",
                             HINT_TRUNCATED) from e
        return pl.scan_ipc(path), []
    try:  # the streaming IPC format has no footer; read it whole
        with open(path, "rb") as f:
            table = ipc.open_stream(f).read_all()
    except Exception as e:
        raise InputError(f"{path.name} is not a readable Arrow IPC file: {_first(e)}",
                         HINT_TRUNCATED) from e
    return pl.from_arrow(table).lazy(), ["Arrow IPC stream format (read whole)"]


def json_kind(head: bytes) -> str | None:
    """'json' for a top-level array/object, 'ndjson' for one object per line, else None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        # `[{`, `["`, `[1`, `[]`: JSON; `[Sun Dec 04 ...]` (an Apache log) is not
        nxt = text[1:].lstrip(b" \t\r\n")[:1]
        return "json" if nxt and nxt in b'{["]-0123456789' else None
    if text.startswith(b"{"):
        lines = [ln.strip() for ln in text.splitlines()[:20] if ln.strip()]
        if len(lines) >= 2 and all(ln.startswith(b"{") for ln in lines[:-1]):
            first = lines[0]
            try:
                json.loads(first)
                return "ndjson"
            except ValueError:
                return "json"
        return "json"
    return None


def load_ndjson(path: Path) -> tuple[pl.LazyFrame, list[str]]:
    try:
        lf = pl.scan_ndjson(path, infer_schema_length=10_000)
        lf.collect_schema()
        lf.head(100).collect()
    except Exception as e:
        raise InputError(f"{path.name} is not valid NDJSON (one JSON object per line): {_first(e)}",
                         "check the file is complete; each line must be one JSON object") from e
    return lf, []


def _check_json(doc, name: str) -> int:
    """Refuse nesting deeper than MAX_JSON_DEPTH; turn integers beyond int64 into text.

    Iterative, so a hostile file cannot exhaust the stack; returns how many integers changed.
    """
    big = 0
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputError(f"{name} is JSON nested deeper than fieldkit reads "
                             f"(more than {MAX_JSON_DEPTH} levels)", "flatten the records first")
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
            node, list) else ()
        for k, v in items:
            if isinstance(v, int) and not isinstance(v, bool) and not INT64[0] <= v <= INT64[1]:
                node[k] = str(v)
                big += 1
            elif isinstance(v, (dict, list)):
                stack.append((v, depth + 1))
    return big


def load_json(path: Path, encoding: str | None = None) -> tuple[pl.LazyFrame, list[str]]:
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode(encoding or "utf-8-sig"))
    except UnicodeError as e:
        raise InputError(f"{path.name} is not {encoding or 'UTF-8'} JSON",
                         "pass --encoding to say how it is encoded" if not encoding
                         else "leave out --encoding, or give the encoding it was saved in") from e
    except json.JSONDecodeError as e:
        what = "truncated" if e.pos >= len(raw.rstrip()) - 1 else "not valid"
        raise InputError(f"{path.name} is {what} JSON: {e.msg} at line {e.lineno} column {e.colno}",
                         "check the file is complete and is JSON") from e
    except RecursionError as e:
        raise InputError(f"{path.name} is JSON nested deeper than fieldkit reads "
                         f"(more than {MAX_JSON_DEPTH} levels)", "flatten the records first") from e
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"{path.name} is not JSON fieldkit can read: {_first(e)}",
                         "check the file is complete and is JSON") from e
    notes: list[str] = []
    big = _check_json(doc, path.name)
    if big:
        notes.append(f"{big:,} integer(s) too large for 64 bits kept as text")
    records = doc
    if isinstance(doc, dict):
        lists = [(k, v) for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            key, records = lists[0]
            notes.append(f"records taken from the top-level key {key!r}")
        elif lists and max(len(v) for _, v in lists) >= 2:
            # several lists of records (a bill of materials: components, dependencies): the one with most cells
            key, records = max(lists, key=lambda kv: sum(len(r) for r in kv[1] if isinstance(r, dict)))
            others = ", ".join(f"{k!r} ({len(v):,})" for k, v in lists if k != key)
            notes.append(f"records taken from the top-level key {key!r} ({len(records):,}); "
                         f"other lists of records: {others}")
        else:
            records = [doc]
            notes.append("a single JSON object: read as one row")
    if not isinstance(records, list):
        raise InputError(f"{path.name} holds a JSON {type(records).__name__}, not records",
                         "fieldkit reads a JSON array of objects, or NDJSON")
    if not records:
        raise InputError(f"{path.name} holds an empty JSON array (no records)",
                         "check that the export finished")
    if not all(isinstance(r, dict) for r in records):
        records = [{"value": r} for r in records]
        notes.append("the array holds plain values: read as one column 'value'")
    try:
        df = pl.DataFrame(records, infer_schema_length=None)
    except Exception:
        try:
            df = pl.read_json(io.BytesIO(json.dumps(records).encode()), infer_schema_length=None)
        except Exception as e:
            raise InputError(f"{path.name}: its records cannot be made into a table: {_first(e)}",
                             "check that each record has the same kind of value per field") from e
    return df.lazy(), notes
