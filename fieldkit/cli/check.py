"""Survey commands: check (high-frequency checks) and clean (apply a cleaning log)."""

from __future__ import annotations

import sys

import click

from fieldkit.cli import cli
from fieldkit.display import cell_width, clip, display_text, escape_controls


def safe(text) -> str:
    """Data for the terminal: control and bidi-override characters shown as escapes."""
    return escape_controls("" if text is None else str(text))


def _cell(text, width: int) -> str:
    """One table cell: cut to `width` cells; right-to-left text in visual order on a terminal only
    (a pipe or file keeps logical order, which is what other programs read)."""
    text = "" if text is None else str(text)
    if sys.stdout.isatty():
        return display_text(text, width)
    return clip(escape_controls(text), width)


def _table(rows: list[dict], cols: list[str], indent: str = "  ") -> None:
    if not rows:
        return
    cells = [[_cell(r.get(c), 40) for c in cols] for r in rows]
    widths = [max(cell_width(c), *(cell_width(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return indent + "  ".join(v + " " * (w - cell_width(v)) for v, w in zip(values, widths)).rstrip()

    click.echo(line(cols))
    for row in cells:
        click.echo(line(row))


@cli.command("check")
@click.argument("path", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Findings .parquet file.")
@click.option("--form", type=click.Path(), help="The XLSForm (.xlsx) the data was collected with.")
@click.option("--lang", help="Form language for labels and messages (e.g. English, ar).")
@click.option("--config", type=click.Path(), help="CHECKS.toml: switch checks, set thresholds.")
@click.option("--sheet", help="Excel sheet to read (default: the first non-empty one).")
@click.option("--top", type=click.IntRange(0, 1000), default=10, help="Questions to list by findings.")
def check_cmd(path: str, output: str, form: str | None, lang: str | None, config: str | None,
              sheet: str | None, top: int) -> None:
    """High-frequency checks on a survey export: one row per finding in OUTPUT."""
    import polars as pl

    from fieldkit.cli.progress import StderrProgress
    from fieldkit.io import load_dataset
    from fieldkit.pipelines.check import check, save_findings
    from fieldkit.progress import Reporter
    from fieldkit.store import check_parquet_output

    check_parquet_output(output)
    with StderrProgress() as prog:
        reporter = Reporter("checking", callback=prog)
        ds = load_dataset(path, sheet=sheet, reporter=reporter)
        job = check(ds, form=form, config=config, lang=lang, reporter=reporter)
        out = save_findings(job, ds, output)
    res, roles = job.result, job.result.roles
    f = res.findings
    what = ", ".join(f"{k} {safe(roles[k])}" for k in ("key", "enumerator", "start", "end")
                     if roles.get(k))
    click.echo(f"checked {roles['rows']:,} submissions of {safe(ds.path.name)} ({what}; "
               f"{roles['questions']} questions)")
    if form:
        lang_name = job.step["parameters"].get("language")
        click.echo(f"form: {safe(form)}, labels in {safe(lang_name)}")
    click.echo(f"\nfindings by check ({f.height:,}):")
    _table(res.by_check.to_dicts(), ["check", "severity", "findings", "submissions", "columns"])
    if res.by_enumerator.height:
        cols = [c for c in res.by_enumerator.columns if c != "enumerator"]
        click.echo(f"\nfindings by enumerator ({safe(roles['enumerator'])}):")
        _table(res.by_enumerator.to_dicts(), ["enumerator", *cols])
    if top and f.height:
        labels = _labels(form, lang, ds.columns) if form else {}
        per_q = (f.filter(pl.col("column") != "").group_by("column")
                 .agg(pl.len().alias("findings"), pl.col("check").unique().sort().str.join(", ")
                      .alias("checks"))
                 .sort("findings", "column", descending=[True, False]).head(top))
        click.echo("\nquestions with the most findings:")
        rows = [{**r, "label": labels.get(r["column"], "")} for r in per_q.to_dicts()]
        _table(rows, ["column", "findings", "checks", "label"])
    groups = roles.get("other_groups")
    if groups:
        click.echo(f"\n'other' answers to recode: {groups} groups (one decision each)")
    click.echo(f"\nwrote {out} ({f.height:,} findings)")
    for note in res.skipped[:20]:
        click.echo(f"note: skipped {safe(note)}", err=True)
    if len(res.skipped) > 20:
        click.echo(f"note: ... {len(res.skipped) - 20} more skipped rules", err=True)


def _labels(form: str, lang: str | None, columns: list[str]) -> dict[str, str]:
    from fieldkit.io.xlsform import header_labels, match_columns, read_form

    frm = read_form(form)
    return header_labels(frm, match_columns(frm, columns), lang)


@cli.command("clean")
@click.argument("path", type=click.Path())
@click.option("--log", "log", required=True, type=click.Path(),
              help="Cleaning log CSV: uuid, question, old_value, new_value, reason, who, when.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Clean .parquet file.")
@click.option("--key", help="Column holding the submission id (default: _uuid/X_uuid/instanceID/KEY).")
@click.option("--sheet", help="Excel sheet to read (default: the first non-empty one).")
@click.option("--skip-mismatched", is_flag=True,
              help="Write the clean file even when some log rows are refused (they are listed).")
def clean_cmd(path: str, log: str, output: str, key: str | None, sheet: str | None,
              skip_mismatched: bool) -> None:
    """Apply a cleaning log; rows whose old_value no longer matches the data are refused."""
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.errors import InputError
    from fieldkit.io import load_dataset
    from fieldkit.pipelines.clean import clean, save_clean
    from fieldkit.progress import Reporter
    from fieldkit.store import check_parquet_output

    check_parquet_output(output)
    with StderrProgress() as prog:
        reporter = Reporter("cleaning", callback=prog)
        ds = load_dataset(path, sheet=sheet, reporter=reporter)
        job = clean(ds, log=log, key=key, reporter=reporter)
        refused = job.result.refused
        for r in refused.head(50).iter_rows(named=True):
            click.echo(f"refused: log line {r['log_row']}: {safe(r['uuid'])} {safe(r['question'])}: "
                       f"{safe(r['problem'])}", err=True)
        if refused.height > 50:
            click.echo(f"refused: ... {refused.height - 50} more", err=True)
        if refused.height and not skip_mismatched:
            raise InputError(f"{refused.height} of {job.step['parameters']['entries']} cleaning-log "
                             f"rows refused; nothing was written",
                             "fix those rows (re-check old_value against the data), or apply the "
                             "rest with --skip-mismatched")
        out = save_clean(job, ds, output, reporter=reporter if prog.enabled else None)
    p = job.step["parameters"]
    click.echo(f"applied {p['applied']:,} of {p['entries']:,} changes ({p['refused']:,} refused) "
               f"to {safe(ds.path.name)}; wrote {out}")
