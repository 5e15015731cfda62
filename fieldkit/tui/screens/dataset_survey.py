"""Survey actions of the dataset screen: the questionnaire's labels, check findings as a filter,
and cell fixes written to the cleaning log that `fieldkit clean --log` applies.

The form, the checks and the log are the CLI's own (io.xlsform, pipelines.check,
analysis.cleaning), so what the analyst sees and fixes here is what the commands do.
"""

from __future__ import annotations

import datetime as _dt
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from rich.text import Text
from textual import work

from fieldkit.display import escape_controls
from fieldkit.errors import UsageError
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, ViewSpec
from fieldkit.tui.screens.modals import ChoiceModal, PromptModal

ALL = "*"  # the findings picker's "every check" entry


class SurveyActions(JobScreen):
    """Part of DatasetScreen (a Screen subclass so Textual registers its handlers)."""

    form: Any = None            # (Form, FormMatch) once the form given with --form is read
    label_lang: str | None = None  # the language shown; None shows the stored codes
    findings: pl.DataFrame | None = None

    # ---- the questionnaire's labels ----

    def load_form(self) -> None:
        """Read the form given for this file (fieldkit open PATH --form FORM.xlsx) in a worker."""
        spec = self.app.form_for(self.path)
        if spec is not None and self.form is None:
            self._read_form(*spec)

    @work(thread=True, group="form")
    def _read_form(self, path: Path, lang: str | None) -> None:
        from fieldkit.io.xlsform import match_columns, read_form

        try:
            form = read_form(path)
            lang = form.language(lang)  # a --lang the form lacks is refused here, with its languages
            match = match_columns(form, self.dataset.columns)
        except BaseException as exc:  # shown in a modal by the UI thread
            self.app.call_from_thread(self.app.show_error, exc, f"cannot use the form {Path(path).name}")
            return
        self.app.call_from_thread(self._form_read, form, match, lang)

    def _form_read(self, form, match, lang: str) -> None:
        self.form = (form, match)
        self.show_labels(lang)

    def show_labels(self, lang: str | None) -> None:
        """Question labels in the header, choice labels in the cells (None: the column names and codes)."""
        from fieldkit.io.xlsform import header_labels, value_labels

        if self.form is None or self.model is None:
            return
        form, match = self.form
        self.label_lang = lang
        if lang is None:
            self.model.set_labels({}, {})
        else:
            self.model.set_labels(header_labels(form, match, lang), value_labels(form, match, lang))
        self.table.reload(keep_cursor=True)
        self._update_status(f"labels: {lang}" if lang else "codes and column names (L: labels)")

    def action_labels(self) -> None:
        """L: the form's languages in turn, then the stored codes."""
        if self.form is None:
            self.notify("no form: open the file with `fieldkit open PATH --form FORM.xlsx`", timeout=4)
            return
        form = self.form[0]
        order = [*(form.languages or [form.default_language]), None]
        at = order.index(self.label_lang) if self.label_lang in order else -1
        self.show_labels(order[(at + 1) % len(order)])

    # ---- check findings as a filter ----

    def action_findings(self) -> None:
        """!: run `fieldkit check` on the file (the form and config given to open), then pick a check."""
        if not self._ready():
            return
        from fieldkit.pipelines.check import check

        spec = self.app.form_for(self.path)
        form, lang = spec if spec is not None else (None, None)
        config = self.app.checks_config
        ds = self.dataset
        self.start_job("check", f"checking {self.path.name}",
                       lambda rep: check(ds, form=form, config=config, lang=lang, reporter=rep),
                       self._checked)

    def _checked(self, job, elapsed: float) -> None:
        res = job.result
        self.findings = res.findings
        if res.findings.height == 0:
            self.notify("no findings", timeout=4)
            return
        body = Text.assemble((f"{res.findings.height:,} findings", "bold"), f" ({elapsed:.1f} s)\n")
        for r in res.by_check.iter_rows(named=True):
            body.append(f"\n{r['check']}", "bold")
            body.append(f" {r['severity']}  {_n(r['findings'], 'finding')}, "
                        f"{_n(r['submissions'], 'submission')}")
        # findings about an enumerator or a whole question have no row to filter to: shown here
        whole = res.findings.filter(pl.col("row").is_null())
        if whole.height:
            body.append("\n\nnot about one submission:", "bold")
        for r in whole.head(12).iter_rows(named=True):
            who = r["enumerator"] if r["check"] == "enumerator" else r["column"]
            body.append(f"\n{r['check']} ", "bold")
            body.append(escape_controls(f"{who}: {r['detail']}"))
        if whole.height > 12:
            body.append(f"\n... {whole.height - 12:,} more in the findings file", "dim")
        for note in res.skipped:
            body.append("\n\nskipped: " + escape_controls(note), "dim")
        self.side.results(body, "checks")
        rows = self.findings.filter(pl.col("row").is_not_null())
        choices = [(ALL, Text(f"every check  ({_n(rows['row'].n_unique(), 'row')})"))]
        for name, n in rows.group_by("check").agg(pl.col("row").n_unique()).sort("row", descending=True).rows():
            choices.append((name, Text.assemble((name, "bold"), f"  {_n(n, 'row')}")))
        self.app.push_screen(ChoiceModal("Show the rows with findings of", choices), self._finding_chosen)

    def _finding_chosen(self, check: str | None) -> None:
        if check is None or self.findings is None:
            return
        f = self.findings.filter(pl.col("row").is_not_null())
        if check != ALL:
            f = f.filter(pl.col("check") == check)
        restrict = (f.sort("row").group_by("row", maintain_order=True)
                    .agg(pl.col("check").unique(maintain_order=True).str.join(", ").alias("finding"),
                         pl.col("column").drop_nulls().unique(maintain_order=True).str.join(", ")
                         .alias("finding_column"),
                         pl.col("detail").first().alias("finding_detail"))
                    .rename({"row": ROW}).with_columns(pl.col(ROW).cast(pl.Int64)))
        label = "findings" if check == ALL else f"findings: {check}"
        self.view_theme = None
        self._apply_view(ViewSpec(restrict=restrict, restrict_label=label),
                         then=partial(self._findings_shown, f"{restrict.height:,} rows with {label}; x shows all"))

    def _findings_shown(self, said: str) -> None:
        self.table.move_to(0, 0)  # the `finding` column first: why each row is here
        self._update_status(said)

    # ---- fixing a cell: one cleaning-log entry ----

    def action_edit_cell(self) -> None:
        """E: a new value for the cell; the change goes to the cleaning log and into the view."""
        from fieldkit.pipelines.clean import default_key

        if not self._ready() or self.model.row_count == 0:
            return
        col = self.current_column
        if col is None or col not in self.model.data_columns:
            self.notify("select a data column first", severity="warning", timeout=3)
            return
        key = default_key(self.model.data_columns)
        if key is None:
            self.app.show_error(UsageError("this file has no uuid/instanceID/KEY column",
                                           "a cleaning log finds each submission by its id"))
            return
        from fieldkit.analysis.cleaning import cell_text

        record = self.model.full_record(self.table.cursor_row)
        if record.get(key) is None:
            self.app.show_error(UsageError(f"this row has no {key}", "a cleaning log finds each submission by its id"))
            return
        uuid, old = str(record[key]), cell_text(record.get(col))
        self.app.push_screen(PromptModal(f"New value of {col}", old, "empty = no answer",
                                         f"{key} {uuid}; written to {self._log_path().name} (fieldkit clean --log)"),
                             partial(self._new_value, key, uuid, col, old))

    def _log_path(self) -> Path:
        from fieldkit.analysis.cleaning import log_path_for

        return log_path_for(self.path)

    def _new_value(self, key: str, uuid: str, col: str, old: str, new: str | None) -> None:
        if new is None or new == old:
            return
        self.app.push_screen(PromptModal(f"Why does {col} change?", "", "reason (kept in the log)"),
                             partial(self._log_change, key, {"uuid": uuid, "question": col, "old_value": old,
                                                             "new_value": new}))

    def _log_change(self, key: str, entry: dict[str, str], reason: str | None) -> None:
        """Check the change the way `fieldkit clean` will apply it, then log it and show it."""
        import getpass

        from fieldkit.analysis.cleaning import LOG_HEADER, append_entry, apply_log
        from fieldkit.errors import FieldkitError

        if reason is None:
            return
        entry = {**entry, "reason": reason.strip(), "who": getpass.getuser(),
                 "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        one = pl.DataFrame({"log_row": [1], **{c: [entry.get(c) or None] for c in LOG_HEADER}},
                           schema={"log_row": pl.Int64, **{c: pl.String for c in LOG_HEADER}})
        one = one.with_columns(pl.col(c).str.strip_chars() for c in LOG_HEADER)
        try:
            res = apply_log(self.model.base_lazy(), one, key)
            if res.refused.height:
                raise UsageError(f"not changed: {res.refused['problem'][0]}", "press x to see all rows, then try again")
            new_base = None if self.model.paged else res.frame.collect()
            path = append_entry(self._log_path(), entry)
        except FieldkitError as exc:
            self.app.show_error(exc)
            return
        self._count_fix(path)
        if new_base is not None:
            self.model.replace_base(new_base, complete=True)
            self.table.reload(keep_cursor=True)
            said = f"{entry['question']} of {entry['uuid']} changed; logged in {path.name}"
        else:
            said = f"logged in {path.name}; `fieldkit clean --log` applies it (the view pages from disk)"
        self._update_status(said)

    def _count_fix(self, log: Path) -> None:
        """The clean step saved with the data: which log, how many fixes were made here."""
        from fieldkit.files import sha256_fresh
        from fieldkit.pipelines.core import make_step, timed

        before = next((s for s in self.steps if s.get("operation") == "clean"), None)
        fixed = (before["parameters"]["applied"] if before else 0) + 1
        with timed() as clock:
            pass
        step = make_step("clean", {"log": str(log), "log_sha256": sha256_fresh(log), "applied": fixed,
                                   "from": "fieldkit open"}, clock)
        self.steps = [s for s in self.steps if s.get("operation") != "clean"] + [step]
        if self.annotations is not None:
            self.annotations.changes += 1  # unsaved until Ctrl+S


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
