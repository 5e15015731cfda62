"""The convert job: load any supported file and save it as Parquet with provenance."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fieldkit.errors import InputError, UsageError
from fieldkit.io.dataset import Dataset, load_dataset
from fieldkit.pipelines.core import Result, make_step, save_annotated, timed
from fieldkit.progress import Reporter


@dataclass
class Converted:
    output: Path
    dataset: Dataset  # as finally read (the tolerant re-read when the fast scan met a bad row)


def convert(path: str | os.PathLike, out: str | os.PathLike, *, sheet: str | None = None,
            encoding: str | None = None, reporter: Reporter | None = None,
            form: str | os.PathLike | None = None, lang: str | None = None,
            labels: bool = False) -> Result[Converted]:
    """Write `path` to `out` as Parquet (atomic, streamed); the job's output is the file itself.

    A lazy CSV scan that meets a row its head sample did not show (ragged, bad quote) is redone
    through the tolerant reader, which repairs and counts such rows. With `form` and `labels`,
    select answers are written as their choice labels in `lang`.
    """
    with timed() as clock:
        ds = load_dataset(path, sheet=sheet, encoding=encoding, reporter=reporter)
        if ds.format == "folder":
            raise InputError(f"{path} is a folder", "convert one file at a time; `fieldkit inspect` lists them")
        target = Path(out)
        if target.exists() and target.resolve() == Path(ds.path).resolve():
            raise UsageError("the output would overwrite the input", "choose another output path")
        params = {k: v for k, v in {"sheet": ds.sheet, "encoding": encoding}.items() if v}
        params = {"format": ds.format, **params}
        labelled = None
        if form is not None:
            from fieldkit.files import sha256
            from fieldkit.io.xlsform import label_exprs, match_columns, read_form

            frm = read_form(form)
            params.update(form=str(form), form_sha256=sha256(form), language=frm.language(lang), labels=labels)
            if labels:
                def labelled(frame: pl.LazyFrame) -> pl.LazyFrame:
                    schema = frame.collect_schema()
                    exprs = label_exprs(frm, match_columns(frm, schema.names()), schema, lang)
                    return frame.with_columns(exprs) if exprs else frame

                ds.frame = labelled(ds.frame)
        try:
            save_annotated(ds, {}, [make_step("convert", params, clock)], target, reporter=reporter)
        except (InputError, pl.exceptions.PolarsError):
            if ds.mode != "scan" or ds.format not in ("csv", "tsv"):
                raise
            ds = load_dataset(path, encoding=encoding, reporter=reporter, tolerant=True)
            if labelled is not None:
                ds.frame = labelled(ds.frame)
            save_annotated(ds, {}, [make_step("convert", params, clock)], target, reporter=reporter)
    step = make_step("convert", params, clock)
    return Result(Converted(target, ds), {}, step)
