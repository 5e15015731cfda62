"""`fieldkit code`: code open-ended answers from the analyst's own codes and/or a codebook.

The job (`run_code`) lives here until the pipelines layer is on main; it moves there as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import click

from fieldkit.cli.group import cli
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


def _safe(text, width: int) -> str:
    """User data made terminal-safe (controls escaped) and cut to `width` cells."""
    from fieldkit.display import display_text

    return display_text(" ".join(str(text).split()), width)


@cli.command("code")
@click.argument("path", type=click.Path())
@click.option("--column", "-c", required=True, help="text column (the open-ended answers)")
@click.option("--labels", "-l", default=None,
              help="column with the analyst's codes (filled rows teach; several codes: a;b or a list)")
@click.option("--codebook", type=click.Path(), default=None,
              help="CSV with columns code, description, examples (examples separated by ;)")
@click.option("-o", "--out", "out", type=click.Path(), default=None,
              help="output .parquet (adds code, code_score, code_source, needs_review)")
@click.option("--suggest", type=click.IntRange(0, 10_000), default=0,
              help="print the N uncoded answers whose coding would teach the coder most")
@click.option("--save-model", "save_model", type=click.Path(), default=None,
              help="write the learned coder to this file (.npz, no pickle)")
@click.option("--model-file", "model_file", type=click.Path(), default=None,
              help="apply a coder saved with --save-model (e.g. to the next survey round)")
@click.option("--model", "model_id", default=None,
              help="embedding model id (default: chosen by the answers' languages)")
@click.option("--sheet", default=None, help="sheet of a workbook")
def code_cmd(path, column, labels, codebook, out, suggest, save_model, model_file, model_id,
             sheet) -> None:
    """Code every answer of a text column; several codes in one answer are joined by `;`."""
    from fieldkit.errors import UsageError

    if out:
        from fieldkit.store import check_parquet_output

        check_parquet_output(out)  # before minutes of embedding, not after
    if not out and not save_model and not suggest:
        raise UsageError("nothing would be kept", "add -o OUT.parquet, --save-model M or --suggest N")
    with StderrProgress() as prog:
        rep = Reporter("code", callback=prog)
        coded, ds, step = run_code(path, column, labels=labels, codebook=codebook,
                                   model_file=model_file, model_id=model_id, suggest=suggest,
                                   sheet=sheet, reporter=rep)
        if out:
            _write(ds, coded, step, out)
        if save_model:
            coded.coder.save(save_model)
    echo_model_notes(step)
    for note in coded.notes:
        click.echo(f"note: {_safe(note, 200)}", err=True)
    _print(coded)
    if out:
        click.echo(f"wrote {coded.rows:,} rows with code, code_score, code_source, "
                   f"needs_review to {out} (several codes in one answer are joined by ';')")
    if save_model:
        click.echo(f"saved the coder ({len(coded.coder.labels)} codes, {coded.model}) to {save_model}")


@dataclass
class Coded:
    """What the code job did: per-row result, the coder, per-code summary, suggestions, notes."""

    result: Any
    coder: Any
    column: str
    rows: int
    model: str
    summary: list
    suggestions: list
    texts: list
    notes: list = field(default_factory=list)


def _row_codes(ds, labels, text_col: str, n: int) -> list[list[str]]:
    import polars as pl

    from fieldkit.analysis.codebook import split_codes
    from fieldkit.errors import UsageError

    if labels is None:
        return [[] for _ in range(n)]
    col = ds.require_column(labels)
    if col == text_col:
        raise UsageError(f"--labels {col!r} is the text column itself",
                         "give the column that holds the codes the analyst gave")
    values = ds.frame.select(col).collect().to_series()
    if values.dtype.base_type() is pl.List:
        values = values.cast(pl.List(pl.String))
    elif values.dtype != pl.String:
        values = values.cast(pl.String)
    return [split_codes(v) for v in values.to_list()]


def _codebook_vectors(book, embedder) -> dict:
    import numpy as np

    texts, owner = [], []
    for code in book.codes:
        for t in book.seed_texts(code):
            texts.append(t)
            owner.append(code)
    out: dict = {}
    for code, v in zip(owner, embedder.embed_all(texts)):
        if np.any(v):
            out.setdefault(code, []).append(v)
    return {c: np.vstack(v) for c, v in out.items()}


def run_code(path, column, *, labels=None, codebook=None, model_file=None, model_id=None,
             suggest=0, sheet=None, reporter=None):
    """The code job: (Coded, dataset, provenance step). Moves to fieldkit/pipelines/ with that layer."""
    import time
    from datetime import datetime, timezone

    import numpy as np

    from fieldkit.analysis.codebook import SEP, read_codebook
    from fieldkit.analysis.coding import Coder, code_rows, fit_coder, suggest_rows
    from fieldkit.analysis.embeddings import embed_column
    from fieldkit.analysis.language import choose_model
    from fieldkit.errors import UsageError
    from fieldkit.inference.embedder import get_embedder
    from fieldkit.io import load_dataset

    if labels is None and codebook is None and model_file is None:
        raise UsageError("nothing to learn the codes from",
                         "give --labels COL (rows the analyst coded), --codebook CODES.csv, "
                         "or --model-file M (a saved coder)")
    if model_file is not None and codebook is not None:
        raise UsageError("--model-file applies a saved coder; it cannot also take --codebook",
                         "leave out --codebook, or learn a new coder without --model-file")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    book = read_codebook(codebook) if codebook is not None else None
    saved = Coder.load(model_file) if model_file is not None else None
    ds = load_dataset(path, sheet=sheet)
    col = ds.require_column(column)
    texts = ds.text_column(col).to_list()
    row_codes = _row_codes(ds, labels, col, len(texts))
    if labels is not None and saved is None and not any(row_codes):
        raise UsageError(f"no row of {labels!r} holds a code",
                         "code some answers first, or give --codebook CODES.csv")
    notes: list[str] = []
    if saved is not None:
        if model_id is not None and model_id != saved.model_id:
            raise UsageError(f"the saved coder was trained on {saved.model_id}, not {model_id}",
                             "leave out --model when applying --model-file")
        choice_info = {"model_choice": "model file", "model_reason": "the saved coder's model"}
        chosen = saved.model_id
    else:
        choice = choose_model(texts, model_id)
        choice_info = choice.provenance()
        chosen = choice.model_id
    embedder = get_embedder(chosen)
    vecs = np.asarray(embed_column(ds, col, embedder.model_id, reporter=reporter.child("embed")),
                      dtype=np.float32)
    if saved is None:
        if book is not None:
            unknown = sorted({c for codes in row_codes for c in codes} - set(book.codes))
            if unknown:
                notes.append(f"{len(unknown)} code(s) in {labels!r} are not in the codebook and "
                             "were kept: " + ", ".join(unknown[:5]))
        coder = fit_coder(vecs, row_codes, embedder.model_id, codebook=book,
                          codebook_vectors=_codebook_vectors(book, embedder) if book else None,
                          reporter=reporter)
    else:
        coder = saved
    result = code_rows(vecs, row_codes, coder, empty=[t is None or not str(t).strip() for t in texts])
    params = {"column": col, "labels": labels, "separator": SEP,
              "codebook": str(codebook) if codebook is not None else None,
              "model_file": str(model_file) if model_file is not None else None,
              "codes": coder.labels, "multi_code": coder.multi_code,
              "coded_answers": int(result.human.sum()),
              "calibration": coder.info.get("calibration"),
              "temperature": round(coder.temperature, 4), **choice_info}
    step = {"operation": "code", "parameters": params, "model": embedder.model_id,
            "model_sha256": embedder.sha256, "started": started,
            "seconds": round(time.perf_counter() - t0, 3)}
    picks = suggest_rows(result, suggest, texts) if suggest else []
    coded = Coded(result, coder, col, len(texts), embedder.model_id, result.summary(texts), picks,
                  texts, notes)
    return coded, ds, step


def _write(ds, coded, step, out) -> None:
    import numpy as np
    import polars as pl

    from fieldkit.store import make_provenance, read_provenance, write_frame

    r = coded.result
    new = ["code", "code_score", "code_source", "needs_review"]
    frame = ds.frame.drop([c for c in new if c in ds.columns])
    df = frame.collect().with_columns([
        pl.Series("code", r.code, dtype=pl.String),
        pl.Series("code_score", np.round(r.score, 4), dtype=pl.Float64).fill_nan(None),
        pl.Series("code_source", r.source, dtype=pl.String),
        pl.Series("needs_review", r.needs_review.tolist(), dtype=pl.Boolean),
    ])
    previous = read_provenance(ds.path) if ds.format == "parquet" else None
    write_frame(df, out, make_provenance(ds.source_info(), [step], previous))


def _print(coded) -> None:
    r = coded.result
    cal = coded.coder.info.get("calibration") or {}
    human = int(r.human.sum())
    review = int(r.needs_review.sum())
    line = (f"{len(coded.coder.labels)} codes; {human:,} answers coded by hand, "
            f"{sum(s == 'model' for s in r.source):,} by the model ({coded.model}); "
            f"{review:,} need review")
    if cal.get("method") == "temperature":
        line += (f"; held-out accuracy {cal['held_out_accuracy']:.2f}, "
                 f"calibration error {cal['ece']:.3f}")
    click.echo(line)
    if cal.get("method") != "temperature" and not (coded.coder.info.get("calibration") is None):
        click.echo(f"note: scores are not calibrated ({cal.get('why', 'no held-out answers')}); "
                   "code a few answers by hand (--labels) to calibrate them")
    click.echo(f"{'rows':>7}  {'share':>6}  {'score':>5}  code")
    for s in coded.summary:
        score = "" if math.isnan(s["mean_score"]) else f"{s['mean_score']:.2f}"
        click.echo(f"{s['rows']:>7,}  {s['share']:>6.1%}  {score:>5}  {_safe(s['code'], 60)}")
        for e in s["examples"]:
            click.echo(f"{'':>25}\u201c{_safe(e, 90)}\u201d")
    if coded.suggestions:
        click.echo(f"\ncode these {len(coded.suggestions)} answers next (the coder hesitates most):")
        for i in coded.suggestions:
            click.echo(f"  row {i:>6}  {_safe(r.code[i] or '', 24):<24}  "
                       f"{_safe(coded.texts[i] or '', 80)}")


def echo_model_notes(step: dict) -> None:
    """On stderr: which embedding model the automatic choice took and why, and how to get a better one."""
    p = step.get("parameters") or {}
    if p.get("model_choice") == "auto" and step.get("model"):
        click.echo(f"note: model {step['model']}: {p.get('model_reason', '')}", err=True)
    if p.get("model_missing"):
        click.echo("note: no multilingual model is installed; install one with "
                   f"`{p['model_missing']}` and run again", err=True)
