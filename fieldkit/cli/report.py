"""`fieldkit report`: fieldkit outputs -> one self-contained HTML report (and a PDF)."""

from __future__ import annotations

import click

from fieldkit.cli import cli
from fieldkit.cli.output import safe


@cli.command("report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="The report .html file.")
@click.option("--title", help="The report's title (default: 'fieldkit report').")
@click.option("--by", help="Group column: theme and code shares per group (e.g. district).")
@click.option("--pdf", is_flag=True, help="Also write the report as a PDF beside the HTML.")
@click.option("--lang", help="The report's language: en, fr or ar (and the form's labels).")
@click.option("--form", type=click.Path(), help="The XLSForm: question and choice labels.")
@click.option("--baseline", type=click.Path(),
              help="Earlier logs output or template table: new templates are shown.")
def report_cmd(inputs, output, title, by, pdf, lang, form, baseline) -> None:
    """One report with charts, tables and provenance from themes, code, dupes, check or logs outputs."""
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.pipelines.report import report
    from fieldkit.progress import Reporter

    with StderrProgress() as prog:
        res = report(list(inputs), output, title=title, by=by, lang=lang, pdf=pdf, form=form,
                     baseline=baseline, reporter=Reporter("report", callback=prog))
    out = res.outcome
    for sec, src in zip(out.report.sections, out.sources):
        summary = "; ".join(sec.summary)
        click.echo(f"{safe(sec.kind):8} {safe(src)}: {len(sec.charts)} charts, {len(sec.tables)} tables"
                   + (f" ({safe(summary)})" if summary else ""))
    for note in out.report.notes:
        click.echo(f"note: {safe(note)}", err=True)
    click.echo(f"wrote {safe(out.html)} ({len(out.report.charts)} charts, "
               f"{res.step['seconds']:.1f}s)")
    if out.pdf is not None:
        click.echo(f"wrote {safe(out.pdf)}")
