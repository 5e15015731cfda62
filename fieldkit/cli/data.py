"""Data commands: open, inspect, convert."""

from __future__ import annotations

import click

from fieldkit.cli.engine import engine_context, engine_options
from fieldkit.cli.group import cli
from fieldkit.cli.output import echo


def open_tui(path: str | None, form: str | None = None, lang: str | None = None,
             config: str | None = None) -> None:
    """Start the terminal interface (imports textual only now)."""
    from fieldkit.tui.app import run_app

    run_app(path, form=form, lang=lang, checks=config)


@cli.command("open")
@click.argument("path", required=False, type=click.Path())
@click.option("--form", type=click.Path(), help="The XLSForm (.xlsx): labels in headers and cells (L switches).")
@click.option("--lang", help="Form language shown first (e.g. English, ar).")
@click.option("--config", type=click.Path(), help="CHECKS.toml for the findings filter (!), as for check.")
def open_cmd(path: str | None, form: str | None, lang: str | None, config: str | None) -> None:
    """Open PATH (a file or folder) in the terminal interface, or a file browser."""
    from fieldkit.errors import UsageError

    # a bad form or config is one error line (exit 2) before the screen opens
    if (lang or form) and not path:
        raise UsageError("--form needs a file to open", "fieldkit open DATA.xlsx --form FORM.xlsx")
    if lang and not form:
        raise UsageError("--lang needs --form", "give the XLSForm with --form FORM.xlsx")
    if form:
        from fieldkit.io.xlsform import read_form

        read_form(form).language(lang)
    if config:
        from fieldkit.analysis.checks_config import load_config

        load_config(config)
    open_tui(path, form, lang, config)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _short_dtype(dtype: str) -> str:
    """`Datetime(time_unit='us', time_zone='UTC')` -> `Datetime[us, UTC]` for the table."""
    import re

    m = re.fullmatch(r"Datetime\(time_unit='(\w+)', time_zone=(?:'([^']+)'|None)\)", dtype)
    if m:
        return f"Datetime[{m.group(1)}" + (f", {m.group(2)}]" if m.group(2) else "]")
    return dtype


def _print_inspect(info: dict) -> None:
    echo(f"path:      {info['path']}")
    if info["format"] == "folder":
        echo(f"format:    folder ({len(info['datasets'])} datasets, {_size(info['size_bytes'])})")
        width = max([len(d["name"]) for d in info["datasets"]] + [4])
        for d in info["datasets"]:
            echo(f"  {d['name']:<{width}}  {d['format']:<12} {_size(d['size_bytes']):>10}")
        for note in info["notes"]:
            echo(f"note:      {note}")
        return
    fmt = info["format"] + (f" ({info['compression']})" if info.get("compression") else "")
    echo(f"format:    {fmt}")
    if info.get("encoding"):
        how = info.get("encoding_detected_by")
        echo(f"encoding:  {info['encoding']}" + (f" (by {how})" if how else ""))
    if info.get("delimiter"):
        extra = f", newlines {info['newline']}" if info.get("newline") else ""
        extra += ", no quoting" if info.get("quoting") == "none" else ""
        echo(f"delimiter: {info['delimiter']!r}{extra}")
    if info.get("sheets"):
        echo(f"sheets:    {', '.join(info['sheets'])} (reading {info['sheet']!r})")
    echo(f"rows:      {info['rows']:,}")
    echo(f"columns:   {len(info['columns'])}" + ("" if info["nulls_exact"] else
                                                  " (null counts from the first rows)"))
    cols = info["columns"]
    width = min(48, max([len(c["name"]) for c in cols] + [4]))
    for c in cols:
        name = c["name"] if len(c["name"]) <= width else c["name"][: width - 1] + "…"
        echo(f"  {name:<{width}}  {_short_dtype(c['dtype']):<18} nulls {c['nulls']:,}")
    for note in info["notes"]:
        echo(f"note:      {note}")
    s = info.get("survey")
    if s:
        echo(f"survey:    looks like a {s['tool']} export")
        if s["metadata"]:
            echo(f"  metadata columns: {', '.join(s['metadata'])}")
        if s["groups"]:
            groups = ", ".join(f"{g} ({n})" for g, n in list(s["groups"].items())[:8])
            echo(f"  groups (separator {s['group_separator']!r}): {groups}")
        for sm in s["select_multiple"][:10]:
            echo(f"  select_multiple: {sm['column'] or '(no summary column)'}: "
                 f"{len(sm['options'])} option columns")
        if len(s["select_multiple"]) > 10:
            echo(f"  select_multiple: ... {len(s['select_multiple']) - 10} more")
        for g in s["gps"]:
            parts = [g[k] for k in ("latitude", "longitude", "altitude", "precision") if g.get(k)]
            echo(f"  gps: {g['combined'] or g['base']}: {', '.join(parts)}")
        for t in s["timestamps"]:
            state = "parsed" if t.get("parsed") else "left as text (some cells do not parse)"
            echo(f"  timestamp: {t['column']} ({t['form']}): {state}")


