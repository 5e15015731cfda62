"""The federated coder job: several laptops' saved coders (`fieldkit code --save-model`) into one.

Why: each laptop learns a coder from the answers its analyst coded; only the coders travel
(weights, label counts and label statistics, never an answer), and the office pools their
statistics into the coder one holder of every label would fit (or, for coders without
statistics, averages them per label: FedAvg) for every laptop to apply next round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from fieldkit.errors import UsageError
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.progress import Reporter


@dataclass
class MergedCoder:
    """The merged coder, where it was written, and what each input brought."""

    coder: Any
    output: Path | None
    inputs: list[dict[str, Any]]
    coders_per_label: dict[str, int]

    def summary_lines(self) -> list[str]:
        fed = self.coder.info.get("federated", {})
        lines = [f"merged {len(self.inputs)} coders ({self.coder.model_id}): {len(self.coder.labels)} codes, "
                 f"{int(self.coder.n_labelled.sum()):,} labelled answers in all; "
                 f"method: {fed.get('method', 'FedAvg')}"]
        for i in self.inputs:
            lines.append(f"  {i['name']}: {i['answers']:,} labelled answers, {i['codes']} codes")
        if fed.get("codes_from_average"):
            lines.append(f"codes no laptop shared statistics for (too few answers): "
                         f"{fed['codes_from_average']} (their rows are averaged)")
        partial = sorted(lab for lab, n in self.coders_per_label.items() if n < len(self.inputs))
        if partial:
            shown = ", ".join(partial[:8]) + (f" and {len(partial) - 8} more" if len(partial) > 8 else "")
            lines.append(f"codes taught on only some laptops: {len(partial)} ({shown})")
        return lines


def merge_models(folders: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
                 reporter: Reporter | None = None) -> Result[MergedCoder]:
    """Merge coder folders into one coder folder (written atomically when `output` is given)."""
    from fieldkit.analysis import coder_file
    from fieldkit.analysis.coding import Coder
    from fieldkit.analysis.merge_models import pooled

    reporter = reporter or Reporter("merge coders")
    paths = [Path(f) for f in folders]
    if len(paths) < 2:
        raise UsageError("a federated merge needs two or more coder folders",
                         "fieldkit merge --models laptop1_coder laptop2_coder ... -o merged_coder")
    if output is not None:
        out = coder_file.check_target(output)
        if any(p.resolve() == out.resolve() for p in paths):
            raise UsageError(f"{out} is also an input", "write the merged coder to a new folder")
    with timed() as clock:
        coders = []
        for p in paths:
            reporter.check()
            coders.append(Coder.load(p))
        names = [p.name if [q.name for q in paths].count(p.name) == 1 else str(p) for p in paths]
        averaged = pooled(coders, names)
    inputs = [{"name": n, "path": str(p), "answers": int(c.n_labelled.sum()), "codes": int((c.bias > -1e3).sum()),
               "model": c.model_id, "model_sha256": c.info.get("model_sha256")}
              for n, p, c in zip(names, paths, coders)]
    method = averaged.coder.info.get("federated", {}).get("method", "FedAvg")
    step = make_step("merge_models", {"inputs": inputs, "codes": len(averaged.coder.labels),
                                      "method": method}, clock)
    averaged.coder.info.setdefault("steps", []).append(step)
    written = coder_file.save(averaged.coder, output) if output is not None else None
    reporter.finish("merged")
    return Result(MergedCoder(averaged.coder, written, inputs, averaged.coders_per_label), {}, step)
