"""Text-analysis commands: `fieldkit themes`, `fieldkit dupes`, `fieldkit summarize`."""

from __future__ import annotations

import math
from pathlib import Path

import click

from fieldkit.cli.group import cli
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.errors import InputError, UsageError
from fieldkit.progress import Reporter

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}


def _short(text: str, width: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _require_some_text(texts: list, col: str, ds) -> None:
    """An all-null or all-blank column has nothing to group: say so instead of failing later."""
    if not any(t is not None and str(t).strip() for t in texts):
        raise UsageError(f"column {col!r} of {ds.path.name} has no text "
                         f"(all {len(texts):,} cells are empty)",
                         f"give a column with answers; `fieldkit inspect {ds.path}` shows null counts")


def _with_columns(ds, columns: dict, drop: list[str]):
    """Every input column plus the annotation columns (replacing earlier ones of the same name)."""
    import polars as pl

    frame = ds.frame
    stale = [c for c in drop if c in ds.columns]
    if stale:
        frame = frame.drop(stale)
    df = frame.collect()
    return df.with_columns([pl.Series(name, values) for name, values in columns.items()])


def _write(df, out: str, ds, step: dict) -> None:
    from fieldkit.store import make_provenance, read_provenance, write_frame

    previous = read_provenance(ds.path) if ds.format == "parquet" else None
    write_frame(df, out, make_provenance(ds.source_info(), [step], previous))


def _model_step(model_id: str | None) -> dict:
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder(model_id)
    return {"model": emb.model_id, "model_sha256": emb.sha256}


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
@click.option("--model", "model_id", default=None, help="embedding model id (default all-minilm-l6-v2)")
@click.option("--labels", type=click.Choice(["keywords", "generated", "auto"]), default="keywords",
              show_default=True,
              help="theme names: top keywords; `generated` asks the prepared generative model "
                   "(SmolLM2-135M names read worse than keywords, so it is opt-in); "
                   "`auto` = generated when prepared")
@click.option("--sheet", default=None, help="sheet of a workbook")
def themes_cmd(path, column, out, k, by, model_id, labels, sheet) -> None:
    """Group free-text answers into themes with keywords, examples and a label."""
    if out:
        from fieldkit.store import check_parquet_output

        check_parquet_output(out)  # before minutes of embedding, not after
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.themes import OTHER_ID, find_themes
    from fieldkit.io import load_dataset

    if k is not None and k < 1:
        raise UsageError("--k must be at least 1", "for example --k 6, or leave it out")
    with StderrProgress() as prog:
        ds = load_dataset(path, sheet=sheet)
        col = ds.require_text_column(column)
        by_col = ds.require_column(by) if by else None
        texts = ds.text_column(col).to_list()
        _require_some_text(texts, col, ds)
        vectors = embed_column(ds, col, model_id, reporter=Reporter("embed", callback=prog))
        result = find_themes(texts, vectors, k=k, reporter=Reporter("themes", callback=prog))
        if labels != "keywords":
            gen = _generator_for_labels(required=labels == "generated")
            if gen is not None:
                from fieldkit.analysis.themes import label_with_generator

                label_with_generator(result, gen, Reporter("name themes", callback=prog))
        if out:
            score = result.theme_score.astype("float64")
            df = _with_columns(
                ds,
                {
                    "theme_id": result.theme_id,
                    "theme_label": result.row_labels(),
                    "theme_score": [None if math.isnan(s) else round(float(s), 4) for s in score],
                },
                ["theme_id", "theme_label", "theme_score"],
            )
            step = {"operation": "themes", "column": col, "k": result.k,
                    "chosen_by": result.chosen_by, "other_id": OTHER_ID, **_model_step(model_id)}
            _write(df, out, ds, step)
    _print_themes(result, len(texts))
    if by_col:
        groups = ds.frame.select(by_col).collect().to_series().to_list()
        _print_breakdown(result.breakdown(groups), by_col)
    if out:
        echo(f"wrote {len(texts):,} rows with theme_id, theme_label, theme_score to {out}")


def _generator_for_labels(required: bool):
    from fieldkit.analysis.summarize import _load_generator
    from fieldkit.errors import ModelError

    try:
        return _load_generator()
    except ModelError:
        if required:
            raise
        return None


# ----------------------------------------------------------------------------- dupes


@cli.command("dupes")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column")
@click.option("-o", "--out", "out", type=click.Path(), help="output .parquet (adds dup_group, dup_size)")
@click.option("--threshold", type=float, default=None,
              help="cosine similarity for near duplicates (default 0.95; 1 = exact only)")
@click.option("--exact", "exact_only", is_flag=True, help="exact duplicates only (no model needed)")
@click.option("--model", "model_id", default=None, help="embedding model id (default all-minilm-l6-v2)")
@click.option("--sheet", default=None, help="sheet of a workbook")
def dupes_cmd(path, column, out, threshold, exact_only, model_id, sheet) -> None:
    """Mark duplicate and near-duplicate answers: one dup_group per set (null = unique)."""
    if out:
        from fieldkit.store import check_parquet_output

        check_parquet_output(out)
    from fieldkit.analysis.dupes import DEFAULT_THRESHOLD, NO_GROUP, find_duplicates
    from fieldkit.io import load_dataset

    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} is outside (0, 1]",
                         f"cosine similarity: try {DEFAULT_THRESHOLD} (higher = stricter)")
    exact_only = exact_only or threshold >= 1.0
    with StderrProgress() as prog:
        ds = load_dataset(path, sheet=sheet)
        col = ds.require_text_column(column)
        texts = ds.text_column(col).to_list()
        _require_some_text(texts, col, ds)
        vectors = None
        if not exact_only:
            from fieldkit.analysis.embeddings import embed_column

            vectors = embed_column(ds, col, model_id, reporter=Reporter("embed", callback=prog))
        result = find_duplicates(texts, vectors, threshold,
                                 reporter=Reporter("duplicates", callback=prog))
        if out:
            groups = [None if g == NO_GROUP else int(g) for g in result.dup_group.tolist()]
            sizes = [None if g == NO_GROUP else int(s)
                     for g, s in zip(result.dup_group.tolist(), result.dup_size.tolist())]
            df = _with_columns(ds, {"dup_group": groups, "dup_size": sizes}, ["dup_group", "dup_size"])
            step = {"operation": "dupes", "column": col, "threshold": threshold,
                    "exact_only": exact_only, **({} if exact_only else _model_step(model_id))}
            _write(df, out, ds, step)
    how = "exact" if exact_only else f"exact + near (cosine >= {threshold})"
    echo(f"{result.groups:,} duplicate groups ({how}) covering {result.rows_in_groups:,} "
               f"of {len(texts):,} rows")
    _print_top_groups(texts, result)
    if out:
        echo(f"wrote {len(texts):,} rows with dup_group, dup_size to {out}")