def _form_info(form: str | None, lang: str | None, info: dict) -> dict:
    """What the XLSForm says about these columns (languages, matches, labels in `lang`)."""
    from fieldkit.errors import UsageError
    from fieldkit.io.xlsform import describe, match_columns, read_form

    if not form:
        raise UsageError("--lang needs --form", "give the XLSForm with --form FORM.xlsx")
    frm = read_form(form)
    return describe(frm, match_columns(frm, [c["name"] for c in info.get("columns", [])]), lang)


def _print_form(f: dict) -> None:
    import sys

    from fieldkit.display import clip, display_text, escape_controls

    def show(text: str, width: int) -> str:
        # right-to-left labels in visual order on a terminal; logical order into a pipe
        text = text.replace("\n", " ")
        return display_text(text, width) if sys.stdout.isatty() else clip(escape_controls(text), width)

    echo = click.echo
    echo(f"form:      {escape_controls(f['title'])} ({f['questions']} questions, {f['groups']} groups"
         + (f", repeats {', '.join(f['repeats'])}" if f["repeats"] else "") + ")")
    echo(f"  languages: {', '.join(f['languages']) or '(one, unnamed)'}; labels in {f['language']}")
    echo(f"  {f['matched']} questions matched to columns, {f['select_multiple_matched']} "
         "select_multiple with their option columns")
    if f["missing"]:
        shown = ", ".join(f["missing"][:12]) + (f" (+{len(f['missing']) - 12})" if len(f["missing"]) > 12 else "")
        echo(f"  not in the data: {escape_controls(shown)}")
    for col, label in f["labels"].items():
        echo(f"  {clip(escape_controls(col), 40):<40}  {show(label, 80)}")


@cli.command("inspect")
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--sheet", help="Excel sheet to read (default: the first non-empty one).")
@click.option("--encoding", help="Text encoding, overriding detection (e.g. gb18030, cp1252).")
@click.option("--head", "head", type=click.IntRange(0, 1000), default=0,
              help="Also show the first N rows.")
@click.option("--form", type=click.Path(), help="The XLSForm (.xlsx): question labels, languages.")
@click.option("--lang", help="Form language for the labels (e.g. English, ar).")
def inspect_cmd(path: str, as_json: bool, sheet: str | None, encoding: str | None,
                head: int, form: str | None, lang: str | None) -> None:
    """Show format, encoding, delimiter, sheets, rows and columns of PATH (file or folder)."""
    import json

    from fieldkit.cli.progress import StderrProgress
    from fieldkit.io import inspect_dataset, load_dataset
    from fieldkit.progress import Reporter

    with StderrProgress() as prog:
        ds = load_dataset(path, sheet=sheet, encoding=encoding,
                          reporter=Reporter("reading", callback=prog))
        info = inspect_dataset(ds, preview_rows=head if as_json else 0)
        if form or lang:
            info["form"] = _form_info(form, lang, info)
    if as_json:
        echo(json.dumps(info, ensure_ascii=False, indent=2, default=str), as_json=True)
    else:
        _print_inspect(info)
        if info.get("form"):
            _print_form(info["form"])
        if head and ds.format != "folder":
            # one record per block: survey exports are far too wide for a table
            for i, row in enumerate(ds.frame.head(head).collect().iter_rows(named=True), 1):
                echo(f"row {i}:")
                width = min(40, max(len(k) for k in row))
                for k, v in row.items():
                    text = "null" if v is None else str(v).replace("\n", "\\n")
                    text = text if len(text) <= 100 else text[:99] + "…"
                    echo(f"  {k[:width]:<{width}}  {text}")


