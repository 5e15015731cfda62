"""Excel (.xlsx, .xlsm, .xls, .ods) via python-calamine: fast, pure Rust, no Office needed.

Cells arrive as Python values; each column takes one type when its non-empty cells agree
(bool, int, float, datetime, date) and falls back to text otherwise, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from fieldkit.errors import InputError, UsageError


@dataclass
class ExcelLoad:
    frame: pl.LazyFrame
    sheet: str
    sheets: list[str]
    empty_sheets: list[str]
    notes: list[str]


def _open(path: Path):
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except PermissionError as e:
        raise InputError(f"cannot read {path}: permission denied",
                         f"check the file's permissions (ls -l {path})") from e
    except Exception as e:  # calamine raises its own error types for broken zips/xml
        raise InputError(
            f"{path.name} is not a readable Excel workbook (corrupt or truncated): {_first(e)}",
            "open it in a spreadsheet program and save it again, or re-download it",
        ) from e


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__


def _rows(wb, name: str, path: Path) -> list[list[Any]]:
    try:
        return wb.get_sheet_by_name(name).to_python(skip_empty_area=True)
    except Exception as e:
        raise InputError(f"sheet {name!r} of {path.name} cannot be read: {_first(e)}",
                         "the workbook may be corrupt or truncated; save it again") from e


def _non_empty(rows: list[list[Any]]) -> bool:
    return any(any(v not in ("", None) for v in r) for r in rows)


def list_sheets(path: Path) -> list[str]:
    return list(_open(path).sheet_names)


def load_excel(path: Path, sheet: str | None = None) -> ExcelLoad:
    wb = _open(path)
    names = list(wb.sheet_names)
    if not names:
        raise InputError(f"{path.name} has no sheets", "check that the workbook was saved completely")
    notes: list[str] = []
    empty: list[str] = []
    if sheet is not None:
        if sheet not in names:
            lower = {n.lower(): n for n in names}
            if sheet.lower() in lower:
                sheet = lower[sheet.lower()]
            else:
                raise UsageError(
                    f"sheet {sheet!r} is not in {path.name}",
                    "its sheets are: " + ", ".join(repr(n) for n in names),
                )
        rows = _rows(wb, sheet, path)
        chosen = sheet
    else:
        chosen, rows = None, []
        for name in names:
            rows = _rows(wb, name, path)
            if _non_empty(rows):
                chosen = name
                break
            empty.append(name)
        if chosen is None:
            raise InputError(f"{path.name} has no data: all {len(names)} sheet(s) are empty",
                             "check that the workbook was saved completely")
        if empty:
            notes.append("skipped empty sheet(s) " + ", ".join(repr(n) for n in empty)
                         + f"; reading {chosen!r} (use --sheet to choose)")
    frame, more = _frame(rows)
    notes.extend(more)
    return ExcelLoad(frame.lazy(), chosen, names, empty, notes)


def _frame(rows: list[list[Any]]) -> tuple[pl.DataFrame, list[str]]:
    notes: list[str] = []
    # skip leading blank rows; the first non-blank row is the header
    start = 0
    while start < len(rows) and not any(v not in ("", None) for v in rows[start]):
        start += 1
    if start:
        notes.append(f"{start} blank row(s) before the header skipped")
    if start >= len(rows):
        return pl.DataFrame(), notes
    start, titles = _after_titles(rows, start)
    if titles:
        notes.append(f"{len(titles)} title row(s) above the table skipped ("
                     + "; ".join(repr(t[:60]) for t in titles[:2]) + ")")
    header_raw = rows[start]
    width = max(len(r) for r in rows[start:])
    header: list[str] = []
    seen: set[str] = set()
    for i in range(width):
        v = header_raw[i] if i < len(header_raw) else ""
        name = _header_text(v) or f"column_{i + 1}"
        base, k = name, 2
        while name in seen:
            name = f"{base}_{k}"
            k += 1
        if name != _header_text(v):
            notes.append(f"column {i + 1} header {_header_text(v)!r} renamed to {name!r} (empty or duplicate)")
        seen.add(name)
        header.append(name)
    body = rows[start + 1:]
    columns = {}
    for i, name in enumerate(header):
        values = [r[i] if i < len(r) else None for r in body]
        columns[name] = _series(name, values)
    return pl.DataFrame(columns), notes


MAX_TITLE_ROWS = 5


def _filled(row: list[Any]) -> int:
    return sum(v not in ("", None) for v in row)


def _after_titles(rows: list[list[Any]], start: int) -> tuple[int, list[str]]:
    """(the header row, the title rows above it): rows with one filled cell over a table of several columns.

    Why: a report sheet opens with a title in A1 ("Water point monitoring - March 2024") and a source line;
    read as the header, it named one column after the title and every value became text.
    """
    k, titles = start, []
    while k < len(rows) and len(titles) < MAX_TITLE_ROWS:
        f = _filled(rows[k])
        if f == 0:
            k += 1
            continue
        below = sorted(n for n in (_filled(r) for r in rows[k + 1:k + 51]) if n)
        if f != 1 or not below or below[len(below) // 2] < 2:
            break
        titles.append(next(_header_text(v) for v in rows[k] if v not in ("", None)))
        k += 1
    while k < len(rows) and not _filled(rows[k]):
        k += 1
    return (k, titles) if titles and k < len(rows) else (start, [])


def _header_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _cell_text(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _series(name: str, values: list[Any]) -> pl.Series:
    clean = [None if (v is None or (isinstance(v, str) and v == "")) else v for v in values]
    kinds = {type(v) for v in clean if v is not None}
    if not kinds:
        return pl.Series(name, clean, dtype=pl.String)
    if kinds == {bool}:
        return pl.Series(name, clean, dtype=pl.Boolean)
    if kinds <= {int, float}:
        if all(float(v).is_integer() and abs(v) < 2**53 for v in clean if v is not None):
            return pl.Series(name, [None if v is None else int(v) for v in clean], dtype=pl.Int64)
        return pl.Series(name, clean, dtype=pl.Float64)
    if kinds == {dt.datetime}:
        return pl.Series(name, clean, dtype=pl.Datetime("us"))
    if kinds == {dt.date}:
        return pl.Series(name, clean, dtype=pl.Date)
    if kinds == {dt.datetime, dt.date}:
        return pl.Series(name, [dt.datetime(v.year, v.month, v.day) if type(v) is dt.date else v
                                for v in clean], dtype=pl.Datetime("us"))
    return pl.Series(name, [None if v is None else _cell_text(v) for v in clean], dtype=pl.String)
