"""The "suggest tags" job of the dataset screen: learn from the analyst's tags, show the rows to tag next.

Why: once a few rows carry each tag, the coder (`fieldkit.pipelines.code`, the same job as
`fieldkit code --suggest`) proposes a tag for every other answer and ranks the answers it
hesitates on most; tagging those next teaches it most (uncertainty sampling). The view shows
them in that order with the proposed tag and its calibrated score; `a` accepts a proposal (a
tag, journaled and undoable like any other), `b` passes over it; `S` runs it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import polars as pl
from rich.text import Text

from fieldkit.errors import UsageError
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, ViewSpec

SUGGEST_ROWS = 20  # rows offered per run: about what an analyst tags before running it again
MIN_ROWS = 2       # a tag on one row only teaches too little to propose it elsewhere


@dataclass
class Suggested:
    """Rows to tag next (best first) with the proposed tag and score; what the coder learnt from."""

    rows: pl.DataFrame  # ROW, suggested_tag, suggest_score
    column: str
    model: str
    tags: dict[str, int]   # tag -> tagged rows that taught it
    left_out: list[str]    # tags on fewer than MIN_ROWS rows
    held_out_accuracy: float | None


def suggest(ds, column: str, tags: dict[int, set[str]], reporter, model: str | None = None,
            n: int = SUGGEST_ROWS) -> Suggested:
    """Fit the coder on the tagged rows of `column` and pick the `n` untagged rows that teach most."""
    from fieldkit import pipelines

    counts = Counter(t for ts in tags.values() for t in ts)
    taught = {t for t, c in counts.items() if c >= MIN_ROWS}
    if len(taught) < 2:
        raise UsageError(f"suggesting tags needs two tags with at least {MIN_ROWS} tagged rows each "
                         f"(now: {', '.join(f'{t} {c}' for t, c in sorted(counts.items())) or 'no tags'})",
                         "tag a few more rows with keys 1-9, then press S again")
    rows = ds.text_column(column).len()
    codes = [None] * rows
    for row, ts in tags.items():
        if 0 <= row < rows:
            codes[row] = sorted(t for t in ts if t in taught) or None
    r = pipelines.code(ds, column, labels=codes, model_id=model, suggest=n, reporter=reporter)
    coded = r.outcome
    picks = coded.suggestions
    res = coded.result
    frame = pl.DataFrame({
        ROW: pl.Series(picks, dtype=pl.Int64),
        "suggested_tag": pl.Series([res.code[i] for i in picks], dtype=pl.String),
        "suggest_score": pl.Series([round(float(res.score[i]), 3) for i in picks], dtype=pl.Float64),
    })
    cal = coded.coder.info.get("calibration") or {}
    return Suggested(frame, column, coded.model, {t: counts[t] for t in sorted(taught)},
                     sorted(set(counts) - taught), cal.get("held_out_accuracy"))


class SuggestActions(JobScreen):
    """Part of DatasetScreen: the suggest-tags job (S), accept (a) and pass (b)."""

    suggested: Suggested | None = None

    def action_suggest_tags(self) -> None:
        col = self._text_column()
        if col is None or self.annotations is None:
            return
        tags = {row: set(ts) for row, ts in self.annotations.tags.items() if ts}  # a copy for the worker
        self._run_model_job("suggest", f"suggesting tags for {col}", col,
                            lambda rep, model: suggest(self.dataset, col, tags, rep, model),
                            self._suggest_done)

    def _suggest_done(self, s: Suggested, elapsed: float) -> None:
        self.suggested = s
        self.view_theme = None
        spec = ViewSpec(restrict=s.rows, restrict_label=f"tag these {s.rows.height} rows next ({s.column})")
        self._apply_view(spec, then=lambda: self._show_suggestions(s, elapsed))

    def _show_suggestions(self, s: Suggested, elapsed: float) -> None:
        body = Text()
        body.append(f"{s.rows.height} rows whose tags would teach most", "bold")
        body.append(f" ({elapsed:.1f} s)\n")
        body.append("learnt from ", "dim")
        body.append(", ".join(f"{t} ({n})" for t, n in s.tags.items()))
        if s.left_out:
            body.append("\nleft out (one row only): ", "dim")
            body.append(", ".join(s.left_out))
        if s.held_out_accuracy is not None:
            body.append(f"\nheld-out accuracy {s.held_out_accuracy:.2f}", "dim")
        body.append("\nmodel ", "dim")
        body.append(s.model, "cyan")
        body.append("\na accepts the suggested tag, b passes, 1-9 tag by hand; S again after a few tags; "
                    "x shows all rows\n", "dim")
        for row, tag, score in s.rows.iter_rows():  # the table's suggestion columns sit far right
            body.append(f"\nrow {row + 1:>6}  ")
            body.append(str(tag or "-"), "bold")  # plain Text: a tag name is never markup
            body.append(f"  {score:.2f}", "dim")
        self.side.results(body, "suggest tags")
        self._update_status(f"suggested tags for {s.rows.height} rows")
        if s.column in self.model.columns:
            self.table.move_to(0, self.model.columns.index(s.column))

    def _suggestion_here(self) -> tuple[int, list[str]] | None:
        """(row id, proposed tags) of the cursor row, when the suggestions are in view."""
        s = self.suggested
        row_id = self._current_row_id()
        if s is None or row_id is None or self.model.spec.restrict is not s.rows:
            self.notify("no suggestion here: press S to suggest tags", timeout=3)
            return None
        hit = s.rows.filter(pl.col(ROW) == row_id)
        if hit.height == 0 or hit["suggested_tag"][0] is None:
            return None
        return row_id, [t for t in hit["suggested_tag"][0].split(";") if t]

    def action_accept_suggestion(self) -> None:
        here = self._suggestion_here()
        if here is None:
            return
        row_id, proposed = here
        have = self.annotations.tags.get(row_id, set())
        added = [t for t in proposed if t not in have]
        for t in added:
            self.annotations.toggle_tag(row_id, t)  # journaled and undoable like a key press
        self.table.refresh_row(self.table.cursor_row)
        self._next_row()
        self._update_status(f"row {row_id + 1}: accepted {', '.join(proposed)}" if added
                            else f"row {row_id + 1} already has {', '.join(proposed)}")

    def action_reject_suggestion(self) -> None:
        here = self._suggestion_here()
        if here is not None:
            self._next_row()
            self._update_status(f"row {here[0] + 1}: passed over {', '.join(here[1])}")

    def _next_row(self) -> None:
        if self.table.cursor_row + 1 < self.model.row_count:
            self.table.move_to(self.table.cursor_row + 1)
