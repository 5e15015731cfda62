"""Analysis actions of the dataset screen: embed, search, themes, duplicates, summaries, models.

Each runs the backend's job function in a worker (`start_job`); results come back to the
`_..._done` methods on the UI thread.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import polars as pl
from rich.text import Text
from textual import on

from fieldkit.errors import FieldkitError
from fieldkit.tui.messages import ThemeChosen, ThemeRename, ThemeReviewed
from fieldkit.tui.jobs import JobScreen
from fieldkit.tui.model import ROW, ViewSpec
from fieldkit.tui.screens.modals import PromptModal
from fieldkit.tui.widgets.side import ThemeList


MAX_GROUPS = 12  # group summaries shown in the panel (largest groups first)


def theme_state(r) -> tuple:
    """(result, (row_ids, labels, scores, info)) for Annotations.set_themes, built in the worker.

    Ids and scores are the pipeline's own columns, so a saved file holds the CLI's values.
    """
    from fieldkit.analysis.themes import OTHER_ID, OTHER_LABEL

    res = r.outcome.result
    ids = r.columns["theme_id"].to_list()
    labels = dict(res.labels_by_id)
    if OTHER_ID in set(ids):
        labels.setdefault(OTHER_ID, OTHER_LABEL)
    scores = {i: s for i, s in enumerate(r.columns["theme_score"].to_list()) if s is not None}
    info = {t.id: {"keywords": list(t.keywords)[:8], "examples": [x[:300] for x in t.examples[:3]], "size": t.size,
                   "label": t.label} for t in res.themes}
    return r, (dict(enumerate(ids)), labels, scores, info)


class AnalyseActions(JobScreen):
    """Part of DatasetScreen: jobs on the selected text column, and the themes list.

    A Screen subclass (not a plain mixin) so that Textual registers its @on handlers.
    """

    def _text_column(self) -> str | None:
        if not self._ready():
            return None
        if self.current_column is None or self.current_column not in self.model.data_columns:
            self.notify("select a data column first", severity="warning", timeout=3)
            return None
        return self.current_column

    def _model_for(self, column: str) -> str | None:
        """The user's choice, else the model the pipeline will pick for this column (runs in the worker)."""
        if self.embed_model is not None:
            return self.embed_model
        return self.app.backend.choose_model(self.dataset.text_column(column).to_list())

    def _job_model(self, model: str | None) -> None:
        self.last_model = model
        self.query_one("#jobbar").set_model(model)

    def _run_model_job(self, job: str, label: str, column: str, fn, done) -> None:
        """Name the model in the job bar, then run fn(reporter, model) with the user's choice or None (auto).

        None lets the pipeline choose, exactly as the CLI does, so provenance records the same choice.
        """
        def run(reporter):
            self.app.call_from_thread(self._job_model, self._model_for(column))
            return fn(reporter, self.embed_model)

        self.start_job(job, label, run, done)

    def _record(self, result, columns: bool = True) -> None:
        """Keep a job's columns and its provenance step for the next save (a rerun replaces both).

        Themes keep their columns in the annotations instead (renames and reviews are journaled there).
        """
        if columns:
            self.job_columns.update(result.columns)
        self.steps = [s for s in self.steps if s.get("operation") != result.step.get("operation")]
        self.steps.append(result.step)
        self.last_model = result.step.get("model") or self.last_model

    # ---- embed, search ----

    def action_embed(self) -> None:
        col = self._text_column()
        if col is not None:
            backend = self.app.backend
            self._run_model_job("embed", f"embedding {col}", col,
                                lambda rep, model: backend.embed(self.dataset, col, rep, model=model),
                                self._embed_done)

    def _embed_done(self, r, elapsed: float) -> None:
        e = r.outcome  # the vectors stay in the cache for search/themes/dupes; they are not saved here
        self.last_model = e.model
        self._update_status(f"embedded {e.rows:,} rows of {e.column} (dim {e.dim}) in {elapsed:.1f} s")

    def action_semantic_search(self) -> None:
        col = self._text_column()
        if col is not None:
            self.app.push_screen(PromptModal(f"Semantic search in {col}", "", "what are you looking for?"),
                                 partial(self._search_entered, col))

    def _search_entered(self, col: str, query: str | None) -> None:
        if not query:
            return
        backend = self.app.backend
        self._run_model_job("search", f"searching {col}", col,
                            lambda rep, model: backend.search(self.dataset, col, query, rep, model=model),
                            partial(self._search_done, col, query))

    def _search_done(self, col: str, query: str, r, elapsed: float) -> None:
        from fieldkit.tui.backend import hits_view

        hits = hits_view(r.outcome)
        spec = ViewSpec(restrict=hits, restrict_label=f"search {query!r} in {col}")
        self.view_theme = None
        self._apply_view(spec, then=partial(self._show_search, col, query, hits, r.step.get("model"), elapsed))

    def _show_search(self, col: str, query: str, hits: pl.DataFrame, model: str | None, elapsed: float) -> None:
        body = Text.assemble((f"{hits.height} rows ranked by meaning", "bold"), f" ({elapsed:.1f} s)\n",
                             ("model ", "dim"), (str(model), "cyan"), "\nscores in the score column; x shows all rows")
        self.side.results(body, f"search: {query}")
        self._update_status(f"search: best score {hits['score'][0]:.3f}" if hits.height else "no hits")
        if col in self.model.columns:
            self.table.move_to(0, self.model.columns.index(col))

    # ---- themes ----

    def action_themes(self) -> None:
        col = self._text_column()
        if col is not None:
            backend = self.app.backend
            self._run_model_job("themes", f"themes of {col}", col,
                                lambda rep, model: theme_state(backend.themes(self.dataset, col, rep, model=model)),
                                self._themes_done)

    def _themes_done(self, done, elapsed: float) -> None:
        r, state = done
        t = r.outcome
        self.annotations.set_themes(t.column, *state, model=t.model)
        self._record(r, columns=False)
        self.show_themes()
        self.query_one(ThemeList).focus()
        self._update_status(f"{len(t.result.themes)} themes in {elapsed:.1f} s — Enter shows a theme's rows")

    def show_themes(self) -> None:
        """The themes list from the annotation state, titled with the column and the model."""
        themes = self.annotations.themes if self.annotations is not None else None
        self.query_one(ThemeList).show_themes(themes)
        if themes is None:
            self.side.show("profile")
            return
        title = Text.assemble(("themes", "bold"))
        if themes.column:
            title.append(f" of {themes.column}", "bold")
        model = themes.model or self.last_model
        if model:
            title.append(f"  {model}", "cyan")
        self.side.show("themes", title)

    @on(ThemeChosen)
    def _theme_chosen(self, message: ThemeChosen) -> None:
        tid = message.theme
        if tid is None:
            self.action_clear_view()
            return
        themes = self.annotations.themes
        rows = sorted(r for r, t in themes.row_ids.items() if t == tid)
        restrict = pl.DataFrame({ROW: pl.Series(rows, dtype=pl.Int64)})
        self.view_theme = (tid, restrict)
        self._apply_view(ViewSpec(restrict=restrict, restrict_label=f"theme: {themes.labels[tid]}"),
                         then=partial(self._theme_shown, tid, len(rows)))

    def _theme_shown(self, tid: int, n: int) -> None:
        themes = self.annotations.themes
        if themes.column and themes.column in self.model.columns:
            self.table.move_to(0, self.model.columns.index(themes.column))
        self._update_status(f"{n:,} rows in theme {themes.labels[tid]!r}")

    @on(ThemeRename)
    def _theme_rename(self, message: ThemeRename) -> None:
        tid = message.theme
        if tid is not None and self.annotations is not None and self.annotations.themes is not None:
            self.app.push_screen(PromptModal("Rename theme", self.annotations.themes.labels[tid]),
                                 partial(self._theme_renamed, tid))

    def _theme_renamed(self, tid: int, value: str | None) -> None:
        if value and value.strip():
            self.annotations.rename_theme(tid, value.strip())
            self.show_themes()
            self._update_title()  # a view of this theme shows its new name
            self._update_status(f"theme renamed to {value.strip()!r}")

    @on(ThemeReviewed)
    def _theme_reviewed(self, message: ThemeReviewed) -> None:
        tid = message.theme
        if tid is None or self.annotations is None or self.annotations.themes is None:
            return
        now = tid not in self.annotations.themes.reviewed
        self.annotations.set_reviewed(tid, now)
        self.show_themes()
        self._update_status(f"theme {self.annotations.themes.labels[tid]!r} " + ("reviewed" if now else "not reviewed"))

    # palette entries for the themes list (work without focusing it first)
    def action_theme_select(self) -> None:
        lst = self.query_one(ThemeList)
        if lst.option_count:
            self.side.show("themes")
            lst.focus()
            lst.action_select()

    def action_theme_rename(self) -> None:
        self._theme_rename(ThemeRename(self.query_one(ThemeList).highlighted_theme()))

    def action_theme_reviewed(self) -> None:
        self._theme_reviewed(ThemeReviewed(self.query_one(ThemeList).highlighted_theme()))

    def action_focus_next(self) -> None:
        """Tab: between the table and the themes list (when it is showing)."""
        if self.table.has_focus and self.side.display and self.side.pane == "themes":
            self.query_one(ThemeList).focus()
        else:
            self.table.focus()

    # ---- duplicates ----

    def action_dupes(self) -> None:
        col = self._text_column()
        if col is not None:
            backend = self.app.backend
            self._run_model_job("dupes", f"duplicates in {col}", col,
                                lambda rep, model: backend.dupes(self.dataset, col, rep, model=model),
                                partial(self._dupes_done, col))

    def _dupes_done(self, col: str, r, elapsed: float) -> None:
        from fieldkit.tui.backend import dupes_view

        groups = dupes_view(r.columns)
        self._record(r)  # saved like `fieldkit dupes -o`: dup_group/dup_size on every row
        if groups.height == 0:
            self.notify(f"no duplicates in {col}", timeout=4)
            return
        self.view_theme = None
        n = groups["dup_group"].n_unique()
        body = Text.assemble((f"{n:,} groups", "bold"), f" of near-duplicates\n{groups.height:,} rows\n",
                             f"({elapsed:.1f} s, model ", (str(r.outcome.model), "cyan"), ")\n\nx shows all rows")
        self._apply_view(ViewSpec(restrict=groups, restrict_label=f"duplicates in {col}"),
                         then=partial(self._dupes_shown, body, n, groups.height))

    def _dupes_shown(self, body: Text, n: int, rows: int) -> None:
        self.side.results(body, "duplicates")
        self._update_status(f"{n:,} duplicate groups, {rows:,} rows")

    # ---- summaries ----

    def action_summarize_abstractive(self) -> None:
        self.action_summarize(mode="abstractive")

    def action_summarize(self, mode: str = "auto") -> None:
        col = self._text_column()
        if col is None:
            return
        backend = self.app.backend
        filtered = bool(self.model.spec.where or self.model.spec.restrict is not None)
        # all rows: the dataset itself (its cached embeddings); a view: the frame of its rows
        data = self.model.view_lazy().select(col).collect() if filtered else self.dataset
        n = data.height if filtered else self.model.total_rows
        column: str | None = col
        if not filtered and self.dataset.format == "text":  # a text file is one document, not a list of lines
            data, column = self.dataset.path, None
        self._begin_summary(f"summary of {col} ({'rows in view' if filtered else 'all rows'}, {n:,} rows)"
                            if column else f"summary of {self.dataset.path.name} (the whole text)")
        self.start_job("summarize", f"summarizing {col}",
                       lambda rep: backend.summarize(data, column, rep, mode=mode,
                                                     on_token=self.token_callback("summarize", rep)),
                       self._summary_done, on_token=self._summary_token)

    def action_summarize_groups(self) -> None:
        col = self._text_column()
        if col is not None:
            self.app.push_screen(PromptModal(f"Summarize {col} per group: group column", "", "column name"),
                                 partial(self._summary_groups_entered, col))

    def _summary_groups_entered(self, col: str, by: str | None) -> None:
        from fieldkit.tui.screens.dataset_table import match_column

        if not by:
            return
        by_col = match_column(self.model.data_columns, by.strip())
        if by_col is None:
            try:
                self.dataset.require_column(by.strip())  # raises with "did you mean"
            except FieldkitError as exc:
                self.app.show_error(exc)
            return
        frame = self.model.view_lazy().select(list(dict.fromkeys([col, by_col]))).collect()
        backend = self.app.backend
        self._begin_summary(f"summary of {col} per {by_col}")
        self.start_job("summarize", f"summarizing {col} per {by_col}",
                       lambda rep: backend.summarize(frame, col, rep, by=by_col, max_groups=MAX_GROUPS,
                                                     on_token=self.token_callback("summarize", rep)),
                       self._summary_done, on_token=self._summary_token)

    def _begin_summary(self, title: str) -> None:
        self.last_summary = ""
        self._summary_title = title
        self.side.results(Text.assemble((title, "bold"), ("\n\nworking…", "dim")), "summary")

    def _panel_text(self, text: str) -> str:
        """Data text for the side panel: wrapped to its width, controls escaped, right-to-left lines in visual order."""
        from fieldkit.display import display_lines

        width = max(16, self.side.content_size.width - 1)
        return "\n".join("\n".join(display_lines(line, width)) for line in text.split("\n"))

    def _summary_token(self, text: str) -> None:
        self.last_summary += text
        self.side.results(Text.assemble((self._summary_title, "bold"), "\n\n", self._panel_text(self.last_summary)),
                          "summary")

    def _summary_done(self, r, elapsed: float) -> None:
        s = r.outcome
        self.last_summary = s.markdown().strip() if s.by else s.groups[0].summary.text
        used = next((g.summary for g in s.groups), None)
        mode = used.mode if used is not None else s.mode
        model = r.step.get("model")
        self.side.results(Text.assemble((self._summary_title, "bold"), "\n\n", self._panel_text(self.last_summary),
                                        (f"\n\n{mode}{' · ' + model if model else ''} · {elapsed:.1f} s", "dim")),
                          "summary")
        self._update_status(f"summary ready ({mode}, {elapsed:.1f} s)")

    # ---- models ----

    def action_choose_model(self) -> None:
        """M: pick the embedding model among those installed (or automatic per column)."""
        models = self.app.backend.embedding_models()
        current = self.embed_model or "auto"
        self.app.push_screen(PromptModal("Embedding model (auto = multilingual when the column is not English)",
                                         current, "auto", "installed: " + ", ".join(["auto", *models])),
                             partial(self._model_chosen, models))

    def _model_chosen(self, models: list[str], value: str | None) -> None:
        from fieldkit.errors import UsageError
        from fieldkit.tui.screens.dataset_table import match_column

        if value is None:
            return
        value = value.strip()
        if value in ("", "auto"):
            self.embed_model = None
            self._update_status("model: automatic per column")
            return
        chosen = match_column(models, value)
        if chosen is None:
            self.app.show_error(UsageError(f"no installed embedding model {value!r}",
                                           "installed: " + ", ".join(models) + "; `fieldkit models prepare ID` adds one"))
            return
        self.embed_model = chosen
        self._update_status(f"model: {chosen}")

    def column_facts(self, column: str) -> Any:
        """Survey facts about a column for the profile panel (roles, options, hints)."""
        from fieldkit.tui.roles import column_facts

        return column_facts(self.dataset, self.model.sample_frame(), column)

    def column_entries(self) -> list:
        from fieldkit.tui.roles import column_entries

        return column_entries(self.dataset, self.model.sample_frame(), self.model.columns)


