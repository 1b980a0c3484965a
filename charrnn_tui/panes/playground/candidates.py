"""Several continuations of the same text side by side (N samples or a beam search): the
Playground's Compare action, the thread that finds them, and the screen that shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.generation.search import Candidate
from charrnn_tui.workers import compare_candidates, run_in_thread

if TYPE_CHECKING:
    from charrnn_tui.streaming import StreamRunner

CONTEXT = 40  # characters of the text continued, shown dim before each candidate
COMPARE_LENGTH = 2000  # the most characters per candidate


@dataclass
class CandidatesReady(Message):
    """The compare thread finished: the candidates, or why not."""

    sampler: Sampler
    title: str
    seed: str
    candidates: list[Candidate]
    error: str | None = None


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


class Comparing:
    """Mixed into PlaygroundPane: ctrl+n finds candidates for what follows its text on a
    thread, on a copy of `sampler`; the one kept is written and fed to the sampler."""

    sampler: Sampler | None
    stream: StreamRunner
    _run: tuple[int, int] | None
    _comparing: bool

    async def action_compare(self) -> None:
        """N samples (or a beam search) of what comes after the text, side by side."""
        if self.sampler is None or self._comparing or self.refused("compare"):
            return
        await self._halt()
        self._update_controls()
        if not self._can_start():
            return
        seed = (self.text[self._run[0]:] if self._run is not None
                else self.query_one("#seed", Input).value.replace("\\n", "\n"))
        length = min(self._value("length"), COMPARE_LENGTH)
        n, beam = self._value("n"), self._value("beam")
        rank = str(self.query_one("#rank", Select).value)
        sampler = self.sampler
        what = (f"Beam search, width {beam}, ranked per character" if beam else
                f"{n} samples, ranked by {rank} log-probability")
        upto = "up to " if sampler.params.stop else ""  # a stop string may end one sooner
        what += f", {upto}{length:,} characters each"

        self._comparing = True
        self._status("comparing…")
        self._update_controls()
        run_in_thread(self, lambda: compare_candidates(sampler, seed, length, n=n, beam=beam,
                                                       rank_by=rank),
                      lambda found: CandidatesReady(sampler, what, seed, found),
                      lambda error: CandidatesReady(sampler, what, seed, [], error),
                      group="compare")

    def on_candidates_ready(self, event: CandidatesReady) -> None:
        self._comparing = False
        self._status("")
        self._update_controls()
        if event.error:
            self.notify(event.error, title="Compare failed", severity="error")
            return
        if event.sampler is not self.sampler:  # another model was loaded meanwhile
            return

        def keep(index: int | None) -> None:
            if (index is None or self.stream.producing or self._comparing
                    or event.sampler is not self.sampler):
                return
            text = event.candidates[index].text
            if self._run is None or self.text[self._run[0]:] != event.seed:
                if self._transcript:
                    self._write("\n\n")
                self._write(event.seed)
                self._run = (len(self.text) - len(event.seed), len(self.text))
                self.sampler.prime(event.seed)
            self.sampler.feed([self.sampler.index[c] for c in text])
            self._write(text)
            self._status(
                f"kept candidate {index + 1}; F6 continues, F7 branches")
            self._update_controls()

        self.app.push_screen(CompareCandidatesScreen(event.title, event.candidates,
                                                     event.seed), keep)

