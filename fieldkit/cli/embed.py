"""`fieldkit embed` and `fieldkit search`."""

from __future__ import annotations

import json

import click

from fieldkit.cli.engine import engine_context, engine_options
from fieldkit.cli.group import cli
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


@cli.command("embed")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column to embed")
@click.option("-o", "--out", "out", required=True, type=click.Path(), help="output .parquet")
@click.option("--model", "model_id", default=None, help="model id (default: by the answers' languages; use-multilingual when >10% are not English)")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 4096))
@click.option("--sheet", default=None, help="sheet of a workbook")
@click.option("--parts", "part_rows", type=click.IntRange(1), default=None, metavar="ROWS",
              help="write OUT as a folder of Parquet parts of ROWS rows each (same provenance in each)")
@engine_options
def embed_cmd(path: str, column: str, out: str, model_id: str | None, batch_size: int,
              sheet: str | None, part_rows: int | None, engine: str, address: str | None) -> None:
    """Add an `embedding` column (fixed-size list of float32) to every row of PATH."""
    from fieldkit import pipelines
    from fieldkit.store import check_parquet_output

    with engine_context(engine, address):
        if part_rows is None:
            check_parquet_output(out)  # before minutes of embedding, not after
        else:
            from fieldkit.pipelines.parts import check_parts_output

            check_parts_output(out)
        r = _embed(pipelines, path, column, out, model_id, batch_size, sheet, part_rows)
    e = r.outcome
    extra = f" ({e.stats.message()})" if e.stats.message() else ""
    where = f"{out} ({-(-e.rows // part_rows)} parts)" if part_rows else out
    echo(f"wrote {e.rows:,} rows with {e.dim}-d embeddings ({e.model}) to {where}{extra}")


def _embed(pipelines, path, column, out, model_id, batch_size, sheet, part_rows):
    with StderrProgress() as prog:
        ds = pipelines.dataset(path, sheet=sheet)
        if part_rows is not None:  # on Ray the workers write the parts
            from fieldkit.pipelines.embed import embed_parts

            return embed_parts(ds, column, out, part_rows, model_id=model_id, batch_size=batch_size,
                               reporter=Reporter("embed", callback=prog),
                               write_reporter=Reporter("write", callback=prog))
        from fieldkit.pipelines.embed import embed_file  # on Ray the driver writes while the workers embed

        return embed_file(ds, column, out, model_id=model_id, batch_size=batch_size,
                          reporter=Reporter("embed", callback=prog), write_reporter=Reporter("write", callback=prog))


@cli.command("search")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column to search")
@click.option("--query", "-q", required=True, help="what to look for, in your own words")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--model", "model_id", default=None, help="model id (default: by the answers' languages; use-multilingual when >10% are not English)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--sheet", default=None, help="sheet of a workbook")
def search_cmd(path: str, column: str, query: str, top: int, model_id: str | None,
               as_json: bool, sheet: str | None) -> None:
    """Rows of a text column closest in meaning to --query (embeddings cached after the first run)."""
    from fieldkit import pipelines

    with StderrProgress() as prog:
        r = pipelines.search(pipelines.dataset(path, sheet=sheet), column, query, top=top, model_id=model_id,
                             reporter=Reporter("embed", callback=prog))
    from fieldkit.cli.code import echo_model_notes

    echo_model_notes(r.step)  # stderr: which model the automatic choice took, and why
    hits = r.outcome
    if as_json:
        echo(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2), as_json=True)
        return
    if not hits:
        echo("no non-empty texts to search", err=True)
        return
    for h in hits:
        text = " ".join(h.text.split())
        echo(f"{h.score:.3f}  row {h.row}  {text[:200]}")
