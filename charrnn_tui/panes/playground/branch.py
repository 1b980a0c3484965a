"""Branch from here: a cursor over the generated text and the model's alternatives at it,
and the Playground's action that opens it and goes on from the character picked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Log, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from charrnn_tui.widgets.format import show_char

if TYPE_CHECKING:
    from charrnn_tui.engine.generation.sampler import Sampler
    from charrnn_tui.streaming import StreamRunner

SHOWN = 20_000  # characters of the stream offered (the end of it)
# offset → the likeliest (id, character, probability) there, likeliest first; ValueError
# when that character is no longer kept.
Alternatives = Callable[[int], list[tuple[int, str, float]]]


class BranchScreen(ModalScreen[tuple[int, int] | None]):
    """Dismisses with (offset in `text`, id to take there), or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"),
                Binding("enter", "pick", "Branch", priority=True),
                *(Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, 10))]

    def __init__(self, text: str, alternatives: Alternatives) -> None:
        super().__init__()
        self.skip = max(0, len(text) - SHOWN)
        self.text = text[self.skip:]
        self.alternatives = alternatives
        self.at = len(self.text) - 1
        self.choices: list[tuple[int, str, float]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="branch-dialog"):
            yield Static("Branch from here: move the cursor (arrows, click) to a generated "
                         "character; pick what comes there instead with 1–9, Enter or a "
                         "click, and the text after it is generated anew. Esc closes.",
                         classes="dialog-question")
            with Horizontal(id="branch-main"):
                # one character per cell, so a cursor position is an offset in the text
                shown = self.text.replace("\r", "␍").replace("\t", " ")
                yield TextArea(shown, read_only=True, soft_wrap=True, id="branch-text")
                yield OptionList(id="branch-alts")
            yield Static("", id="branch-info")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_location = area.document.get_location_from_index(max(0, self.at))
        area.focus()
        self._show(self.at)

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        index = event.text_area.document.get_index_from_location(event.selection.end)
        self._show(min(index, len(self.text) - 1))

    def _show(self, offset: int) -> None:
        self.at = offset
        options = self.query_one(OptionList)
        options.clear_options()
        info = self.query_one("#branch-info", Static)
        try:
            self.choices = self.alternatives(self.skip + offset)
        except ValueError as e:
            self.choices = []
            info.update(str(e))
            return
        came = self.text[offset]
        for n, (_, char, p) in enumerate(self.choices, 1):
            line = Text.assemble((f"{n} " if n < 10 else "  ", "dim"), f"{show_char(char):>3}",
                                 f" {p:6.1%}")
            if char == came:
                line.append("  ◀ came", "dim")
            options.add_option(Option(line))
        first_other = next((i for i, c in enumerate(self.choices) if c[1] != came), 0)
        options.highlighted = first_other
        info.update(Text.assemble("at character ", (f"{self.skip + offset + 1:,}", "bold"),
                                  f": {show_char(came)!s} came; the model's probabilities "
                                  "(temperature 1)"))

    def action_pick(self, n: int | None = None) -> None:
        n = self.query_one(OptionList).highlighted if n is None else n
        if n is not None and 0 <= n < len(self.choices):
            self.dismiss((self.skip + self.at, self.choices[n][0]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option_index)


class Branching:
    """Mixed into PlaygroundPane: F7 offers its generated text in a BranchScreen and goes on
    from the character picked, on the same `sampler` (its trail holds the alternatives)."""

    sampler: Sampler | None
    stream: StreamRunner
    _run: tuple[int, int] | None

    def _trail_pos(self, offset: int) -> int:
        """The sampler's trail position of generated character `offset` (counted from the
        end: the run's text and the trail's end are the same characters)."""
        return len(self.sampler.trail.ids) - (len(self.generated) - offset)

    async def action_branch(self) -> None:
        """Open the generated text with a cursor and the alternatives at it."""
        if self.sampler is None or self.refused("generate"):
            return
        await self._halt()
        self._update_controls()
        if not self.generated:
            self.notify("Nothing generated yet to branch from: Generate first.",
                        severity="warning")
            return
        if not self._can_start():
            return
        sampler, vocab = self.sampler, self.sampler.vocab

        def alternatives(offset: int) -> list[tuple[int, str, float]]:
            return [(i, vocab[i], p) for i, p in
                    sampler.alternatives(self._trail_pos(offset), k=min(10, len(vocab)))]

        self.app.push_screen(BranchScreen(self.generated, alternatives), self._branched)

    def _branched(self, choice: tuple[int, int] | None) -> None:
        if choice is None or self.stream.producing or not self._can_start():
            return
        offset, idx = choice
        try:
            char = self.sampler.branch(self._trail_pos(offset), idx)
        except ValueError as e:
            self.notify(str(e), severity="warning")
            return
        self._rewrite(self.text[:self._run[1] + offset] + char)
        self._start(None)
        self.query_one("#output", Log).focus()

