"""Find interesting cells: a pattern, where to look for it, and the units that track it best.

The widget only asks (Find) and shows (results, an error); the pane runs the search on
a thread, because tracing a slice of the corpus takes seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Select, Static

from charrnn_tui.engine.generation.insight import UnitScore

SOURCES = (("this text", "text"), ("corpus slice", "corpus"))


def pattern_error(pattern: str) -> str | None:
    """Why `pattern` is not a usable regular expression, or None."""
    if not pattern:
        return "type a regular expression"
    try:
        re.compile(pattern, re.DOTALL)
    except re.error as e:
        return f"bad regular expression: {e}"
    return None


class InsightCells(Vertical):
    """A regex box, a source, Find, and the best units; picking a row posts UnitChosen."""

    @dataclass
    class Find(Message):
        """Rank the units on `pattern`, in the text shown or the model's corpus (`source`)."""

        pattern: str
        source: str

    @dataclass
    class UnitChosen(Message):
        """Show this unit's activations."""

        score: UnitScore

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scores: list[UnitScore] = []

    def compose(self) -> ComposeResult:
        yield Static("Find cells", classes="section")
        yield Input(placeholder='regex, e.g. "[^"]*"', id="ins-regex", compact=True,
                    tooltip="Units whose activation follows where this pattern matches")
        with Horizontal(id="ins-find-row"):
            yield Select(SOURCES, value="text", allow_blank=False, id="ins-source",
                         compact=True)
            yield Button("Find", id="ins-find", compact=True)
        yield Static("", id="ins-cells-error", classes="error")
        yield Static("", id="ins-cells-note", classes="hint")
        yield DataTable(id="ins-cells-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("unit", key="unit")
        table.add_column("r", key="r")
        self.clear()

    def focus_default(self) -> None:
        self.query_one("#ins-regex", Input).focus()

    @on(Input.Changed, "#ins-regex")
    def _pattern_changed(self, event: Input.Changed) -> None:
        self.error(pattern_error(event.value) or "" if event.value else "")

    @on(Input.Submitted, "#ins-regex")
    @on(Button.Pressed, "#ins-find")
    def _find(self, event: Message) -> None:
        event.stop()
        pattern = self.query_one("#ins-regex", Input).value
        problem = pattern_error(pattern)
        if problem:
            self.error(problem)
            return
        self.post_message(self.Find(pattern, self.query_one("#ins-source", Select).value))

    def error(self, text: str) -> None:
        self._say("#ins-cells-error", text)

    def note(self, text: str) -> None:
        self._say("#ins-cells-note", text)

    def _say(self, selector: str, text: str) -> None:
        line = self.query_one(selector, Static)
        line.update(Text(text))
        line.display = bool(text)

    def show(self, scores: list[UnitScore], note: str) -> None:
        """List the units, best first; the first is chosen at once."""
        self.scores = scores
        self.error("")
        self.note(note)
        table = self.query_one(DataTable)
        table.clear()
        for i, s in enumerate(scores):
            table.add_row(f"{s.kind} {s.layer}:{s.unit}", f"{s.correlation:+.2f}", key=str(i))
        table.display = bool(scores)
        if scores:
            self.call_after_refresh(table.scroll_visible, animate=False)

    def clear(self) -> None:
        self.show([], "")

    @on(DataTable.RowHighlighted, "#ins-cells-table")
    @on(DataTable.RowSelected, "#ins-cells-table")
    def _row(self, event: DataTable.RowHighlighted | DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None and self.scores:
            self.post_message(self.UnitChosen(self.scores[int(event.row_key.value)]))
