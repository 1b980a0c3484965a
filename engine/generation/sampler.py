"""Streaming generation: prime once with the seed, then one incremental step per character."""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.draw import MAX_TEMPERATURE, MIN_TEMPERATURE, Chooser, Uniforms
from charrnn_tui.engine.generation.trail import Trail
from charrnn_tui.engine.models.inference import MAX_LOGITS, SingleStream
from charrnn_tui.engine.models.stepper import Stepper, StepState

if TYPE_CHECKING:
    from charrnn_tui.engine.models import ArrayModel, Model

TAIL = 64  # characters of recent text kept to spot stop strings
FAST_FEED = 16  # ids fed one fast step at a time; a longer text runs the full forward


@dataclass
class SamplingParams:
    """Read at every character, so another thread may change them mid-stream."""

    temperature: float = 0.8
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1.0: no nucleus cut
    argmax: bool = False
    stop: tuple[str, ...] = ()  # the stream ends once the text ends with one of these
    ban: str = ""  # characters never generated
    bias: dict[str, float] = field(default_factory=dict)  # added to a character's logit
    repetition_penalty: float = 1.0  # a character in the window is this many times less likely
    repetition_window: int = 64  # characters of text (seed and generated) it looks back
    min_p: float = 0.0  # drop characters less likely than this × the likeliest's (0: off)

    def validate(self) -> SamplingParams:
        """Refuse out-of-range values in one line each; nothing is silently replaced."""
        checks = [
            (math.isfinite(self.temperature)
             and MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE,
             f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}, "
             f"not {self.temperature}"),
            (self.top_k >= 0, f"top-k must be 0 (no limit) or more, not {self.top_k}"),
            (0.0 < self.top_p <= 1.0, f"top-p must be above 0 and at most 1, not {self.top_p}"),
            (0.0 <= self.min_p <= 1.0, f"min-p must be between 0 and 1, not {self.min_p}"),
            (math.isfinite(self.repetition_penalty) and 1.0 <= self.repetition_penalty <= 10.0,
             f"repetition penalty must be between 1 and 10, not {self.repetition_penalty}"),
            (self.repetition_window >= 1,
             f"repetition window must be at least 1, not {self.repetition_window}"),
            (all(0 < len(x) <= TAIL for x in self.stop),
             f"a stop string must be 1 to {TAIL} characters long"),
            (all(math.isfinite(v) and abs(v) <= 100 for v in self.bias.values()),
             "a logit bias must be a number between -100 and 100"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


def unknown_chars(text: str, vocab: list[str]) -> list[str]:
    """Characters of `text` the model never saw, in order of first appearance."""
    known = set(vocab)
    return list(dict.fromkeys(c for c in text if c not in known))


def adjusted(logits: np.ndarray, params: SamplingParams, index: dict[str, int],
             recent: deque[int]) -> np.ndarray:
    """The logits after bans, biases and the repetition penalty (a copy only when needed)."""
    if not (params.ban or params.bias or params.repetition_penalty != 1.0):
        return logits
    z = logits.copy()
    for char, value in params.bias.items():
        if char in index:
            z[index[char]] += value
    if params.repetition_penalty != 1.0 and recent:
        z[list(set(recent))] -= math.log(params.repetition_penalty)
    banned = [index[c] for c in params.ban if c in index]
    if banned and len(banned) < len(z):  # never ban every character
        z[banned] = -np.inf
    return z


def next_distribution(logits: np.ndarray, params: SamplingParams) -> np.ndarray:
    """Probabilities after temperature, top-k, min-p and top-p; one-hot in argmax mode."""
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
    if params.min_p > 0.0:
        probs[probs < params.min_p * probs.max()] = 0.0
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

    def __init__(self, model: Model | ArrayModel, vocab: list[str], *, rng_seed: int | None = None,
                 params: SamplingParams | None = None):
        self.model = model
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.params = params or SamplingParams()
        self.rng = np.random.default_rng(rng_seed)
        self.skipped: list[str] = []
        self._stepper: Stepper | None = None
        self._native = None  # the state in the model's own format, after a full forward
        self._st: StepState | None = None  # or laid out for the fast step, once stepping
        self.logits: np.ndarray | None = None
        self.recent: deque[int] = deque(maxlen=self.params.repetition_window)
        self.tail = ""  # the end of the text so far, long enough to spot a stop string
        self.trail = Trail()  # what was fed since priming, for branching
        self._stream = SingleStream(model)  # puts a torch model in eval mode
        self.device = self._stream.device
        self._ids = np.zeros(1, dtype=np.intp)  # reused every step
        with contextlib.suppress(TypeError):  # a model with no fast step fails when stepping
            self.stepper  # noqa: B018  laid out now, once per model, not at the first character
        self._chooser = Chooser(vocab, math.inf if self._stepper is None
                                else self._stepper.logit_bound)

    @property
    def rng(self) -> np.random.Generator:
        return self._uniforms.rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._uniforms = Uniforms(rng)

    @property
    def last_probs(self) -> np.ndarray:
        """The distribution the last character was drawn from."""
        return self._chooser.distribution()

    @property
    def stepper(self) -> Stepper:
        """The model's weights laid out once for fast single steps."""
        if self._stepper is None:
            self._stepper = Stepper(self.model)
        return self._stepper

    @property
    def state(self):
        """The recurrent state in the model's own format (assigning replaces it)."""
        return self._native if self._st is None else self.stepper.to_model(self._st)

    @state.setter
    def state(self, value) -> None:
        self._native, self._st = value, None

    def prime(self, seed_text: str) -> list[str]:
        """Reset the state and read `seed_text`; returns the unknown characters it skipped."""
        self.skipped = unknown_chars(seed_text, self.vocab)
        ids = [self.index[c] for c in seed_text if c in self.index]
        if not ids:  # nothing to condition on: start as if after a line break
            ids = [self.index.get("\n", 0)]
        self.state = self._stream.init_state()
        self.recent = deque(maxlen=self.params.repetition_window)
        self.tail = ""
        self.trail.reset()
        self.feed(ids)
        return self.skipped

    def feed(self, ids: list[int]) -> None:
        """Advance the state over known ids without sampling (priming, or typed text).

        A few ids take the fast step, as generated ones do; more run the full forward in
        chunks, so a long seed never holds more than MAX_LOGITS logits at once."""
        if len(ids) <= FAST_FEED and self._stepper is not None:
            for idx in ids:
                self._take(idx)
            return
        step = max(1, MAX_LOGITS // len(self.vocab))
        for start in range(0, len(ids), step):
            chunk = ids[start:start + step]
            self.logits, self.state = self._stream.feed(chunk, self.state)
            self._remember(chunk)

    def _remember(self, ids: list[int]) -> None:
        """Keep the recent text for the repetition penalty and stop strings."""
        if self.recent.maxlen != self.params.repetition_window:  # changed mid-stream
            self.recent = deque(self.recent, maxlen=self.params.repetition_window)
        self.recent.extend(ids)
        self.trail.ids.extend(ids)
        self.tail = (self.tail + "".join(self.vocab[i] for i in ids))[-TAIL:]

    def stopped(self) -> bool:
        """True when the text ends with one of the stop strings."""
        return any(self.tail.endswith(s) for s in self.params.stop)

    def next_char(self) -> str:
        if self.logits is None:
            self.prime("")
        p = self.params
        return self._take(self._chooser.choose_one(
            self.logits, p, 0.0 if p.argmax else self._uniforms.take(),
            self.recent if p.repetition_penalty != 1.0 else None))

    def _take(self, idx: int) -> str:
        """Feed the chosen character `idx` and remember it (the hot path of streaming)."""
        st, trail = self._st, self.trail
        if st is None:  # after priming or typed text: switch to the fast layout
            st = self._st = self.stepper.from_model(self._native)
            self._native = None
        if len(trail.ids) >= trail.due:
            trail.mark(st, self.logits)
        self._ids[0] = idx
        self.logits = self._stepper.step(self._ids, st)[0]
        recent = self.recent
        if recent.maxlen != self.params.repetition_window:  # changed mid-stream
            recent = self.recent = deque(recent, maxlen=self.params.repetition_window)
        recent.append(idx)
        trail.ids.append(idx)
        char = self.vocab[idx]
        self.tail = (self.tail + char)[-TAIL:]
        return char

    def _step(self, idx: int, st: StepState) -> np.ndarray:
        """The logits after `idx`: a view of `st`'s buffer, valid until its next step."""
        self._ids[0] = idx
        return self.stepper.step(self._ids, st)[0]

    # --- branching: back to any kept character of the trail ---------------------------
    def _replay(self, pos: int) -> tuple[StepState, np.ndarray]:
        """The state and logits before trail id `pos`, stepped from the nearest mark."""
        mark, st, logits = self.trail.nearest(pos)
        for idx in self.trail.ids[mark:pos]:
            logits = self._step(idx, st)
        return st, logits

    def alternatives(self, pos: int, k: int = 10) -> list[tuple[int, float]]:
        """The `k` likeliest ids before trail id `pos` with the model's own probabilities
        (temperature 1, no filters), likeliest first; the state is left alone.
        ValueError when `pos` is no longer kept."""
        _, logits = self._replay(pos)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = np.argsort(-probs, kind="stable")[:k]
        return [(int(i), float(probs[i])) for i in top]

    def branch(self, pos: int, idx: int) -> str:
        """Go back to before trail id `pos`, take `idx` there instead and forget what came
        after; returns the character. Streaming then continues from it."""
        st, logits = self._replay(pos)
        self.trail.cut(pos)
        self._st, self._native, self.logits = st, None, logits
        window = self.params.repetition_window
        self.recent = deque(self.trail.ids[-window:], maxlen=window)
        self.tail = "".join(self.vocab[i] for i in self.trail.ids[-TAIL:])
        return self._take(idx)

    def stream(self, length: int) -> Iterator[str]:
        """Yield up to `length` characters, continuing from wherever the state is; ends
        early once the text ends with a stop string."""
        for _ in range(length):
            yield self.next_char()
            if self.params.stop and self.stopped():
                return

    def generate(self, seed_text: str, length: int) -> str:
        self.prime(seed_text)
        return "".join(self.stream(length))
