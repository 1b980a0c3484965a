"""Every key the app answers to, built from the bindings themselves so it cannot drift."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, list[tuple[str, str]]]  # (title, [(keys, what they do)])


def help_renderable(intro: str, sections: list[Section]) -> Group:
    parts: list = [Text("Keys", style="bold underline"), Text(intro, style="dim"), Text()]
    for title, rows in sections:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=16)
        table.add_column()
        for keys, what in rows:
            table.add_row(keys, what)
        parts += [Text(title, style="bold"), table, Text()]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close help")]

    def __init__(self, intro: str, sections: list[Section]) -> None:
        super().__init__()
        self.intro = intro
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(help_renderable(self.intro, self.sections))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
