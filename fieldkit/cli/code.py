"""`fieldkit code`: parse, call the code pipeline (fieldkit/pipelines/code.py), print, exit code."""

from __future__ import annotations

import math
import click

from fieldkit.cli.engine import engine_context, engine_options
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
              help="write the learned coder to this folder (numpy arrays + JSON, no pickle)")
@click.option("--load-model", "--model-file", "load_model", type=click.Path(), default=None,
              help="apply a coder saved with --save-model (e.g. to the next survey round)")
@click.option("--model", "model_id", default=None,
              help="embedding model id (default: chosen by the answers' languages)")
@click.option("--teacher", type=click.Path(), default=None,
              help="federated second round: a merged coder (merge --models) labels the uncoded answers too")
@click.option("--sheet", default=None, help="sheet of a workbook")
@click.option("--parts", "part_rows", type=click.IntRange(1), default=None, metavar="ROWS",
              help="write OUT as a folder of Parquet parts of ROWS rows each (same provenance in each)")
@engine_options
def code_cmd(path, column, labels, codebook, out, suggest, save_model, load_model, model_id,
             teacher, sheet, part_rows, engine, address) -> None:
    """Code every answer of a text column; several codes in one answer are joined by `;`."""
    from fieldkit.errors import UsageError
    from fieldkit.pipelines.code import code
    from fieldkit.pipelines.core import dataset, save_annotated

    if part_rows is not None and not out:
        raise UsageError("--parts needs -o OUT (the folder the parts go to)", "add -o OUT_FOLDER")
    if out:
        from fieldkit.pipelines.parts import check_parts_output
        from fieldkit.store import check_parquet_output

        (check_parquet_output if part_rows is None else check_parts_output)(out)  # before the embedding
    if not out and not save_model and not suggest:
        raise UsageError("nothing would be kept", "add -o OUT.parquet, --save-model DIR or --suggest N")
    if save_model:
        from fieldkit.analysis.coder_file import check_target

        check_target(save_model)  # before the work, not after
    if save_model and load_model:
        raise UsageError("--save-model with --load-model would only copy the coder",
                         "leave out --save-model (copy the folder instead)")
    with engine_context(engine, address), StderrProgress() as prog:  # on Ray: the answers embed on the workers
        rep = Reporter("code", callback=prog)
        ds = dataset(path, sheet=sheet, reporter=rep.child("read"))
        res = code(ds, column, labels=labels, codebook=codebook, load_model=load_model,
                   model_id=model_id, suggest=suggest, teacher=teacher, reporter=rep)
        coded = res.outcome
        if out and part_rows is not None:  # the code columns are made here, so the parts are written here
            from fieldkit.pipelines.parts import save_parts

            save_parts(ds, res.columns, [res.step], out, part_rows, reporter=rep.child("write"))
        elif out:
            save_annotated(ds, res.columns, [res.step], out, reporter=rep.child("write"))
        if save_model:
            coded.coder.save(save_model)
    echo_model_notes(res.step)
    for note in coded.notes:
        click.echo(f"note: {_safe(note, 200)}", err=True)
    _print(coded)
    if out:
        where = f"{out} ({-(-coded.rows // part_rows)} parts)" if part_rows else out
        click.echo(f"wrote {coded.rows:,} rows with code, code_score, code_source, "
                   f"needs_review to {where} (several codes in one answer are joined by ';')")
    if save_model:
        click.echo(f"saved the coder ({len(coded.coder.labels)} codes, {coded.model}) "
                   f"to the folder {save_model}")


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
    if cal.get("method") == "agreement":
        click.echo(f"note: no coded answers to check the scores on: they are scaled to the coder's "
                   f"agreement ({cal['agreement']:.0%}) with the nearest code text; code a few "
                   "answers by hand (--labels) to calibrate them on held-out answers")
    elif cal.get("method") != "temperature" and not (coded.coder.info.get("calibration") is None):
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
