"""Every user action in one list: the key bindings, the help screen and the command palette use it.

Keeping one registry means a key cannot exist without a help line and a palette entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    keys: str          # Textual key names, comma separated
    action: str        # action name on the screen or app
    title: str         # palette title
    help: str          # one line for the help screen
    group: str         # help section
    display: str = ""  # how the key is shown, when it differs from `keys`
    show: bool = False  # shown in the footer


APP_ACTIONS = [
    Action("f1,question_mark", "app.help", "Help: all keys", "show this help", "General", "F1 / ?"),
    Action("ctrl+p", "app.command_palette", "Command palette", "search every action by name", "General", "Ctrl+P"),
    Action("ctrl+o", "app.browse", "Open a file", "file browser (recent files, sample_data)", "General", "Ctrl+O"),
    Action("f2", "app.toggle_dark", "Toggle light/dark theme", "switch between the light and dark theme", "General", "F2"),
    Action("ctrl+q", "app.quit", "Quit", "quit (annotations are already journaled)", "General", "Ctrl+Q"),
]

DATASET_ACTIONS = [
    Action("s", "sort", "Sort by column", "sort by the selected column (again: descending, then off)", "Table"),
    Action("f", "filter", "Filter rows (SQL WHERE)", 'filter with a SQL WHERE clause, e.g. "Age" > 30', "Table"),
    Action("x", "clear_view", "Clear filter / results view", "show all rows again (drops filter, theme, search view)", "Table"),
    Action("colon", "jump", "Jump to row", "go to a row number", "Table", ":"),
    Action("semicolon", "goto_column", "Go to column", "column picker: names, types, survey roles; type to search",
           "Table", ";"),
    Action("slash", "find", "Find text in column", "find text in the selected column (case and accents ignored)",
           "Table", "/"),
    Action("n", "find_next", "Find next", "next match of the last find", "Table"),
    Action("N", "find_prev", "Find previous", "previous match of the last find", "Table"),
    Action("enter", "detail", "Row detail and note", "show the whole row; edit its note", "Table", "Enter"),
    Action("w", "choose_sheet", "Choose sheet", "open another sheet of a workbook", "Table"),
    Action("p", "toggle_panel", "Toggle side panel", "show or hide the side panel", "Table"),
    Action("tab", "focus_next", "Next pane", "move focus between the table and the themes list", "Table", "Tab"),
    Action("1,2,3,4,5,6,7,8,9", "tag", "Toggle tag N", "toggle tag N on the current row (several tags per row)", "Annotate", "1-9"),
    Action("c", "note", "Note on row", "write a note on the current row", "Annotate"),
    Action("T", "name_tag", "Name a tag", "give tag N a name (e.g. 2 = follow-up)", "Annotate"),
    Action("u,ctrl+z", "undo", "Undo", "undo the last annotation", "Annotate", "u / Ctrl+Z"),
    Action("ctrl+s", "save", "Save to Parquet", "save data + annotations + provenance to Parquet", "Annotate", "Ctrl+S"),
    Action("K", "conflicts", "Show merge conflicts", "show only rows whose merge conflicts are open (again: all rows)",
           "Annotate"),
    Action("k", "pick_side", "Pick a side of a conflict", "list the row's conflicting values; the one picked is kept "
           "and the conflict closes (journaled, undoable)", "Annotate"),
    Action("S", "suggest_tags", "Suggest tags", "learn from your tags (2+ rows each), show the rows whose tags "
           "would teach most", "Annotate"),
    Action("a", "accept_suggestion", "Accept suggested tag", "tag the row with the suggested tag, go to the next",
           "Annotate"),
    Action("b", "reject_suggestion", "Pass over suggested tag", "leave the suggested tag off, go to the next",
           "Annotate"),
    Action("e", "embed", "Embed column", "compute embeddings of the selected text column (cached)", "Analyse"),
    Action("m", "semantic_search", "Semantic search", "search the selected column by meaning; rows ranked", "Analyse"),
    Action("t", "themes", "Find themes", "cluster the selected column into themes (list in the panel)", "Analyse"),
    Action("d", "dupes", "Find duplicates", "group near-duplicate answers of the selected column", "Analyse"),
    Action("z", "summarize", "Summarize column", "summarize the selected column over the rows in view", "Analyse"),
    Action("A", "summarize_abstractive", "Summarize column with the model", "abstractive summary by the local model; streams in", "Analyse"),
    Action("Z", "summarize_groups", "Summarize per group", "one summary per value of a group column", "Analyse"),
    Action("M", "choose_model", "Choose embedding model", "pick the embedding model (auto: multilingual "
           "when the column is not English)", "Analyse"),
    Action("C", "chart", "Chart of the view", "chart in the terminal: theme shares (themes listed), else the "
           "column's histogram, rows per day or top values", "Analyse"),
    Action("ctrl+e", "export_report", "Export the HTML report", "write the report (charts, tables, provenance) "
           "of the data with its annotations", "Analyse", "Ctrl+E"),
    Action("escape", "cancel_job", "Cancel running job", "cancel the running analysis (Ctrl+C too)", "Analyse", "Esc"),
    Action("L", "labels", "Form labels / codes", "with --form: question and choice labels in each language of "
           "the form, then the stored codes", "Survey"),
    Action("exclamation_mark", "findings", "Check findings as a filter", "run the survey checks (fieldkit "
           "check) and show the rows with findings of one check", "Survey", "!"),
    Action("E", "edit_cell", "Fix a cell (cleaning log)", "new value for the cell; logged with a reason in "
           "NAME.cleaning-log.csv for `fieldkit clean --log`", "Survey"),
]

THEME_LIST_ACTIONS = [
    Action("enter", "select", "Show theme's rows", "filter the table to the theme", "Themes list", "Enter"),
    Action("r", "rename", "Rename theme", "rename the highlighted theme", "Themes list"),
    Action("v", "reviewed", "Mark theme reviewed", "mark the highlighted theme reviewed (again: unmark)", "Themes list"),
]

LOG_ACTIONS = [
    Action("enter", "select", "Show template's lines", "show the lines of the highlighted template", "Logs", "Enter"),
    Action("D", "digest", "Log digest", "show the digest (counts, levels, rare and new templates)", "Logs"),
    Action("z", "summarize", "Summarize log", "write the log summary (streams in)", "Logs"),
    Action("f", "filter", "Filter lines", "filter lines by level, text, time, host, process, component or "
           "a parameter value", "Logs"),
    Action("a", "all_lines", "Show all lines", "show every line again (drops the filter)", "Logs"),
    Action("ctrl+s", "save", "Save lines to Parquet", "save every line with its template_id and template", "Logs", "Ctrl+S"),
    Action("C", "chart", "Template timeline", "chart the highlighted template's lines over time", "Logs"),
    Action("ctrl+e", "export_report", "Export the HTML report", "write the log report (levels and error "
           "templates over time)", "Logs", "Ctrl+E"),
    Action("escape", "cancel_job", "Cancel running job", "cancel the running analysis", "Logs", "Esc"),
]

BROWSER_ACTIONS = [
    Action("enter", "open", "Open highlighted file", "open the highlighted file or folder", "Browser", "Enter"),
    Action("backspace", "up", "Parent folder", "go to the parent folder", "Browser", "Backspace"),
    Action("s", "sample_data", "Go to sample_data", "jump to the bundled sample_data folder", "Browser"),
    Action("r", "recent", "Recent files", "focus the list of recent files", "Browser"),
]


def bindings(actions: list[Action], priority: bool = False) -> list[Binding]:
    out = []
    for a in actions:
        if a.action in ("tag",):
            for k in a.keys.split(","):
                out.append(Binding(k, f"tag({k})", f"tag {k}", show=False))
            continue
        out.append(Binding(a.keys, a.action, a.title, show=a.show, priority=priority))
    return out
