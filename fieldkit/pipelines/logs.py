"""The logs job: templates per line, a digest and a summary, over one or more log files.

This wraps `fieldkit.analysis.logs.run_logs`, which streams the files, mines the templates and
writes the annotated lines in bounded memory; the mining algorithms stay in analysis.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from fieldkit.analysis.logs import LogsResult, run_logs
from fieldkit.errors import UsageError
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.progress import Reporter


def logs(paths: Sequence[str | os.PathLike] | str | os.PathLike, out: str | os.PathLike, *,
         baseline: str | os.PathLike | None = None, summary_out: str | os.PathLike | None = None,
         templates_out: str | os.PathLike | None = None, use_model: bool = False,
         reporter: Reporter | None = None) -> Result[LogsResult]:
    """Write one row per log line (line_no, timestamp, level, message, template_id, template) to `out`.

    The digest and summary come back in the result; `summary_out` and `templates_out` also
    save them (Markdown; a template table for a later `baseline`).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for extra in (summary_out, templates_out):
        if extra and Path(extra).resolve() == Path(out).resolve():
            raise UsageError(f"{extra} is also the output path", "give each output its own file")
    with timed() as clock:
        res = run_logs(list(paths), out, baseline=baseline, summary_out=summary_out,
                       templates_out=templates_out, use_model=use_model, reporter=reporter)
    params = {"files": [str(f) for f in res.files], "baseline": str(baseline) if baseline else None,
              "templates": res.templates.height}
    return Result(res, {}, make_step("logs", params, clock))
