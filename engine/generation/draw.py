"""Choosing the next character of N streams at once, with no Python work per stream.

One function serves one stream and N streams alike, so a batch of N gives exactly the text
N single streams would. Sampling is by inverse CDF: one uniform number per character,
from each stream's own generator, drawn a block at a time (a generator gives the same
numbers in blocks as one by one).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from charrnn_tui.engine.generation.sampler import SamplingParams

BLOCK = 256
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 2.0
EXP_SAFE = 700.0  # exp(x) is finite in float64 up to ~709.78, and above 0 down to ~-745


class Uniforms:
    """A generator's uniform numbers, drawn `BLOCK` at a time."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._block = np.empty(0)
        self._next = 0

    def take(self) -> float:
        if self._next >= len(self._block):
            self._block, self._next = self.rng.random(BLOCK), 0
        self._next += 1
        return self._block[self._next - 1]


class Chooser:
    """Turns logits (N, vocab) into chosen ids under the sampling settings.

    Keeps its work buffers; `probs` holds the last distribution (unnormalised rows; one-hot
    rows in argmax mode) until the next call.
    """

    def __init__(self, vocab: list[str], logit_bound: float = math.inf) -> None:
        """`logit_bound`: no logit is larger in size (Stepper.logit_bound); when it is
        small enough for the temperature, exp cannot overflow, so plain sampling skips
        subtracting the maximum (two of its six numpy calls)."""
        self.index = {c: i for i, c in enumerate(vocab)}
        self.size = len(vocab)
        self.logit_bound = logit_bound
        self.probs = np.empty((0, self.size))
        self._controls_key: tuple | None = None
        self._bias: np.ndarray | None = None  # bias with bans as -inf, or None: neither
        self._temperature = math.nan
        self._scale, self._shift = np.float64(1.0), True

    def _scaling(self, temperature: float) -> tuple[np.float64, bool]:
        """1/temperature, and whether plain sampling must subtract the maximum."""
        if temperature != self._temperature:
            self._temperature = temperature
            self._scale = np.float64(1.0 / min(max(temperature, MIN_TEMPERATURE),
                                               MAX_TEMPERATURE))
            self._shift = not self.logit_bound * self._scale <= EXP_SAFE
        return self._scale, self._shift

    def controls(self, params: SamplingParams) -> np.ndarray | None:
        """The bias-and-ban row for these settings, rebuilt only when they change."""
        key = (params.ban, tuple(params.bias.items()))
        if key != self._controls_key:
            self._controls_key, self._bias = key, None
            if params.ban or params.bias:
                row = np.zeros(self.size)
                for char, value in params.bias.items():
                    if char in self.index:
                        row[self.index[char]] += value
                banned = [self.index[c] for c in params.ban if c in self.index]
                if banned and len(set(banned)) < self.size:  # never ban every character
                    row[banned] = -np.inf
                self._bias = row
        return self._bias

    def choose(self, logits: np.ndarray, params: SamplingParams, u: np.ndarray,
               recent: list[deque[int]] | None = None) -> np.ndarray:
        """Ids (N,) for logits (N, vocab) with uniforms `u` (N,); `recent` is each stream's
        window for the repetition penalty."""
        ids = self._weigh(logits, params, recent)
        if ids is not None:
            return ids
        cdf = np.add.accumulate(self.probs, axis=1, out=self._cdf)
        below = np.less(cdf, (u * cdf[:, -1])[:, None], out=self._below)
        ids = np.add.reduce(below, axis=1)  # the inverse CDF: how many bins lie below u
        return np.minimum(ids, self.size - 1, out=ids)

    def choose_one(self, logits: np.ndarray, params: SamplingParams, u: float,
                   recent: deque[int] | None = None) -> int:
        """`choose` for one stream (logits (vocab,)): the same id, with fewer calls."""
        if (params.argmax or params.ban or params.bias or self._bias is not None
                or 0 < params.top_k < self.size or 0.0 < params.top_p < 1.0 or params.min_p
                or (recent is not None and params.repetition_penalty != 1.0)):
            ids = self._weigh(logits[None], params, None if recent is None else [recent])
            if ids is not None:
                return int(ids[0])
        else:  # plain temperature sampling, streaming's usual case: _weigh's arithmetic in 1-D
            if self.probs.shape[0] != 1:
                self._buffers(1)
            z = self._row
            scale, shift = self._scaling(params.temperature)
            np.multiply(logits, scale, out=z)
            if shift:
                z -= np.maximum.reduce(z)
            np.exp(z, out=z)
        cdf = np.add.accumulate(self._row, out=self._cdf_row)
        return min(int(cdf.searchsorted(u * cdf[-1])), self.size - 1)

    def _buffers(self, n: int) -> None:
        """Work buffers for `n` streams (and row views of them for one)."""
        self.probs = np.empty((n, self.size))
        self._cdf = np.empty((n, self.size))
        self._below = np.empty((n, self.size), dtype=bool)
        self._row, self._cdf_row = self.probs[0], self._cdf[0]

    def _weigh(self, logits: np.ndarray, params: SamplingParams,
               recent: list[deque[int]] | None) -> np.ndarray | None:
        """Fill `probs` with unnormalised weights; in argmax mode return the ids instead.

        Per character this is a handful of numpy calls on preallocated buffers (ufuncs
        called directly: the ndarray method wrappers cost as much as the work here).
        """
        n = len(logits)
        if self.probs.shape[0] != n:
            self._buffers(n)
        z = self.probs
        bias = self.controls(params) if (params.ban or params.bias or self._bias
                                          is not None) else None
        penalty = params.repetition_penalty != 1.0 and recent is not None
        if params.argmax or bias is not None or penalty:
            if bias is None:
                np.copyto(z, logits)
            else:
                np.add(logits, bias, out=z)
            if penalty:
                cut = math.log(params.repetition_penalty)
                for row, window in enumerate(recent):
                    if window:
                        z[row, list(set(window))] -= cut
            if params.argmax:
                ids = z.argmax(axis=1)
                z.fill(0.0)
                z[np.arange(n), ids] = 1.0
                return ids
            z *= self._scaling(params.temperature)[0]
            shift = True  # a bias or penalty may leave the bound
        else:
            scale, shift = self._scaling(params.temperature)
            np.multiply(logits, scale, out=z)  # in float64
        if 0 < params.top_k < self.size:
            kth = np.partition(z, -params.top_k, axis=1)[:, -params.top_k, None]
            z[z < kth] = -np.inf
        if shift:
            z -= np.maximum.reduce(z, axis=1, keepdims=True)
        np.exp(z, out=z)
        if params.min_p > 0.0:  # relative to each row's likeliest character
            z[z < params.min_p * np.maximum.reduce(z, axis=1, keepdims=True)] = 0.0
        if 0.0 < params.top_p < 1.0:
            order = np.argsort(-z, axis=1, kind="stable")
            mass = np.cumsum(np.take_along_axis(z, order, axis=1), axis=1)
            keep = (mass < params.top_p * mass[:, -1:]).sum(axis=1) + 1
            drop = np.arange(self.size) >= keep[:, None]
            np.put_along_axis(z, order, np.where(drop, 0.0, np.take_along_axis(z, order, 1)),
                              axis=1)
        return None

    def distribution(self, row: int = 0) -> np.ndarray:
        """The normalised distribution stream `row` was last drawn from."""
        p = self.probs[row]
        return p / p.sum()
