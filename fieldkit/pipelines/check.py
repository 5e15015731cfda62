"""The `check` job: high-frequency checks on a survey export -> a findings table with provenance.

Dataset + form/config/language + Reporter -> CheckResult and one provenance step; the
findings are their own table (one row per finding), written atomically beside the source's
provenance so a reviewer can tell which export, form and settings produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit.analysis.checks import CheckResult, run_checks
from fieldkit.analysis.checks_config import CHECKS, load_config
from fieldkit.pipelines.core import make_step, save_annotated, timed
from fieldkit.progress import Reporter


@dataclass
class CheckJob:
    result: CheckResult
    step: dict[str, Any]


def _sha(path: str | Path | None) -> str | None:
    if path is None:
        return None
    from fieldkit.store import file_sha256

    return file_sha256(path)


def check(ds, *, form: str | Path | None = None, config: str | Path | None = None,
          lang: str | None = None, reporter: Reporter | None = None) -> CheckJob:
    """Run the enabled checks on `ds`; the step records the form's and config's sha256."""
    from fieldkit.io.xlsform import read_form

    if ds.format in ("folder", "log", "text"):
        from fieldkit.errors import UsageError

        raise UsageError(f"{ds.path.name} is a {ds.format}, not a table of submissions",
                         "give a survey export: CSV, Excel, JSON or Parquet")
    cfg = load_config(config)
    frm = read_form(form) if form is not None else None
    if frm is not None:
        frm.language(lang)
    elif lang is not None:
        from fieldkit.errors import UsageError

        raise UsageError("--lang needs --form", "give the XLSForm with --form FORM.xlsx")
    repeats = _repeat_sheets(ds, frm) if frm is not None else {}
    with timed() as clock:
        res = run_checks(ds.frame, survey=ds.survey, form=frm, config=cfg, lang=lang, reporter=reporter,
                         repeats=repeats)
    params = {
        "checks": [c for c in CHECKS if cfg[c]["enabled"]],
        **({"form": str(form), "form_sha256": _sha(form),
            "language": frm.language(lang)} if frm is not None else {}),
        **({"config": str(config), "config_sha256": _sha(config)} if config else {}),
        "roles": res.roles, "findings": res.findings.height,
        **({"skipped": res.skipped} if res.skipped else {}),
    }
    model = _Model(res.models[0].get("model"), res.models[0].get("model_sha256")) if res.models else None
    return CheckJob(res, make_step("check", params, clock, model))


def _repeat_sheets(ds, form) -> dict[str, Any]:
    """An Excel export's sheet per repeat group (Kobo names it after the repeat, cut to 31 characters)."""
    from fieldkit.analysis.checks_repeat import repeat_names

    if ds.format not in ("xlsx", "xls", "ods") or len(ds.sheets) < 2:
        return {}
    from fieldkit.io.excel import load_excel

    by_lower = {n.lower(): n for n in ds.sheets if n != ds.sheet}
    out = {}
    for name in repeat_names(form):
        sheet = by_lower.get(name.lower()) or by_lower.get(name[:31].lower())
        if sheet is not None:
            out[name] = load_excel(ds.path, sheet).frame.collect()
    return out


@dataclass
class _Model:
    """The embedder the "other (specify)" grouping ran, as make_step names a model."""

    model_id: str | None
    sha256: str | None


def save_findings(job: CheckJob, ds, target: str | Path, reporter: Reporter | None = None) -> Path:
    """Write the findings table atomically with the source's provenance (and its earlier steps) and the check step."""
    return save_annotated(ds, {}, [job.step], target, reporter=reporter, table=job.result.findings)
