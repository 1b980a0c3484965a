"""Streaming generation: prime once with the seed, then one incremental step per character."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from charrnn_tui.engine.models import Model
from charrnn_tui.engine.models.inference import SingleStream

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 2.0


@dataclass
class SamplingParams:
    """Read at every character, so another thread may change them mid-stream."""

    temperature: float = 0.8
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1.0: no nucleus cut
    argmax: bool = False


def unknown_chars(text: str, vocab: list[str]) -> list[str]:
    """Characters of `text` the model never saw, in order of first appearance."""
    known = set(vocab)
    return list(dict.fromkeys(c for c in text if c not in known))


def next_distribution(logits: np.ndarray, params: SamplingParams) -> np.ndarray:
    """Probabilities after temperature, top-k and top-p; a one-hot vector in argmax mode."""
    if params.argmax:
        probs = np.zeros_like(logits)
        probs[int(np.argmax(logits))] = 1.0
        return probs
    temperature = min(max(params.temperature, MIN_TEMPERATURE), MAX_TEMPERATURE)
    z = logits / temperature
    if 0 < params.top_k < len(z):
        kth = np.partition(z, -params.top_k)[-params.top_k]
        z = np.where(z >= kth, z, -np.inf)
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    if 0.0 < params.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        keep = np.searchsorted(np.cumsum(probs[order]), params.top_p) + 1
        mask = np.zeros_like(probs)
        mask[order[:keep]] = 1.0
        probs = probs * mask
        probs /= probs.sum()
    return probs


class Sampler:
    """Generates from one model, one stream. Not thread-safe apart from `params`."""

    def __init__(self, model: Model, vocab: list[str], *, rng_seed: int | None = None,
                 params: SamplingParams | None = None):
        self.model = model
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.params = params or SamplingParams()
        self.rng = np.random.default_rng(rng_seed)
        self.skipped: list[str] = []
        self.state = None
        self.logits: np.ndarray | None = None
        self.last_probs: np.ndarray | None = None  # the distribution the last char came from
        self._stream = SingleStream(model)  # puts a torch model in eval mode

    def prime(self, seed_text: str) -> list[str]:
        """Reset the state and read `seed_text`; returns the unknown characters it skipped."""
        self.skipped = unknown_chars(seed_text, self.vocab)
        ids = [self.index[c] for c in seed_text if c in self.index]
        if not ids:  # nothing to condition on: start as if after a line break
            ids = [self.index.get("\n", 0)]
        self.state = self._stream.init_state()
        self.feed(ids)
        return self.skipped

    def feed(self, ids: list[int]) -> None:
        """Advance the state over known ids without sampling (priming, or typed text)."""
        self.logits, self.state = self._stream.feed(ids, self.state)

    def next_char(self) -> str:
        if self.logits is None:
            self.prime("")
        probs = next_distribution(self.logits, self.params)
        if self.params.argmax:
            idx = int(np.argmax(probs))
        else:
            idx = int(np.searchsorted(np.cumsum(probs), self.rng.random() * probs.sum()))
            idx = min(idx, len(probs) - 1)
        self.last_probs = probs
        self._advance(idx)
        return self.vocab[idx]

    def _advance(self, idx: int) -> None:
        """One incremental step: the fast path of streaming, so nothing is allocated twice."""
        self.logits, self.state = self._stream.step(idx, self.state)

    def stream(self, length: int) -> Iterator[str]:
        """Yield `length` characters, continuing from wherever the state is."""
        for _ in range(length):
            yield self.next_char()

    def generate(self, seed_text: str, length: int) -> str:
        self.prime(seed_text)
        return "".join(self.stream(length))
