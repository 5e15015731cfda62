"""The fieldkit Textual app: screens for browsing, datasets and logs; help, palette, errors, themes."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding
from fieldkit.tui.text import escape
from textual.screen import Screen

from fieldkit.errors import InputError
from fieldkit.tui import actions as A
from fieldkit.tui import settings
from fieldkit.tui.screens.modals import ErrorModal, TextModal

LOG_SUFFIXES = (".log", ".out")


def help_table() -> Table:
    """Every key of every screen, from the same registry the bindings come from."""
    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 2), expand=True)
    t.add_column("key", style="bold cyan", max_width=14)
    t.add_column("does", ratio=1)
    groups: dict[str, list[A.Action]] = {}
    for a in A.APP_ACTIONS + A.DATASET_ACTIONS + A.THEME_LIST_ACTIONS + A.LOG_ACTIONS + A.BROWSER_ACTIONS:
        groups.setdefault(a.group, []).append(a)
    for group, items in groups.items():
        t.add_row(Text(group, style="bold underline"), "")
        for a in items:
            t.add_row(a.display or a.keys, a.help)
        t.add_row("", "")
    t.add_row(Text("Everywhere", style="bold underline"), "")
    t.add_row("arrows PgUp PgDn Home End g G", "move in the table (mouse works too)")
    t.add_row("Tab / Shift+Tab", "move between panes")
    return t


class FieldkitApp(App):
    """Open a dataset or log, explore it, run local analyses, annotate and save to Parquet."""

    TITLE = "fieldkit"
    CSS_PATH = "app.tcss"
    BINDINGS = A.bindings(A.APP_ACTIONS) + [Binding("ctrl+c", "interrupt", "Cancel job / quit", show=False,
                                                   priority=True)]
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, path: str | os.PathLike | None = None, backend=None, form: str | os.PathLike | None = None,
                 lang: str | None = None, checks: str | os.PathLike | None = None) -> None:
        from fieldkit.tui.backend import Backend

        super().__init__()
        self.start_path = Path(path) if path else None
        self.form = (Path(form), lang) if form else None  # the XLSForm of the file opened (--form, --lang)
        self.checks_config = checks  # CHECKS.toml for the findings filter (--config), else the defaults
        self.backend = backend if backend is not None else Backend()  # tests pass a fake
        theme = settings.load().get("theme")
        if theme in ("textual-dark", "textual-light"):
            self.theme = theme

    def on_mount(self) -> None:
        from fieldkit.tui.screens.browser import BrowserScreen

        p = self.start_path
        if p is None:
            self.push_screen(BrowserScreen(Path.cwd()))
        elif p.is_dir():
            self.push_screen(BrowserScreen(p))
        else:
            folder = p.parent if p.parent.exists() else Path.cwd()
            self.push_screen(BrowserScreen(folder))
            self.open_path(p)

    # ---- navigation ----

    def open_path(self, path: str | os.PathLike) -> None:
        """Open a file (dataset or log) on top of the browser, or show a folder in the browser."""
        from fieldkit.tui.screens.browser import BrowserScreen

        path = Path(path).expanduser()
        if not path.exists():
            self.show_error(InputError(f"{path} does not exist", "check the path and spelling"))
            return
        if path.is_dir():
            self._to_browser()
            screen = self.screen
            if isinstance(screen, BrowserScreen):
                screen._set_folder(path.resolve())
            return
        self._to_browser()
        if is_log(path):
            from fieldkit.tui.screens.logs import LogScreen

            self.push_screen(LogScreen(path))
        else:
            from fieldkit.tui.screens.dataset import DatasetScreen

            self.push_screen(DatasetScreen(path))

    def form_for(self, path: str | os.PathLike) -> tuple[Path, str | None] | None:
        """(form, language) for the file given on the command line with --form; None for others."""
        if self.form is None or self.start_path is None:
            return None
        return self.form if Path(path).resolve() == self.start_path.resolve() else None

    def _to_browser(self) -> None:
        from fieldkit.tui.screens.browser import BrowserScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, BrowserScreen):
            self.pop_screen()

    def action_browse(self) -> None:
        self._to_browser()

    def remember_recent(self, path: str | os.PathLike) -> None:
        settings.add_recent(path)

    # ---- quitting: jobs never hold the process ----

    def job_screens(self):
        from fieldkit.tui.jobs import JobScreen

        return [s for s in self.screen_stack if isinstance(s, JobScreen)]

    async def action_quit(self) -> None:
        """Cancel every running job (their threads stop at the next check), then exit."""
        for screen in self.job_screens():
            screen.cancel_all_jobs()
        self.exit()

    async def action_interrupt(self) -> None:
        """Ctrl+C as in any terminal tool: cancel the running job; with none running, quit."""
        running = [s for s in self.job_screens() if s.job_running]
        if running:
            for screen in running:
                screen.cancel_all_jobs()
            self.notify("cancelling… (Ctrl+C again quits)", timeout=2)
            return
        await self.action_quit()

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Notifications carry names from the data (columns, files): never parsed as markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # ---- errors, help, theme ----

    def show_error(self, error: BaseException, title: str = "Error") -> None:
        self.push_screen(ErrorModal(error, title))

    def action_help(self) -> None:
        if isinstance(self.screen, TextModal):
            return
        self.push_screen(TextModal("fieldkit — keys", help_table()))

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        settings.update(theme=self.theme)

    # ---- command palette: every action of the current screen ----

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from fieldkit.tui.screens.browser import BrowserScreen
        from fieldkit.tui.screens.dataset import DatasetScreen

        yield from super().get_system_commands(screen)
        for a in A.APP_ACTIONS:
            if a.action not in ("app.command_palette", "app.quit"):
                yield command(a.title, f"{a.help} [{a.display or a.keys}]",
                              partial(self.call_later, self.run_action, a.action))
        target = screen
        acts: list[A.Action] = []
        if isinstance(screen, DatasetScreen):
            acts = A.DATASET_ACTIONS + A.THEME_LIST_ACTIONS
        elif isinstance(screen, BrowserScreen):
            acts = A.BROWSER_ACTIONS
        else:
            from fieldkit.tui.screens.logs import LogScreen

            if isinstance(screen, LogScreen):
                acts = A.LOG_ACTIONS
        for a in acts:
            if a.action == "tag":
                for k in range(1, 10):
                    yield command(f"Toggle tag {k}", f"toggle tag {k} on the current row [{k}]",
                                  partial(self.call_later, target.run_action, f"tag('{k}')"))
                continue
            if a.group == "Themes list":
                yield command(a.title, f"{a.help} [{a.display or a.keys} in the themes list]",
                              partial(self.call_later, target.run_action, f"theme_{a.action}"))
                continue
            if a.action in ("focus_next",):
                continue
            yield command(a.title, f"{a.help} [{a.display or a.keys}]",
                          partial(self.call_later, target.run_action, a.action))


def command(title: str, help_text: str, callback) -> SystemCommand:
    """A palette entry; the palette parses both strings as markup, so they are escaped here."""
    return SystemCommand(escape(title), escape(help_text), callback)


def is_log(path: Path) -> bool:
    """A log file (by name, or by the log loader's sniffing when it is available)."""
    name = path.name.lower()
    if name.endswith(LOG_SUFFIXES) or ".log." in name:
        return True
    if (path.suffix.lower() in (".txt", "") or path.suffix[1:].isdigit()) and path.is_file():  # rotated: x.0
        try:
            from fieldkit.io.logs import looks_like_log

            return bool(looks_like_log(path))
        except Exception:
            return False
    return False


QUIT_GRACE = 0.25  # seconds a cancelled job gets to stop by itself (temp files of atomic writes are swept later)


def run_app(path: str | None, form: str | None = None, lang: str | None = None,
            checks: str | None = None) -> None:
    """Entry point used by `fieldkit` and `fieldkit open PATH`.

    A job thread stuck in one long native call (a model batch, a Polars collect) would keep
    the interpreter alive at exit; after a short grace the process leaves without it. Nothing
    is lost: annotations are journaled and fsynced on unmount, and outputs are written atomically.
    Quitting takes effect within about a second (`bench/tui_tmux_quit.py` measures it).
    """
    import asyncio
    import sys
    import time

    from fieldkit.tui.jobs import RUNNING_THREADS

    # our own loop: asyncio.run() would wait, without limit, for the executor's job threads
    loop = asyncio.new_event_loop()
    app = FieldkitApp(path, form=form, lang=lang, checks=checks)
    app.run(loop=loop)
    deadline = time.monotonic() + QUIT_GRACE
    for thread in list(RUNNING_THREADS):
        thread.join(max(0.0, deadline - time.monotonic()))
    # The screen is restored and every journal closed (fsynced) on unmount; the interpreter's
    # teardown of the loaded libraries (onnxruntime, scikit-learn) would add about a second.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)
