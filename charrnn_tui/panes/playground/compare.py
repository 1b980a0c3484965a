"""Several continuations of the same text side by side: N samples or a beam search."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from charrnn_tui.engine.generation.search import Candidate

CONTEXT = 40  # characters of the text continued, shown dim before each candidate


def context(seed: str) -> str:
    """The end of the continued text's last line: a candidate may begin mid-word."""
    return seed.rsplit("\n", 1)[-1][-CONTEXT:]


class CandidateColumn(VerticalScroll):
    """One candidate, after the end of the text it continues (dim); a click picks it."""

    def __init__(self, index: int, candidate: Candidate, seed: str = "") -> None:
        super().__init__(id=f"cand-{index}", classes="cand")
        self.index = index
        self.candidate = candidate
        self.seed = seed

    def compose(self) -> ComposeResult:
        c = self.candidate
        yield Static(Text.assemble((f"{self.index + 1}", "bold"),
                                   f" log p {c.logprob:.0f} ({c.mean_logprob:.2f}/ch)"),
                     classes="cand-head")
        yield Static(Text.assemble((context(self.seed), "dim"), c.text), classes="cand-text")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.screen.dismiss(self.index)


class CompareCandidatesScreen(ModalScreen[int | None]):
    """Dismisses with the index of the candidate to keep, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"),
                *(Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, 10))]

    def __init__(self, title: str, candidates: list[Candidate], seed: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.candidates = candidates
        self.seed = seed  # the text the candidates continue

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="compare-dialog"):
            yield Static(self.title_text, classes="dialog-question", markup=False)
            with Horizontal(id="cand-row"):
                for i, c in enumerate(self.candidates):
                    yield CandidateColumn(i, c, self.seed)
            yield Static("1–9 or a click keeps that one in the Playground; Tab and the "
                         "arrows scroll; Esc closes.", classes="hint")

    def action_pick(self, n: int) -> None:
        if 0 <= n < len(self.candidates):
            self.dismiss(n)