def _print_top_groups(texts, result, top: int = 10) -> None:
    from collections import defaultdict

    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(result.dup_group.tolist()):
        if g > 0:
            members[g].append(i)
    for g, rows in sorted(members.items(), key=lambda kv: -len(kv[1]))[:top]:
        variants = list(dict.fromkeys(" ".join(str(texts[r]).split()) for r in rows))
        shown = " | ".join(_short(v, 50) for v in variants[:3])
        echo(f"  group {g:>5}: {len(rows):>5} rows  {shown}")


# ----------------------------------------------------------------------------- summarize


def _read_text_file(path: Path) -> str:
    from fieldkit.io.sniff import check_input_path

    if check_input_path(path) is None:
        raise InputError(f"{path} is a folder", "give a text or Markdown file, or a dataset with --column")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path.name} looks like a binary file, not text",
                         "give a .txt or .md file, or a dataset with --column")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is None:
            raise InputError(f"cannot tell the text encoding of {path.name}",
                             "save it as UTF-8 and try again") from None
        return str(best)


@cli.command("summarize")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", default=None, help="summarize this column (all rows) of a dataset")
@click.option("--by", "by", default=None, help="one summary per value of this column")
@click.option("--mode", type=click.Choice(["auto", "extractive", "abstractive", "hybrid"]),
              default="auto", show_default=True,
              help="auto = extractive (measured best on CNN/DailyMail, see bench/bench_summarize.py)")
@click.option("--sentences", "-n", "n", type=click.IntRange(1, 50), default=3, show_default=True,
              help="sentences (or answers) in each summary")
@click.option("-o", "--out", "out", type=click.Path(), default=None,
              help="write to .parquet (group, n_rows, summary, mode, model) or a text file")
