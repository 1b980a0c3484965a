"""A plain PyTorch LSTM loop, made fair, for the quality benchmark's comparisons.

Embedding 64 → nn.LSTM 2×256 → linear; Adam at a constant rate, clip 5, carried state,
no schedule, no averaging, no engine trainer: what a reader of the PyTorch docs would
write. Fair in what is not the engine's own idea: the engine's batch shape (16 streams ×
50 characters), bf16 autocast where the CPU computes it natively (the loss stays fp32),
the engine's thread policy, and a rate chosen by a short sweep (`best_rate`). Evaluated
with the same function as the engine's runs.
Readings at given seconds are observations, like the engine's: their time is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from charrnn_tui.engine.models import ModelSpec
from charrnn_tui.engine.threads import ThreadTuner
from charrnn_tui.engine.training.precision import autocast, resolve_precision

BATCH, SEQ, LR = 16, 50, 5e-3  # the engine's quick shape; LR: the sweep's usual winner


class PlainLSTM(nn.Module):
    def __init__(self, vocab: list[str]):
        super().__init__()
        # a spec only so the engine's evaluator can score it; nothing else reads it
        self.spec = ModelSpec(impl="torch", cell="lstm", layers=2, hidden=256, embed=64,
                              vocab=list(vocab))
        self.embed = nn.Embedding(len(vocab), 64)
        self.lstm = nn.LSTM(64, 256, 2, batch_first=True)
        self.head = nn.Linear(256, len(vocab))

    def init_state(self, batch: int, device="cpu"):
        zeros = torch.zeros(2, batch, 256, device=device)
        return zeros, zeros.clone()

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def train_baseline(train: np.ndarray, vocab: list[str], budget: float, *, seed: int,
                   evaluate: Callable[[nn.Module], float], reads: list[float] | None = None,
                   lr: float = LR, precision: str = "auto",
                   tuner: ThreadTuner | None = None) -> tuple[list[tuple[float, float]], int]:
    """Train for `budget` wall seconds, scoring at each of `reads` (seconds) and at the end;
    the (seconds, val loss) points and the steps taken.

    `tuner` times the steps to pick the thread count, as it does for the engine's runs.
    """
    torch.manual_seed(seed)
    model = PlainLSTM(vocab)
    precision = resolve_precision(precision, "cpu")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    streams = torch.from_numpy(train[: len(train) // BATCH * BATCH].astype(np.int64)
                               ).view(BATCH, -1)
    pending = sorted(r for r in reads or [] if r < budget)
    start = time.perf_counter()
    pos, steps, curve = 0, 0, []
    state = model.init_state(BATCH)
    while time.perf_counter() - start < budget:
        if pos + SEQ + 1 > streams.shape[1]:
            pos, state = 0, model.init_state(BATCH)
        step_start = time.perf_counter()
        x, y = streams[:, pos: pos + SEQ], streams[:, pos + 1: pos + SEQ + 1]
        with autocast(precision, "cpu"):
            logits, state = model(x, state)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        state = tuple(s.detach().float() for s in state)
        pos, steps = pos + SEQ, steps + 1
        if tuner:
            tuner.step_done(time.perf_counter() - step_start)
        if pending and time.perf_counter() - start >= pending[0]:
            read_start = time.perf_counter()
            curve.append((pending.pop(0), evaluate(model)))
            model.train()
            start += time.perf_counter() - read_start  # a reading is not training time
    curve.append((budget, evaluate(model)))
    return curve, steps


def best_rate(train: np.ndarray, vocab: list[str], rates: list[float], budget: float, *,
              seed: int, evaluate: Callable[[nn.Module], float], precision: str = "auto",
              tuner: ThreadTuner | None = None) -> tuple[float, dict[float, float]]:
    """The rate of `rates` whose `budget`-second run scores best, and every rate's score."""
    scores = {}
    for lr in rates:
        curve, _ = train_baseline(train, vocab, budget, seed=seed, evaluate=evaluate, lr=lr,
                                  precision=precision, tuner=tuner)
        scores[lr] = round(curve[-1][1], 4)
    return min(scores, key=scores.get), scores
