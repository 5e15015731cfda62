"""The `fieldkit logs` command: templates per line, a digest, and a short summary."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from fieldkit.cli.engine import engine_context, engine_options
from fieldkit.cli.group import cli
from fieldkit.cli.output import echo


@cli.command("logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="Parquet file for the annotated lines (line_no, timestamp, level, header columns, message, "
                   "template_id, template, params).")
@click.option("--summary-out", type=click.Path(), help="Write the summary and digest as Markdown here.")
@click.option("--baseline", type=click.Path(),
              help="A previous `fieldkit logs` output or --templates-out table: report templates new since then.")
@click.option("--templates-out", type=click.Path(), help="Save the template table (Parquet) for a later --baseline.")
@click.option("--model-summary", is_flag=True,
              help="Also word the summary with the generative model (when prepared); the default is the digest facts.")
@click.option("--no-model", is_flag=True, hidden=True, help="Accepted for old scripts; the model is off by default.")
@click.option("--top", default=10, show_default=True, help="Rows per digest section.")
@click.option("--parts", is_flag=True,
              help="write OUTPUT as a folder of Parquet parts, one per batch of each file in file order "
                   "(not merged by time; written by the workers with --engine ray), plus manifest.json")
@engine_options
def logs_cmd(paths, output, summary_out, baseline, templates_out, model_summary, no_model, top, parts,
             engine, address) -> None:
    """Mine event templates in PATHS (log files or folders, merged by time) and summarize them."""
    with engine_context(engine, address):  # on Ray, pipelines.logs mines one shard per file on the workers
        _logs(paths, output, summary_out, baseline, templates_out, model_summary, no_model, top, parts)


def _logs(paths, output, summary_out, baseline, templates_out, model_summary, no_model, top, parts=False) -> None:
    if parts:
        from fieldkit.pipelines.parts import check_parts_output

        check_parts_output(output)
    else:
        from fieldkit.store import check_parquet_output

        check_parquet_output(output)
    from fieldkit import pipelines
    from fieldkit.analysis.logs import digest_markdown
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.errors import InputError
    from fieldkit.progress import Reporter

    from fieldkit.io.sniff import check_input_path, only_blank

    for p in paths:  # a FIFO, a device, a link loop or an unreachable file: one plain line
        if check_input_path(Path(p)) is not None and only_blank(Path(p)):
            raise InputError(f"{Path(p).name} has no log lines (only blank lines)",
                             "check that the log was written completely")
    cancel = threading.Event()
    with StderrProgress() as progress:
        rep = Reporter("logs", callback=progress, cancel=cancel)
        try:
            res = pipelines.logs(paths, output, baseline=baseline, summary_out=summary_out,
                                 templates_out=templates_out, use_model=model_summary and not no_model,
                                 reporter=rep, parts=parts).outcome
        except KeyboardInterrupt:
            cancel.set()
            raise
    echo(digest_markdown(res.digest, top=top))
    echo(f"## Summary ({res.summary_model})\n")
    echo(res.summary)
    echo("")
    where = f"{res.output} (a folder of parts)" if parts else res.output
    echo(f"wrote {where} ({res.digest.lines:,} lines, {res.templates.height:,} templates)"
               + (f", {summary_out}" if summary_out else "") + (f", {templates_out}" if templates_out else ""))
