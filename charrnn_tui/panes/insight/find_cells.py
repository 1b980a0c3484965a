"""Insight's Find cells: the units that best track a regular expression, ranked on the text
shown or on a held-out slice of the model's corpus, each step on a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.generation.insight import Trace, UnitScore
from charrnn_tui.panes.insight.cells import InsightCells
from charrnn_tui.panes.insight.text import InsightText
from charrnn_tui.panes.insight.trace import steps_of
from charrnn_tui.panes.insight.work import CORPUS_SLICE, find_units, trace_corpus
from charrnn_tui.workers import run_in_thread


@dataclass
class CorpusTraced(Message):
    """A held-out slice of the model's corpus, traced to find the units that track `pattern`."""

    ckpt: Checkpoint
    source: str
    trace: Trace
    pattern: str


@dataclass
class UnitsFound(Message):
    """The units of `ckpt` that best track a pattern in the text `where` names, or why none."""

    ckpt: Checkpoint
    pattern: str
    where: str
    scores: list[UnitScore]
    error: str | None = None


class CellFinding:
    """Mixed into InsightPane: answers InsightCells.Find for its `ckpt`, keeping the last
    corpus trace for the next pattern; the text view shows that text if it was empty."""

    home: str | None
    ckpt: Checkpoint | None
    text_view: InsightText
    corpus_source: Callable[[dict], str | None]
    _corpus_trace: tuple[Checkpoint, str, Trace] | None
    # The pattern asked last: a thread cannot be cancelled, so an earlier search that ends
    # later must not overwrite its answer.
    _pattern: str | None = None

    def on_insight_cells_find(self, event: InsightCells.Find) -> None:
        event.stop()
        self._find(event.pattern, event.source)

    def _find(self, pattern: str, source: str) -> None:
        """Rank the units on this text or on a held-out slice of the model's corpus."""
        cells = self.query_one(InsightCells)
        self._pattern = pattern
        if self.ckpt is None:
            cells.error("No model loaded yet.")
            return
        view = self.text_view
        if source == "text" and len(view.record):
            self._rank(view.record.trace(), f"this text ({len(view.record):,} characters)",
                       pattern)
            return
        ckpt, fallback = self.ckpt, source == "text"
        corpus = self.corpus_source(ckpt.corpus)
        if corpus is None:
            cells.error("No text here yet and the model's corpus is not available: "
                        "generate or colour some text first." if fallback else
                        "The model's corpus is not available on this machine.")
            return
        cached = self._corpus_trace
        if cached and cached[0] is ckpt and cached[1] == corpus:
            self.on_corpus_traced(CorpusTraced(ckpt, corpus, cached[2], pattern))
            return
        cells.error("")
        cells.note(f"reading {CORPUS_SLICE:,} characters of {Path(corpus).name}…")
        run_in_thread(self, lambda: trace_corpus(ckpt, corpus, self.home),
                      lambda tr: CorpusTraced(ckpt, corpus, tr, pattern),
                      lambda error: UnitsFound(ckpt, pattern, "", [], error),
                      group="insight-cells")

    def on_corpus_traced(self, event: CorpusTraced) -> None:
        """Keep the trace for the next pattern, and rank the units on it."""
        if event.ckpt is not self.ckpt:  # the model changed meanwhile
            return
        self._corpus_trace = (event.ckpt, event.source, event.trace)
        if event.pattern != self._pattern:  # another search was asked for meanwhile
            return
        view = self.text_view
        if not len(view.record):  # nothing shown yet: show the text the units were found on
            view.extend(steps_of(event.trace))
        self._rank(event.trace, f"{len(event.trace.text):,} characters of the model's corpus",
                   event.pattern)

    def _rank(self, tr: Trace, where: str, pattern: str) -> None:
        ckpt = self.ckpt
        self.query_one(InsightCells).note(f"ranking units on {where}…")
        run_in_thread(self, lambda: find_units(tr, pattern),
                      lambda scores: UnitsFound(ckpt, pattern, where, scores),
                      lambda error: UnitsFound(ckpt, pattern, "", [], error),
                      group="insight-cells")

    def on_units_found(self, event: UnitsFound) -> None:
        if event.pattern != self._pattern:  # an earlier search, ended after a later one
            return
        cells = self.query_one(InsightCells)
        if event.error:
            cells.note("")
            cells.error(event.error)
            return
        if event.ckpt is not self.ckpt:  # the model changed meanwhile: these units are not its
            return
        cells.show(event.scores, f"best of all units on {event.where}")
        self._update_controls()

