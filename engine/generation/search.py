"""Several continuations of one seed at once: best-of-N sampling and beam search.

Both run every candidate as one row of a batch on the fast step (engine/stepper.py), so N
continuations cost little more than one: the weights are read once per character for all.
Candidates are scored by the model's own log-probability of the generated characters
(temperature 1), whatever the sampling settings were.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from charrnn_tui.engine.errors import CharRNNError, ConfigError
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


def _surprises(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[id] for logits (..., vocab) and ids (...), in float64."""
    z = _log_softmax(logits)
    return -np.take_along_axis(z, ids[..., None], axis=-1)[..., 0]


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
    stepper = sampler.stepper
    chooser = Chooser(sampler.vocab, stepper.logit_bound)
    st = stepper.from_model(sampler.state).repeat(n)
    logits = np.repeat(sampler.logits[None], n, axis=0)
    recent = [deque(sampler.recent, maxlen=params.repetition_window) for _ in range(n)]
    tails = [sampler.tail] * n
    ends = np.full(n, length)  # each stream's length, shorter once it hits a stop string
    chosen = np.zeros((length, n), dtype=np.intp)
    surprise = np.zeros((length, n))
    seen = np.empty((BLOCK, n, len(sampler.vocab)))  # logits, scored a block
    block, u = np.empty((n, BLOCK)), np.empty(n)  # at a time, not a character at a time
    t = -1
    for t in range(length):
        if t % BLOCK == 0 and t:
            surprise[t - BLOCK:t] = _surprises(seen, chosen[t - BLOCK:t])
        if not params.argmax:  # every stream's own uniforms, as a single stream draws them
            if t % BLOCK == 0:
                for i, rng in enumerate(rngs):
                    block[i] = rng.random(BLOCK)
            u[:] = block[:, t % BLOCK]
        ids = chooser.choose(logits, params, u,
                             recent if params.repetition_penalty != 1.0 else None)
        chosen[t] = ids
        seen[t % BLOCK] = logits
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
    if t >= 0:  # the last block, full or not
        start = t - t % BLOCK
        surprise[start:t + 1] = _surprises(seen[:t + 1 - start], chosen[start:t + 1])
    vocab = np.array(sampler.vocab, dtype=object)
    return [Candidate("".join(vocab[chosen[:ends[i], i]]), tuple(surprise[:ends[i], i].tolist()))
            for i in range(n)]


def beam_search(sampler: Sampler, seed_text: str, width: int, length: int) -> list[Candidate]:
    """The `width` most probable continuations of up to `length` characters, best first.

    Keeps the `width` best partial texts at every character; width 1 is greedy (argmax)
    decoding. The sampler's bans, biases and repetition penalty shape the search: a beam
    grows by the log-softmax of its adjusted logits (temperature 1; top-k and top-p do
    not apply). A beam whose text ends with a stop string is finished as it is; the others
    go on, fewer at a time, until `width` have finished or the length is reached. Results
    rank by adjusted log-probability per character (length-normalised; with no stop strings
    all have the same length); each reports the model's own surprise per character. Each
    character keeps only back-pointers; the texts are read back at the end.
    """
    if width < 1 or length < 0:
        raise ConfigError("beam width must be at least 1 and length at least 0")
    params = sampler.params
    sampler.prime(seed_text)
    stepper, vocab = sampler.stepper, sampler.vocab
    bias = Chooser(vocab).controls(params)
    cut = math.log(params.repetition_penalty) if params.repetition_penalty != 1.0 else 0.0
    st = stepper.from_model(sampler.state)
    logits = sampler.logits[None]
    scores = np.zeros(1)  # adjusted log-probability of each live beam
    recent = [deque(sampler.recent, maxlen=params.repetition_window)]
    tails = [sampler.tail]
    back: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # parents, ids, surprise
    done: list[tuple[float, int, int]] = []  # finished beams: mean score, entry of back, row
    for t in range(length):
        own = _log_softmax(logits)  # (beams, vocab)
        search = own if bias is None and not cut else _log_softmax(
            _adjusted(logits, bias, recent if cut else None, cut))
        total = (scores[:, None] + search).ravel()
        k = min(width - len(done), int(np.isfinite(total).sum()))
        if k < 1:  # bans never cover every character, so only NaN logits get here
            raise CharRNNError("the model's outputs are not numbers (NaN): nothing to search")
        best = np.argpartition(-total, k - 1)[:k]
        best = best[np.argsort(-total[best], kind="stable")]
        parents, ids = best // len(vocab), best % len(vocab)
        back.append((parents, ids, -own[parents, ids]))
        scores = total[best]
        if cut:
            recent = [deque(recent[p], maxlen=params.repetition_window) for p in parents]
            for window, idx in zip(recent, ids.tolist(), strict=True):
                window.append(idx)
        live = np.ones(len(ids), dtype=bool)
        if params.stop:
            tails = [(tails[p] + vocab[i])[-TAIL:] for p, i in zip(parents, ids, strict=True)]
            for row, tail in enumerate(tails):
                if any(tail.endswith(x) for x in params.stop):
                    done.append((scores[row] / (t + 1), len(back) - 1, row))
                    live[row] = False
        if t == length - 1 or not live.any():
            done += [(scores[row] / (t + 1), len(back) - 1, row) for row in np.flatnonzero(live)]
            break
        if not live.all():
            keep = np.flatnonzero(live)
            scores, tails = scores[keep], [tails[r] for r in keep]
            recent = [recent[r] for r in keep] if cut else recent
            parents, ids = parents[keep], ids[keep]
            back.append((keep, ids, np.empty(0)))  # a step that only drops finished rows
        st = st.select(parents)
        logits = stepper.step(ids, st)
    if not done:  # length 0
        return [Candidate("", ())]
    done.sort(key=lambda d: -d[0])
    return [_read_back(back, step, row, vocab) for _, step, row in done[:width]]


def _adjusted(logits: np.ndarray, bias: np.ndarray | None, recent: list[deque[int]] | None,
              cut: float) -> np.ndarray:
    """Each beam's logits after the bias-and-ban row and its own repetition penalty."""
    z = logits.astype(np.float64) if bias is None else logits + bias
    for row, window in enumerate(recent or ()):
        if window:
            z[row, list(set(window))] -= cut
    return z


def _read_back(back: list[tuple[np.ndarray, np.ndarray, np.ndarray]], step: int, row: int,
               vocab: list[str]) -> Candidate:
    """The text and surprises of the beam that is row `row` of `back[step]`."""
    chars, costs = [], []
    for parents, ids, cost in reversed(back[:step + 1]):
        if cost.size:  # a real step (not a drop of finished rows)
            chars.append(vocab[ids[row]])
            costs.append(float(cost[row]))
        row = parents[row]
    return Candidate("".join(reversed(chars)), tuple(reversed(costs)))
