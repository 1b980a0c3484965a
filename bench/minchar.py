"""Karpathy's min-char-rnn training loop, as published, for a side-by-side baseline.

One stream, `seq` characters per update, column vectors, a Python loop over time in both
directions, Adagrad with lr 0.1 and element-wise clipping to ±5. The state is carried
between chunks and reset when the pointer wraps. Only the stopping rule (a wall-clock
budget) and the data (the integer-encoded train split) differ from the gist.
"""

from __future__ import annotations

import time

import numpy as np

from charrnn_tui.engine.models import ModelSpec, NumpyRNN


def train_minchar(train: np.ndarray, vocab: list[str], budget: float, *, hidden: int = 100,
                  seq: int = 25, lr: float = 0.1, seed: int = 0) -> tuple[NumpyRNN, int]:
    """Train for `budget` seconds; the weights as a NumpyRNN (same shapes) and the steps."""
    rng = np.random.default_rng(seed)
    v = len(vocab)
    Wxh = rng.standard_normal((hidden, v)) * 0.01
    Whh = rng.standard_normal((hidden, hidden)) * 0.01
    Why = rng.standard_normal((v, hidden)) * 0.01
    bh, by = np.zeros((hidden, 1)), np.zeros((v, 1))
    params = [Wxh, Whh, Why, bh, by]
    mems = [np.zeros_like(p) for p in params]

    def loss_fun(inputs, targets, hprev):
        xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((v, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys - ys.max()) / np.sum(np.exp(ys - ys.max()))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for d in (dWxh, dWhh, dWhy, dbh, dby):
            np.clip(d, -5, 5, out=d)
        return loss, (dWxh, dWhh, dWhy, dbh, dby), hs[len(inputs) - 1]

    data = train.tolist()
    p, n, hprev = 0, 0, np.zeros((hidden, 1))
    end = time.perf_counter() + budget
    while time.perf_counter() < end:
        if p + seq + 1 >= len(data) or n == 0:
            hprev = np.zeros((hidden, 1))
            p = 0
        _, grads, hprev = loss_fun(data[p: p + seq], data[p + 1: p + seq + 1], hprev)
        for param, dparam, mem in zip(params, grads, mems, strict=True):
            mem += dparam * dparam
            param += -lr * dparam / np.sqrt(mem + 1e-8)
        p += seq
        n += 1
    model = NumpyRNN(ModelSpec(impl="numpy", cell="rnn", layers=1, hidden=hidden,
                               vocab=list(vocab)))
    model.params = {"Wxh": Wxh, "Whh": Whh, "Why": Why, "bh": bh[:, 0], "by": by[:, 0]}
    return model, n
