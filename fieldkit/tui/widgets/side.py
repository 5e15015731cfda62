"""The dataset screen's side panel: column profile, themes list, or a results page, one at a time."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.display import display_text
from fieldkit.tui import actions as A
from fieldkit.tui.messages import ThemeChosen, ThemeRename, ThemeReviewed
from fieldkit.tui.widgets.profile import ProfilePanel

PANES = {"profile": "profile-scroll", "themes": "themes", "results": "results-scroll"}


class ThemeList(OptionList):
    """The themes of the last run; Enter shows a theme's rows, r renames, v marks reviewed."""

    BINDINGS = A.bindings([a for a in A.THEME_LIST_ACTIONS if a.action != "select"])

    def show_themes(self, themes: Any) -> None:
        """Fill the list from a ThemeState (labels, sizes, keywords, an example), "other" last."""
        keep = self.highlighted
        self.clear_options()
        if themes is None:
            return
        sizes = themes.sizes()
        order = sorted(themes.labels, key=lambda t: (t < 0, -sizes.get(t, 0)))
        options = [Option(Text.assemble(("all rows", "bold"), (" (x)", "dim")), id="theme-all")]
        for t in order:
            meta = themes.info.get(t, {})
            done = "✓ " if t in themes.reviewed else ""
            body = Text(no_wrap=True, overflow="ellipsis")
            body.append(done + display_text(themes.labels[t]), style="bold green" if done else "bold")
            body.append(f"  {sizes.get(t, 0):,}", style="cyan")
            if meta.get("keywords"):
                body.append("\n  " + display_text(", ".join(meta["keywords"][:6])), style="dim")
            if meta.get("examples"):  # right-to-left answers in visual order, controls escaped
                body.append("\n  “" + display_text(meta["examples"][0][:200].replace("\n", " ")) + "”",
                            style="italic")
            options.append(Option(body, id=f"theme-{t}"))
        self.add_options(options)
        if keep is not None and keep < len(options):
            self.highlighted = keep

    def highlighted_theme(self) -> int | None:
        if self.highlighted is None:
            return None
        return theme_of(self.get_option_at_index(self.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(ThemeChosen(theme_of(event.option.id)))

    def action_rename(self) -> None:
        self.post_message(ThemeRename(self.highlighted_theme()))

    def action_reviewed(self) -> None:
        self.post_message(ThemeReviewed(self.highlighted_theme()))


def theme_of(option_id: str | None) -> int | None:
    """The theme id behind an option id (None for "all rows")."""
    if option_id and option_id.startswith("theme-") and option_id != "theme-all":
        return int(option_id.split("-", 1)[1])
    return None


class SidePanel(Vertical):
    """Profile, themes or results under one title line; `p` hides it."""

    def compose(self) -> ComposeResult:
        yield Static("profile", id="side-title")
        with ContentSwitcher(initial="profile-scroll", id="side-switch"):
            with VerticalScroll(id="profile-scroll"):
                yield ProfilePanel("select a column", id="profile")
            yield ThemeList(id="themes")
            with VerticalScroll(id="results-scroll"):
                yield Static("", id="results")

    @property
    def pane(self) -> str:
        current = self.query_one(ContentSwitcher).current
        return next((k for k, v in PANES.items() if v == current), "profile")

    def show(self, which: str, title: str | Text = "") -> None:
        """Switch to a pane and set the title (names in titles are plain text, never markup)."""
        self.display = True
        self.query_one(ContentSwitcher).current = PANES[which]
        self.set_title(title or which)

    def set_title(self, title: str | Text) -> None:
        self.query_one("#side-title", Static).update(title if isinstance(title, Text) else Text(title, "bold"))

    def results(self, body: Any, title: str | Text = "") -> None:
        """Show a results page (a search, duplicates, a summary)."""
        self.show("results", title or "results")
        self.query_one("#results", Static).update(body)

    def clear_results(self) -> None:
        """Back to the profile: the last search or duplicates page no longer describes the table."""
        self.query_one("#results", Static).update("")
        if self.pane == "results":
            self.show("profile")
