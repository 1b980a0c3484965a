"""The Insight text as data: one Step per character, and how to colour it (a Lens).

Steps are made on worker threads and handed to the UI, which keeps the last few
thousand; `to_trace` turns them back into an `insight.Trace` of the engine, so colouring,
ranking and export all go through the engine's own functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from charrnn_tui.engine.generation.insight import Trace
from charrnn_tui.engine.models import ModelSpec

MAX_CHARS = 2000  # characters the view keeps; older ones scroll away


@dataclass(frozen=True)
class Step:
    """What the model did at one character: the probability it gave it, and after reading it."""

    char: str
    prob: float  # NaN when nothing came before
    next_probs: np.ndarray  # (vocab,) float32: the distribution for the character after
    acts: dict[str, np.ndarray]  # kind → (layers, hidden) float32


@dataclass(frozen=True)
class Lens:
    """How the text is coloured: by confidence, or by one unit's activation."""

    view: str = "confidence"
    kind: str = "hidden"
    layer: int = 0
    unit: int = 0

    @property
    def label(self) -> str:
        return "confidence" if self.view == "confidence" else \
            f"{self.kind} {self.layer}:{self.unit}"

    def kwargs(self) -> dict:
        """Keyword arguments for the engine's insight.colours / to_html and coloured.export_svg."""
        return asdict(self)

    def fits(self, spec: ModelSpec) -> bool:
        """Whether a model of `spec` has this lens's unit (the confidence view always fits)."""
        return self.view == "confidence" or (
            self.kind in unit_kinds(spec) and 0 <= self.layer < spec.layers
            and 0 <= self.unit < spec.hidden)


def unit_kinds(spec: ModelSpec) -> tuple[str, ...]:
    """The activations a model exposes: an LSTM also its cell state (as tanh(c))."""
    return ("hidden", "cell") if spec.cell == "lstm" else ("hidden",)


def to_trace(steps: Sequence[Step], vocab: list[str]) -> Trace:
    if not steps:
        return Trace("", vocab, np.zeros(0), np.zeros((0, len(vocab)), np.float32))
    return Trace("".join(s.char for s in steps), vocab,
                 np.array([s.prob for s in steps], dtype=np.float64),
                 np.stack([s.next_probs for s in steps]),
                 {kind: np.stack([s.acts[kind] for s in steps]) for kind in steps[0].acts})


def steps_of(tr: Trace, last: int = MAX_CHARS) -> list[Step]:
    """The last `last` characters of a whole-text trace, as steps for the view."""
    start = max(0, len(tr.text) - last)
    return [Step(tr.text[i], float(tr.probs[i]), tr.next_probs[i],
                 {kind: a[i] for kind, a in tr.acts.items()})
            for i in range(start, len(tr.text))]


class TraceLog:
    """The last `limit` steps of one model's text."""

    def __init__(self, spec: ModelSpec | None = None, limit: int = MAX_CHARS) -> None:
        self.spec = spec
        self.limit = limit
        self.steps: list[Step] = []

    @property
    def vocab(self) -> list[str]:
        return self.spec.vocab if self.spec else []

    def extend(self, steps: Sequence[Step]) -> int:
        """Append; returns how many of the oldest steps were dropped to stay within the limit."""
        self.steps.extend(steps)
        dropped = max(0, len(self.steps) - self.limit)
        del self.steps[:dropped]
        return dropped

    def trace(self) -> Trace:
        return to_trace(self.steps, self.vocab)

    @property
    def text(self) -> str:
        return "".join(s.char for s in self.steps)

    def __len__(self) -> int:
        return len(self.steps)