@cli.command("convert")
@click.argument("path", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Output .parquet file.")
@click.option("--sheet", help="Excel sheet to read (default: the first non-empty one).")
@click.option("--encoding", help="Text encoding, overriding detection (e.g. gb18030, cp1252).")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: when stderr is a terminal). Progress writes "
                   "batch by batch, so Ctrl+C stops at once; without it Polars streams the whole "
                   "file in one go, which is faster.")
@click.option("--form", type=click.Path(), help="The XLSForm (.xlsx), for --labels.")
@click.option("--lang", help="Form language for --labels (e.g. English, ar).")
@click.option("--labels", is_flag=True, help="Write choice labels instead of codes (needs --form).")
@engine_options
def convert_cmd(path: str, output: str, sheet: str | None, encoding: str | None,
                progress: bool | None, form: str | None, lang: str | None, labels: bool,
                engine: str, address: str | None) -> None:
    """Load PATH and save it as Parquet (atomic write, provenance in the file metadata).

    With --engine ray, PATH may be a folder: each file becomes OUTPUT/<name>.parquet on a Ray task.
    """
    import polars as pl

    from fieldkit import pipelines
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.progress import Reporter
    from fieldkit.store import check_parquet_output

    if engine == "ray":
        _convert_on_ray(path, output, engine, address, sheet=sheet, encoding=encoding, form=form,
                        lang=lang, labels=labels)
        return
    engine_context(engine, address)
    check_parquet_output(output)
    with StderrProgress(progress) as prog:
        reporter = Reporter("converting", callback=prog) if prog.enabled else None
        if (labels or lang) and not form:
            from fieldkit.errors import UsageError

            raise UsageError("--labels and --lang need --form", "give the XLSForm with --form FORM.xlsx")
        done = pipelines.convert(path, output, sheet=sheet, encoding=encoding, reporter=reporter,
                                 form=form, lang=lang, labels=labels).outcome
    out, ds = done.output, done.dataset
    rows = pl.scan_parquet(out).select(pl.len()).collect().item()
    ncols = len(pl.scan_parquet(out).collect_schema())
    what = ds.format + (f", sheet {ds.sheet!r}" if ds.sheet else "")
    echo(f"wrote {out} ({rows:,} rows, {ncols} columns) from {ds.path.name} ({what})")
    for note in ds.notes:
        echo(f"note: {note}", err=True)


def _convert_on_ray(path: str, output: str, engine: str, address: str | None, **kwargs) -> None:
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.progress import Reporter

    if (kwargs["labels"] or kwargs["lang"]) and not kwargs["form"]:
        from fieldkit.errors import UsageError

        raise UsageError("--labels and --lang need --form", "give the XLSForm with --form FORM.xlsx")
    with engine_context(engine, address), StderrProgress() as prog:
        from fieldkit.scale.convert import convert

        done = convert(path, output, reporter=Reporter("converting", callback=prog), **kwargs)
    for out, rows, ncols, fmt in done.written:
        echo(f"wrote {out} ({rows:,} rows, {ncols} columns, from {fmt})")
    for name, why in done.skipped:
        echo(f"note: skipped {name}: {why}", err=True)
