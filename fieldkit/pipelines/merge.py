"""The merge job: annotated copies of one dataset (Parquet files and TUI journals) into one file.

Why a job of its own: laptops annotate offline for days; the office needs one file in which
no tag, note or code is lost, every disagreement is visible (`merge_conflicts`), and the
result is the same whatever order the laptops are merged in, and however often.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from fieldkit import files
from fieldkit.analysis import merge as rules
from fieldkit.analysis.merge_journal import replay
from fieldkit.errors import InputError, UsageError
from fieldkit.pipelines.core import Result, make_step, timed
from fieldkit.progress import Reporter


@dataclass
class Source:
    """One input as the provenance and the summary name it."""

    path: str
    label: str
    sha256: str
    kind: str  # "parquet" or "journal"
    rows: int
    annotated: int
    notes: list[str] = field(default_factory=list)


@dataclass
class MergeOutcome:
    """What the merge did: rows out, per-source counts, conflicts per field, how rows were matched."""

    output: Path | None
    rows: int
    sources: list[Source]
    key: str
    conflicts_per_field: dict[str, int]
    rows_with_conflicts: int
    notes: list[str]

    def summary_lines(self) -> list[str]:
        """The printed summary: rows, rows annotated per source, conflicts per field."""
        lines = [f"merged {len(self.sources)} input(s) by {self.key}: {self.rows:,} rows"]
        for s in self.sources:
            lines.append(f"  {s.label}: {s.rows:,} rows, {s.annotated:,} annotated ({s.kind})")
        if self.conflicts_per_field:
            lines.append(f"conflicts: {self.rows_with_conflicts:,} row(s)")
            lines += [f"  {name}: {n:,}" for name, n in self.conflicts_per_field.items()]
        else:
            lines.append("conflicts: none")
        return lines + [f"note: {n}" for n in self.notes]


def _labels(paths: list[Path]) -> list[str]:
    """Short names for sources: the file name, with its folder when two inputs share a name."""
    names = [p.name for p in paths]
    out = []
    for p, name in zip(paths, names):
        out.append(f"{p.parent.name}/{name}" if names.count(name) > 1 else name)
    return [f"{lab}#{i}" if out.count(lab) > 1 else lab for i, lab in enumerate(out)]


def _read_parquet(path: Path) -> pl.DataFrame:
    from fieldkit.io.sniff import check_input_path

    check_input_path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise UsageError(f"{path.name} is not a Parquet file", f"convert it first: fieldkit convert {path} -o "
                         f"{path.with_suffix('.parquet').name}")
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError, pl.exceptions.PolarsError) as e:
        raise InputError(f"{path.name} is not a readable Parquet file: {str(e).splitlines()[0]}",
                         "check that the file is complete (copy it again from the laptop)") from e


def merge(inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
          key: str | None = None, journals: Sequence[str | os.PathLike] = (),
          reporter: Reporter | None = None) -> Result[MergeOutcome]:
    """Merge Parquet copies (and TUI journals) of one dataset; writes `output` atomically when given.

    Inputs with the same bytes count once (merging a file in twice changes nothing).
    """
    from fieldkit.store import check_parquet_output, make_provenance, write_frame

    reporter = reporter or Reporter("merge")
    paths = [Path(p) for p in inputs]
    jpaths = [Path(j) for j in journals]
    if not paths:
        raise UsageError("merge needs at least one Parquet input", "fieldkit merge A.parquet B.parquet -o OUT.parquet")
    if output is not None:
        out = check_parquet_output(output)
        if any(p.resolve() == out.resolve() for p in paths):
            raise UsageError(f"{out} is also an input", "write the merge to a new file")
    with timed() as clock:
        seen: dict[str, Path] = {}
        notes: list[str] = []
        for p in paths:
            digest = files.sha256(_checked(p))
            if digest in seen:
                notes.append(f"{p.name} has the same bytes as {seen[digest].name}: counted once")
                continue
            seen[digest] = p
        unique = sorted(seen.items())  # by content: the same inputs give the same merge in any order
        labels = _labels([p for _, p in unique])
        frames = {}
        for (digest, p), label in zip(unique, labels):
            reporter.check()
            frames[label] = _read_parquet(p)
        reporter.update(1, "keys")
        choice = rules.choose_key(frames, key)
        notes += choice.notes
        parts, sources = [], []
        for i, ((digest, p), label) in enumerate(zip(unique, labels)):
            df = frames[label]
            parts.append(rules.prepare(df, rules.row_keys(df, choice), i))
            sources.append(Source(str(p), label, digest, "parquet", df.height, rules.annotated_rows(df)))
            reporter.check()
        widest = max(frames.values(), key=lambda f: (f.width, f.columns)).columns
        known = pl.concat([p.select(rules.KEY) for p in parts]).to_series()
        parts, sources = _add_journals(jpaths, parts, sources, labels, notes, known,
                                       lambda: _journal_keys(frames, parts))
        reporter.update(2, "merging")
        fullest = max(range(len(unique)), key=lambda i: (sources[i].rows, parts[i].width,
                                                         rules.CONFLICTS in parts[i].columns, sources[i].sha256))
        merged = rules.merge_frames(parts, [s.label for s in sources], len(unique), widest, fullest)
        reporter.check()
    outcome = MergeOutcome(None, merged.frame.height, sources, choice.describe(),
                           merged.conflicts_per_field, merged.rows_with_conflicts, notes)
    step = make_step("merge", {
        "inputs": [{"path": s.path, "sha256": s.sha256, "kind": s.kind, "label": s.label, "rows": s.rows,
                    "annotated": s.annotated} for s in sources],
        "key": choice.describe(), "rows": merged.frame.height,
        "conflicts": merged.conflicts_per_field}, clock)
    if output is not None:
        source = {"path": None, "format": "merge",
                  "inputs": [{"path": s.path, "sha256": s.sha256, "kind": s.kind} for s in sources]}
        outcome.output = write_frame(merged.frame, output, make_provenance(source, [step]))
    reporter.finish("merged")
    return Result(outcome, {}, step)


def _journal_keys(frames: dict[str, pl.DataFrame], parts: list[pl.DataFrame]) -> dict[str, str]:
    """The TUI's row key (fieldkit.rowkeys) of every data row -> the merge's key for that row."""
    from fieldkit.annotate import ANNOTATION_COLUMNS
    from fieldkit.rowkeys import RowKeys

    table: dict[str, str] = {}
    for df, part in zip(frames.values(), parts):
        for tui, key in zip(RowKeys(df, ANNOTATION_COLUMNS).all_keys(), part[rules.KEY].to_list()):
            table.setdefault(tui, key)
    return table


def _checked(p: Path) -> Path:
    from fieldkit.io.sniff import check_input_path

    check_input_path(p)
    if not p.is_file():
        raise InputError(f"{p} is not a file", "give Parquet files (and --journal files) to merge")
    return p


def _add_journals(jpaths: list[Path], parts: list[pl.DataFrame], sources: list[Source],
                  labels: list[str], notes: list[str], known: pl.Series,
                  translation) -> tuple[list[pl.DataFrame], list[Source]]:
    """Each journal becomes one more input: the tags and notes it leaves per row key."""
    from fieldkit.annotate import read_journal

    seen: set[str] = set()
    jlabels = _labels(jpaths)
    for p, label in sorted(zip(jpaths, jlabels), key=lambda pl_: files.sha256(_checked(pl_[0]))):
        digest = files.sha256(p)
        if digest in seen:
            continue
        seen.add(digest)
        ops = read_journal(p)
        if not ops or ops[0].get("op") != "header":
            raise InputError(f"{p.name} is not a fieldkit annotation journal",
                             "give the .fieldkit-journal.jsonl file saved beside the data on the laptop")
        state = replay(ops)
        if state.frame.height and not state.frame[rules.KEY].is_in(known.implode()).any():
            # the TUI keyed rows its own way (e.g. by values where the merge found an exporter id)
            table = translation()
            state.frame = state.frame.with_columns(pl.col(rules.KEY).replace(table))
        src = Source(str(p), label if label not in labels else f"journal {label}", digest, "journal",
                     state.frame.height, state.frame.height)
        if state.without_key:
            src.notes.append(f"{state.without_key} change(s) in {p.name} carry no row key (older fieldkit): skipped")
        lost = state.frame.filter(~pl.col(rules.KEY).is_in(known.implode())).height
        if lost:
            src.notes.append(f"{lost} row(s) annotated in {p.name} are in none of the Parquet inputs: left out")
        notes += src.notes
        parts.append(rules.prepare(state.frame, state.frame.get_column(rules.KEY), len(parts)))
        sources.append(src)
    return parts, sources
