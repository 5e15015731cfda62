"""Text-analysis commands: `fieldkit themes`, `fieldkit dupes`, `fieldkit summarize` (thin: parse, call, print)."""

from __future__ import annotations

from pathlib import Path

import click

from fieldkit.cli.engine import engine_context, engine_options
from fieldkit.cli.group import cli
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


def _short(text: str, width: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_output(out: str | None) -> None:
    if out:
        from fieldkit.store import check_parquet_output

        check_parquet_output(out)  # before minutes of embedding, not after


# ----------------------------------------------------------------------------- themes


def _print_themes(result, n_rows: int) -> None:
    echo(f"{len(result.themes) - 1} themes in {n_rows:,} rows "
               f"(k={result.k}, {result.chosen_by}"
               + (f", silhouette {result.silhouette[result.k]:.3f}" if result.silhouette else "")
               + ")")
    echo(f"{'id':>3}  {'rows':>6}  {'share':>6}  label")
    for t in result.themes:
        echo(f"{t.id:>3}  {t.size:>6,}  {t.share:>6.1%}  {t.label}")
        if t.keywords:
            echo(f"{'':>19}keywords: {', '.join(t.keywords)}")
        for e in t.examples:
            echo(f"{'':>19}\u201c{_short(e, 90)}\u201d")


def _print_breakdown(table, by: str) -> None:
    echo(f"\nshare of each theme by {by}:")
    cols = [c for c in table.columns if c not in ("group", "n")]
    head = f"{by[:24]:<24} {'rows':>6}  " + "  ".join(f"{c[:18]:>18}" for c in cols)
    echo(head)
    for row in table.iter_rows(named=True):
        cells = "  ".join(f"{row[c]:>18.1%}" for c in cols)
        echo(f"{str(row['group'])[:24]:<24} {row['n']:>6,}  {cells}")


@cli.command("themes")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column (free-text answers)")
@click.option("-o", "--out", "out", type=click.Path(), help="output .parquet (adds theme_id, theme_label, theme_score)")
@click.option("--k", "k", type=int, default=None, help="number of themes (default: chosen by silhouette, 3-10)")
@click.option("--by", "by", default=None, help="print each theme's share per value of this column")
@click.option("--model", "model_id", default=None, help="embedding model id (default: by the answers' languages; use-multilingual when >10% are not English)")
@click.option("--labels", type=click.Choice(["keywords", "generated", "auto"]), default="keywords",
              show_default=True,
              help="theme names: top keywords; `generated` asks the prepared generative model "
                   "(SmolLM2-135M names read worse than keywords, so it is opt-in); "
                   "`auto` = generated when prepared")
@click.option("--sheet", default=None, help="sheet of a workbook")
@engine_options
def themes_cmd(path, column, out, k, by, model_id, labels, sheet, engine, address) -> None:
    """Group free-text answers into themes with keywords, examples and a label."""
    from fieldkit import pipelines

    with engine_context(engine, address) as on:
        _check_output(out)
        job = pipelines.themes
        if on is not None:  # fit on a bounded sample, assign every row on the workers
            from fieldkit.scale.themes import themes as job
        with StderrProgress() as prog:
            ds = pipelines.dataset(path, sheet=sheet)
            r = job(ds, column, k=k, by=by, model_id=model_id, labels=labels,
                    reporter=Reporter("themes", callback=prog))
            if out:
                pipelines.save_annotated(ds, r.columns, [r.step], out)
    from fieldkit.cli.code import echo_model_notes

    echo_model_notes(r.step)
    _print_themes(r.outcome.result, r.outcome.rows)
    if r.outcome.breakdown is not None:
        _print_breakdown(r.outcome.breakdown, r.outcome.by)
    if out:
        echo(f"wrote {r.outcome.rows:,} rows with theme_id, theme_label, theme_score to {out}")


# ----------------------------------------------------------------------------- dupes


@cli.command("dupes")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column")
@click.option("-o", "--out", "out", type=click.Path(), help="output .parquet (adds dup_group, dup_size)")
@click.option("--threshold", type=float, default=None,
              help="cosine similarity for near duplicates (default 0.95; 1 = exact only)")
@click.option("--exact", "exact_only", is_flag=True, help="exact duplicates only (no model needed)")
@click.option("--model", "model_id", default=None, help="embedding model id (default: by the answers' languages; use-multilingual when >10% are not English)")
@click.option("--first-pass", "first_pass", default=None, metavar="STATIC_ID",
              help="a static model distilled from the model (fieldkit models distill): the model embeds only "
                   "the answers it finds a neighbour for")
@click.option("--sheet", default=None, help="sheet of a workbook")
@engine_options
def dupes_cmd(path, column, out, threshold, exact_only, model_id, first_pass, sheet, engine, address) -> None:
    """Mark duplicate and near-duplicate answers: one dup_group per set (null = unique)."""
    from fieldkit import pipelines

    with engine_context(engine, address), StderrProgress() as prog:
        _check_output(out)
        ds = pipelines.dataset(path, sheet=sheet)
        r = pipelines.dupes(ds, column, threshold=threshold, exact_only=exact_only, model_id=model_id,
                            reporter=Reporter("dupes", callback=prog), first_pass=first_pass)
        if out:
            pipelines.save_annotated(ds, r.columns, [r.step], out)
    from fieldkit.cli.code import echo_model_notes

    echo_model_notes(r.step)
    d = r.outcome
    how = "exact" if d.exact_only else f"exact + near (cosine >= {d.threshold})"
    echo(f"{d.result.groups:,} duplicate groups ({how}) covering {d.result.rows_in_groups:,} "
               f"of {len(d.texts):,} rows")
    if d.first_pass and d.first_pass.get("cached"):
        echo(f"first pass {d.first_pass['model']} not run: {d.model}'s vectors of this column were cached")
    elif d.first_pass:
        f = d.first_pass
        echo(f"first pass {f['model']} (cosine >= {f['cosine']}): {d.model} embedded {f['embedded']:,} of "
             f"{f['distinct']:,} distinct answers")
    for g, rows in d.top_groups(10):
        variants = list(dict.fromkeys(" ".join(str(d.texts[i]).split()) for i in rows))
        shown = " | ".join(_short(v, 50) for v in variants[:3])
        echo(f"  group {g:>5}: {len(rows):>5} rows  {shown}")
    if out:
        echo(f"wrote {len(d.texts):,} rows with dup_group, dup_size to {out}")


# ----------------------------------------------------------------------------- summarize


@cli.command("summarize")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", default=None, help="summarize this column (all rows) of a dataset")
@click.option("--by", "by", default=None, help="one summary per value of this column")
@click.option("--mode", type=click.Choice(["auto", "extractive", "abstractive", "hybrid"]),
              default="auto", show_default=True,
              help="auto = extractive (measured best on CNN/DailyMail, see bench/bench_summarize.py)")
@click.option("--sentences", "-n", "n", type=click.IntRange(1, 50), default=3, show_default=True,
              help="sentences (or answers) in each summary; a report gets n-1 to n+1 sentences, about n x 23 words")
@click.option("-o", "--out", "out", type=click.Path(), default=None,
              help="write to .parquet (group, n_rows, summary, mode, model) or a text file")
@click.option("--sheet", default=None, help="sheet of a workbook")
def summarize_cmd(path, column, by, mode, n, out, sheet) -> None:
    """Summarize a text or Markdown file, a column of answers, or a column per group."""
    from fieldkit import pipelines

    stream = mode in ("abstractive", "hybrid") and out is None and by is None
    on_token = (lambda t: echo(t, nl=False)) if stream else None
    with StderrProgress() as prog:
        data = pipelines.dataset(path, sheet=sheet) if column is not None else path
        r = pipelines.summarize(data, column, by=by, mode=mode, sentences=n, sheet=sheet,
                                reporter=Reporter("summarize", callback=prog), on_token=on_token)
    groups = r.outcome.groups
    if stream:
        echo()
    elif not out:
        for g in groups:
            if by:
                echo(f"## {by} = {g.group} ({g.n_rows:,} rows)")
            echo(g.summary.text if g.summary.text else "(nothing to summarize)")
            if by:
                echo()
    for g in groups:
        for note in g.summary.notes:
            echo(f"note: {note}", err=True)
    if out:
        _write_summaries(r, data, out)
        echo(f"wrote {len(groups)} summar{'y' if len(groups) == 1 else 'ies'} to {out}")


def _write_summaries(r, data, out: str) -> None:
    """Parquet (one row per group, with provenance) or a Markdown/text file."""
    from fieldkit import files, pipelines
    from fieldkit.io import Dataset

    target = Path(out)
    if target.suffix.lower() != ".parquet":
        files.write_text_atomic(target, r.outcome.markdown())
        return
    ds = data if isinstance(data, Dataset) else None
    if ds is None:  # a text document: its own source facts
        import polars as pl

        ds = Dataset(Path(data), "text", pl.LazyFrame())
    pipelines.save_annotated(ds, {}, [r.step], target, table=r.outcome.table())
