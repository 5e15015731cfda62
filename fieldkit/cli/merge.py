"""The `fieldkit merge` command: annotated copies of a dataset into one file, or coders into one coder."""

from __future__ import annotations

import threading

import click

from fieldkit.cli.group import cli
from fieldkit.cli.output import echo


@cli.command("merge")
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="The merged Parquet file (or, with --models, the merged coder's folder).")
@click.option("--key", help="Column that names each record (default: the survey id, else the row's values).")
@click.option("--journal", "journals", multiple=True, type=click.Path(),
              help="A TUI annotation journal (.fieldkit-journal.jsonl) to merge as one more input; repeatable.")
@click.option("--models", is_flag=True,
              help="The inputs are coder folders (`fieldkit code --save-model`): average them into one coder.")
def merge_cmd(inputs, output, key, journals, models) -> None:
    """Merge annotated copies of one dataset (tags united, one winner per field, conflicts kept).

    With --models: average laptops' saved coders into one (FedAvg, weighted by labelled answers).
    """
    from fieldkit import pipelines
    from fieldkit.cli.progress import StderrProgress
    from fieldkit.errors import UsageError
    from fieldkit.progress import Reporter

    if models:
        if key or journals:
            raise UsageError("--models merges coders; --key and --journal are for Parquet files",
                             "run the two merges separately")
        from fieldkit.pipelines.federated import merge_models

        res = merge_models(inputs, output).outcome
        for line in res.summary_lines():
            echo(line)
        echo(f"wrote {res.output}")
        return
    if not inputs:
        raise UsageError("merge needs the Parquet files to merge", "fieldkit merge A.parquet B.parquet -o OUT.parquet")
    cancel = threading.Event()
    with StderrProgress() as progress:
        rep = Reporter("merge", callback=progress, cancel=cancel)
        try:
            res = pipelines.merge(inputs, output, key=key, journals=journals, reporter=rep).outcome
        except KeyboardInterrupt:
            cancel.set()
            raise
    for line in res.summary_lines():
        echo(line)
    echo(f"wrote {res.output}")
