"""`fieldkit embed` and `fieldkit search`."""

from __future__ import annotations

import json

import click

from fieldkit.cli.group import cli
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


@cli.command("embed")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column to embed")
@click.option("-o", "--out", "out", required=True, type=click.Path(), help="output .parquet")
@click.option("--model", "model_id", default=None, help="model id (default all-minilm-l6-v2)")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 4096))
@click.option("--sheet", default=None, help="sheet of a workbook")
def embed_cmd(path: str, column: str, out: str, model_id: str | None, batch_size: int,
              sheet: str | None) -> None:
    """Add an `embedding` column (fixed-size list of float32) to every row of PATH."""
    from fieldkit.store import check_parquet_output

    check_parquet_output(out)  # before minutes of embedding, not after
    from fieldkit.analysis.embeddings import embed_file
    from fieldkit.io import load_dataset

    with StderrProgress() as prog:
        ds = load_dataset(path, sheet=sheet)
        result = embed_file(ds, column, out, model_id=model_id, batch_size=batch_size,
                            reporter=Reporter("embed", callback=prog))
    extra = f" ({result.stats.message()})" if result.stats.message() else ""
    echo(f"wrote {result.rows:,} rows with {result.dim}-d embeddings ({result.model_id}) "
               f"to {out}{extra}")


@cli.command("search")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column to search")
@click.option("--query", "-q", required=True, help="what to look for, in your own words")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--model", "model_id", default=None, help="model id (default all-minilm-l6-v2)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--sheet", default=None, help="sheet of a workbook")
def search_cmd(path: str, column: str, query: str, top: int, model_id: str | None,
               as_json: bool, sheet: str | None) -> None:
    """Rows of a text column closest in meaning to --query (embeddings cached after the first run)."""
    from fieldkit.analysis.search import search
    from fieldkit.io import load_dataset

    with StderrProgress() as prog:
        ds = load_dataset(path, sheet=sheet)
        hits = search(ds, column, query, top=top, model_id=model_id,
                      reporter=Reporter("embed", callback=prog))
    if as_json:
        echo(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2), as_json=True)
        return
    if not hits:
        echo("no non-empty texts to search", err=True)
        return
    for h in hits:
        text = " ".join(h.text.split())
        echo(f"{h.score:.3f}  row {h.row}  {text[:200]}")