@click.option("--sheet", default=None, help="sheet of a workbook")
def summarize_cmd(path, column, by, mode, n, out, sheet) -> None:
    """Summarize a text or Markdown file, a column of answers, or a column per group."""
    from fieldkit.analysis.summarize import summarize_texts

    p = Path(path)
    stream = mode in ("abstractive", "hybrid") and out is None and by is None
    on_token = (lambda t: echo(t, nl=False)) if stream else None
    rows: list[dict] = []
    with StderrProgress() as prog:
        rep = Reporter("summarize", callback=prog)
        if column is None:
            if by:
                raise UsageError("--by needs --column", "for example --column answer --by region")
            from fieldkit.io.sniff import check_input_path

            if p.suffix.lower() not in TEXT_SUFFIXES and check_input_path(p) is not None:
                _refuse_dataset_without_column(p, sheet)
            text = _read_text_file(p)
            s = summarize_texts([text], mode=mode, max_sentences=n, reporter=rep, on_token=on_token)
            rows.append({"group": None, "n_rows": 1, "summary": s.text, "mode": s.mode, "model": s.model,
                         "notes": s.notes})
        else:
            rows = _summarize_column(p, column, by, mode, n, sheet, rep, on_token)
    if stream:
        echo()
        for r in rows:
            for note in r["notes"]:
                echo(f"note: {note}", err=True)
    if out:
        _write_summaries(rows, out, p, column, by, mode, n, sheet)
        echo(f"wrote {len(rows)} summar{'y' if len(rows) == 1 else 'ies'} to {out}")
        return
    if not stream:
        for r in rows:
            if by:
                echo(f"## {by} = {r['group']} ({r['n_rows']:,} rows)")
            echo(r["summary"] if r["summary"] else "(nothing to summarize)")
            if by:
                echo()
            for note in r["notes"]:
                echo(f"note: {note}", err=True)


def _refuse_dataset_without_column(p: Path, sheet) -> None:
    """A dataset file given without --column: say which columns there are."""
    from fieldkit.io import load_dataset

    try:
        ds = load_dataset(p, sheet=sheet)
    except InputError:
        return  # not a dataset we know: treat it as text
    if ds.format in ("text", "log"):
        return
    cols = ", ".join(repr(_short(c, 40)) for c in ds.columns[:5])
    if len(ds.columns) > 5:
        cols += f" ... ({len(ds.columns)} columns; `fieldkit inspect {p}` lists them)"
    raise UsageError(f"{p.name} is a {ds.format} dataset; say which column to summarize",
                     f"add --column with one of: {cols}")


def _summarize_column(p, column, by, mode, n, sheet, rep, on_token) -> list[dict]:
    import numpy as np

    from fieldkit.analysis.summarize import AUTO_MODE, summarize_texts
    from fieldkit.io import load_dataset

    ds = load_dataset(p, sheet=sheet)
    col = ds.require_text_column(column)
    by_col = ds.require_column(by) if by else None
    texts = ds.text_column(col).to_list()
    vectors = None
    if (AUTO_MODE if mode == "auto" else mode) == "extractive" and len(texts) > 1:
        from fieldkit.analysis.embeddings import embed_column

        vectors = embed_column(ds, col, reporter=rep.child("embed"))
    if by_col is None:
        s = summarize_texts(texts, mode=mode, max_sentences=n, reporter=rep, on_token=on_token,
                            embeddings=vectors)
        return [{"group": None, "n_rows": len(texts), "summary": s.text, "mode": s.mode,
                 "model": s.model, "notes": s.notes}]
    groups = ds.frame.select(by_col).collect().to_series().cast(str).to_list()
    order: dict = {}
    for i, g in enumerate(groups):
        order.setdefault(g, []).append(i)
    out = []
    for g, idx in sorted(order.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        rep.check()
        sub = [texts[i] for i in idx]
        s = summarize_texts(sub, mode=mode, max_sentences=n, reporter=rep,
                            embeddings=None if vectors is None else np.asarray(vectors)[idx])
        out.append({"group": "(missing)" if g is None else g, "n_rows": len(idx), "summary": s.text,
                    "mode": s.mode, "model": s.model, "notes": s.notes})
    return out


def _write_summaries(rows, out, p, column, by, mode, n, sheet) -> None:
    import polars as pl

    from fieldkit.store import atomic_path, file_sha256, make_provenance, write_frame

    target = Path(out)
    if target.suffix.lower() != ".parquet":
        with atomic_path(target) as tmp:
            parts = []
            for r in rows:
                head = f"## {by} = {r['group']} ({r['n_rows']:,} rows)\n\n" if by else ""
                parts.append(head + r["summary"])
            tmp.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        return
    df = pl.DataFrame(
        {
            "group": [r["group"] for r in rows],
            "n_rows": [r["n_rows"] for r in rows],
            "summary": [r["summary"] for r in rows],
            "mode": [r["mode"] for r in rows],
            "model": [r["model"] for r in rows],
        },
        schema={"group": pl.String, "n_rows": pl.Int64, "summary": pl.String, "mode": pl.String,
                "model": pl.String},
    )
    source = {"path": str(p), "sha256": file_sha256(p)}
    step = {"operation": "summarize", "column": column, "by": by, "mode": mode, "sentences": n,
            **({"sheet": sheet} if sheet else {})}
    write_frame(df, target, make_provenance(source, [step]))
