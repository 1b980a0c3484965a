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
import torch

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.sampler import TAIL, Sampler, adjusted, next_distribution
from charrnn_tui.engine.models.stepper import StepState

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


def _repeat(st: StepState, n: int) -> StepState:
    return StepState([h.repeat(n, 1) for h in st.h],
                     None if st.c is None else [c.repeat(n, 1) for c in st.c])


def _rows(st: StepState, rows: torch.Tensor) -> StepState:
    return StepState([h[rows] for h in st.h], None if st.c is None else [c[rows] for c in st.c])


def _log_softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(logits.double(), dim=-1).cpu().numpy()


def rank(candidates: list[Candidate], by: Rank = "total") -> list[Candidate]:
    """Most probable first, by total or per-character (mean) log-probability."""
    key = (lambda c: c.logprob) if by == "total" else (lambda c: c.mean_logprob)
    return sorted(candidates, key=key, reverse=True)


def sample_n(sampler: Sampler, seed_text: str, n: int, length: int, *,
             rng_seed: int | None = None) -> list[Candidate]:
    """`n` independent samples of `length` characters after `seed_text`, in stream order.

    Stream i draws from `np.random.default_rng(SeedSequence(rng_seed).spawn(n)[i])`, so it
    is the text a single `Sampler` with that generator would write, with the same bans,
    biases, repetition penalty and stop strings (each stream ends at its own stop).
    """
    if n < 1 or length < 0:
        raise ConfigError("n must be at least 1 and length at least 0")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(rng_seed).spawn(n)]
    params = sampler.params
    sampler.prime(seed_text)
    stepper = sampler.stepper
    st = _repeat(stepper.from_model(sampler.state), n)
    logits = np.repeat(sampler.logits[None], n, axis=0)
    ids = torch.zeros(n, dtype=torch.long, device=sampler.device)
    recent = [deque(sampler.recent, maxlen=params.repetition_window) for _ in range(n)]
    tails = [sampler.tail] * n
    done = [False] * n
    chars: list[list[str]] = [[] for _ in range(n)]
    surprise: list[list[float]] = [[] for _ in range(n)]
    for _ in range(length):
        if all(done):
            break
        logp = _log_softmax(torch.from_numpy(logits))
        for i in range(n):
            if done[i]:
                continue
            probs = next_distribution(adjusted(logits[i], params, sampler.index, recent[i]),
                                      params)
            if params.argmax:
                idx = int(np.argmax(probs))
            else:
                idx = int(np.searchsorted(np.cumsum(probs), rngs[i].random() * probs.sum()))
                idx = min(idx, len(probs) - 1)
            ids[i] = idx
            char = sampler.vocab[idx]
            chars[i].append(char)
            surprise[i].append(-float(logp[i, idx]))
            recent[i].append(idx)
            tails[i] = (tails[i] + char)[-TAIL:]
            done[i] = any(tails[i].endswith(s) for s in params.stop)
        logits = stepper.step(ids, st).to("cpu", torch.float64).numpy()
    return [Candidate("".join(c), tuple(s)) for c, s in zip(chars, surprise, strict=True)]


def beam_search(sampler: Sampler, seed_text: str, width: int, length: int) -> list[Candidate]:
    """The `width` most probable continuations of `length` characters, best first.

    Keeps the `width` best partial texts by total log-probability at every character;
    width 1 is greedy (argmax) decoding.
    """
    if width < 1 or length < 0:
        raise ConfigError("beam width must be at least 1 and length at least 0")
    sampler.prime(seed_text)
    stepper = sampler.stepper
    st = stepper.from_model(sampler.state)
    logits = torch.from_numpy(sampler.logits[None])
    vocab = len(sampler.vocab)
    beams: list[tuple[list[int], list[float]]] = [([], [])]
    scores = np.zeros(1)
    for _ in range(length):
        logp = _log_softmax(logits)  # (beams, vocab)
        total = (scores[:, None] + logp).ravel()
        k = min(width, total.size)
        best = np.argpartition(-total, k - 1)[:k]
        best = best[np.argsort(-total[best], kind="stable")]
        parents, ids = best // vocab, best % vocab
        beams = [(beams[p][0] + [int(i)], beams[p][1] + [-float(logp[p, i])])
                 for p, i in zip(parents, ids, strict=True)]
        scores = total[best]
        st = _rows(st, torch.as_tensor(parents, device=sampler.device))
        logits = stepper.step(torch.as_tensor(ids, device=sampler.device), st).to(
            "cpu", torch.float64)
    return [Candidate("".join(sampler.vocab[i] for i in b), tuple(s)) for b, s in beams]
