"""Code the Insight pane runs on worker threads: no widgets here, only the engine.

Each thread builds its own model copies from the checkpoint (milliseconds), so the
Playground's model is never shared and the UI thread never runs a model.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.generation.insight import (
    Trace,
    UnitScore,
    activations,
    rank_units,
    regex_mask,
    softmax,
    trace,
)
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
from charrnn_tui.engine.models import restore_model
from charrnn_tui.engine.threads import use_threads
from charrnn_tui.panes.insight.trace import Step

if TYPE_CHECKING:
    from charrnn_tui.streaming import HandOff

CORPUS_SLICE = 4000  # characters of the model's corpus to look for cells in (a few seconds)
TOP_UNITS = 10


class Tracer:
    """A model copy read or sampled one character at a time, recording a Step for each.

    It starts after a line break, as the engine's `insight.trace` does, so the steps of a
    text equal that function's trace of it.
    """

    def __init__(self, ckpt: Checkpoint, params: SamplingParams, rng_seed: int | None) -> None:
        model = restore_model(ckpt)
        self.sampler = Sampler(model, ckpt.spec.vocab, rng_seed=rng_seed, params=params)
        self.sampler.state = model.init_state(1, "cpu")
        self._probs: np.ndarray | None = None  # the model's distribution for the next character
        if "\n" in self.sampler.index:
            self.sampler.feed([self.sampler.index["\n"]])
            self._probs = softmax(self.sampler.logits)

    def read(self, char: str) -> Step | None:
        """Feed one character of a given text; None for one the model does not know."""
        index = self.sampler.index.get(char)
        if index is None:
            return None
        before = self._probs
        self.sampler.feed([index])
        return self._record(char, before)

    def sample(self) -> Step:
        before = self._probs
        return self._record(self.sampler.next_char(), before)

    def _record(self, char: str, before: np.ndarray | None) -> Step:
        self._probs = softmax(self.sampler.logits)
        prob = float("nan") if before is None else float(before[self.sampler.index[char]])
        return Step(char, prob, self._probs.astype(np.float32),
                    activations(self.sampler.model, self.sampler.state))


def run_stream(tracers: list[Tracer], text: str, length: int, buffers: list[HandOff[Step]],
               stop: threading.Event) -> int:
    """Read `text` into every tracer, then sample `length` characters from each in lockstep.

    Lockstep keeps a comparison's two texts growing side by side. Returns how many
    characters each sampled.
    """
    use_threads("generate")
    for tracer, buffer in zip(tracers, buffers, strict=True):
        for char in text:
            if stop.is_set():
                return 0
            step = tracer.read(char)
            if step is not None:
                buffer.put(step, stop)
    count = 0
    while count < length and not stop.is_set():
        for tracer, buffer in zip(tracers, buffers, strict=True):
            buffer.put(tracer.sample(), stop)
        count += 1
    return count


def trace_corpus(ckpt: Checkpoint, source: str, home: str | None) -> Trace:
    """Trace a held-out slice of the model's corpus (the first CORPUS_SLICE characters
    after the training part, or its end when that part is short)."""
    try:
        corpus = load_corpus(source, home=home)
    except (CorpusError, OSError) as e:
        raise CorpusError(f"could not read the model's corpus: {e}") from e
    _, held_out = corpus.split()
    ids = held_out[:CORPUS_SLICE] if len(held_out) >= CORPUS_SLICE else corpus.data[-CORPUS_SLICE:]
    return trace(restore_model(ckpt), ckpt.spec.vocab, corpus.decode(ids))


def find_units(tr: Trace, pattern: str) -> list[UnitScore]:
    """The units that best track `pattern` in the traced text; ValueError says why none."""
    return rank_units(tr, regex_mask(tr.text, pattern), top=TOP_UNITS)
