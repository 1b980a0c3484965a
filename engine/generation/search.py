"""Several continuations of one seed at once: best-of-N sampling and beam search.

Both run every candidate as one row of a batch on the fast step (engine/stepper.py), so N
continuations cost little more than one: the weights are read once per character for all.
Candidates are scored by the model's own log-probability of the generated characters
(temperature 1), whatever the sampling settings were.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.draw import BLOCK, Chooser
from charrnn_tui.engine.generation.sampler import TAIL, Sampler

Rank = Literal["total", "mean"]


@dataclass(frozen=True)
class Candidate:
    text: str
    surprise: tuple[float, ...]  # -log p of each generated character, nats

    @property
    def logprob(self) -> float:
        return -float(sum(self.surprise))

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(1, len(self.surprise))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z


def rank(candidates: list[Candidate], by: Rank = "total") -> list[Candidate]:
    """Most probable first, by total or per-character (mean) log-probability."""
    key = (lambda c: c.logprob) if by == "total" else (lambda c: c.mean_logprob)
    return sorted(candidates, key=key, reverse=True)


def sample_n(sampler: Sampler, seed_text: str, n: int, length: int, *,
             rng_seed: int | None = None) -> list[Candidate]:
    """`n` independent samples of `length` characters after `seed_text`, in stream order.

    Stream i draws from `np.random.default_rng(SeedSequence(rng_seed).spawn(n)[i])`, so it
    is the text a single `Sampler` with that generator would write, with the same bans,
    biases, repetition penalty and stop strings (each stream ends at its own stop). All
    streams are one batch: one step and one `Chooser` call per character for all of them.
    """
    if n < 1 or length < 0:
        raise ConfigError("n must be at least 1 and length at least 0")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(rng_seed).spawn(n)]
    params = sampler.params
    sampler.prime(seed_text)
    stepper, chooser = sampler.stepper, Chooser(sampler.vocab)
    st = stepper.from_model(sampler.state).repeat(n)
    logits = np.repeat(sampler.logits[None], n, axis=0)
    recent = [deque(sampler.recent, maxlen=params.repetition_window) for _ in range(n)]
    tails = [sampler.tail] * n
    ends = np.full(n, length)  # each stream's length, shorter once it hits a stop string
    chosen = np.zeros((length, n), dtype=np.intp)
    surprise = np.zeros((length, n))
    block, u = np.empty((n, BLOCK)), np.empty(n)
    rows = np.arange(n)
    for t in range(length):
        if not params.argmax:  # every stream's own uniforms, as a single stream draws them
            if t % BLOCK == 0:
                for i, rng in enumerate(rngs):
                    block[i] = rng.random(BLOCK)
            u[:] = block[:, t % BLOCK]
        ids = chooser.choose(logits, params, u,
                             recent if params.repetition_penalty != 1.0 else None)
        chosen[t] = ids
        surprise[t] = -_log_softmax(logits)[rows, ids]
        if params.repetition_penalty != 1.0:
            for window, idx in zip(recent, ids.tolist(), strict=True):
                window.append(idx)
        if params.stop:
            for i, idx in enumerate(ids.tolist()):
                tails[i] = (tails[i] + sampler.vocab[idx])[-TAIL:]
                if ends[i] == length and any(tails[i].endswith(x) for x in params.stop):
                    ends[i] = t + 1
            if (ends <= t + 1).all():
                break
        logits = stepper.step(ids, st)
    vocab = np.array(sampler.vocab, dtype=object)
    return [Candidate("".join(vocab[chosen[:ends[i], i]]), tuple(surprise[:ends[i], i].tolist()))
            for i in range(n)]


def beam_search(sampler: Sampler, seed_text: str, width: int, length: int) -> list[Candidate]:
    """The `width` most probable continuations of `length` characters, best first.

    Keeps the `width` best partial texts by total log-probability at every character;
    width 1 is greedy (argmax) decoding. Each character keeps only back-pointers; the texts
    are read back at the end.
    """
    if width < 1 or length < 0:
        raise ConfigError("beam width must be at least 1 and length at least 0")
    sampler.prime(seed_text)
    stepper = sampler.stepper
    st = stepper.from_model(sampler.state)
    logits = sampler.logits[None]
    vocab = len(sampler.vocab)
    scores = np.zeros(1)
    back: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # parents, ids, surprise
    for _ in range(length):
        logp = _log_softmax(logits)  # (beams, vocab)
        total = (scores[:, None] + logp).ravel()
        k = min(width, total.size)
        best = np.argpartition(-total, k - 1)[:k]
        best = best[np.argsort(-total[best], kind="stable")]
        parents, ids = best // vocab, best % vocab
        back.append((parents, ids, -logp[parents, ids]))
        scores = total[best]
        st = st.rows(parents)
        logits = stepper.step(ids, st)
    beams = []
    for b in range(len(scores)):
        chars, costs = [], []
        for parents, ids, cost in reversed(back):
            chars.append(sampler.vocab[ids[b]])
            costs.append(float(cost[b]))
            b = parents[b]
        beams.append(Candidate("".join(reversed(chars)), tuple(reversed(costs))))
    return beams
