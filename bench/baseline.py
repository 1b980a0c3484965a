"""A plain PyTorch LSTM trained the textbook way, for the quality benchmark's plot.

Embedding 64 → nn.LSTM 2×256 → linear; Adam 2e-3, batch 64, sequence 100, clip 5,
carried state, constant rate, fp32. No presets, no schedule, no engine trainer: what a
reader of the PyTorch docs would write. Evaluated with the same function as the presets,
and its clock, like the trainer's, counts the time spent evaluating.
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

BATCH, SEQ, LR = 64, 100, 2e-3


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
                   eval_every: float, evaluate: Callable[[nn.Module], float],
                   tuner: ThreadTuner | None = None) -> tuple[list[tuple[float, float]], int]:
    """Train for `budget` wall seconds; the (seconds, val loss) curve and the steps taken.

    `tuner` times the steps to pick the thread count, as it does for the engine's runs.
    """
    torch.manual_seed(seed)
    model = PlainLSTM(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    streams = torch.from_numpy(train[: len(train) // BATCH * BATCH].astype(np.int64)
                               ).view(BATCH, -1)
    start = time.perf_counter()
    next_eval, pos, steps, curve = start + eval_every, 0, 0, []
    state = model.init_state(BATCH)
    while time.perf_counter() - start < budget:
        if pos + SEQ + 1 > streams.shape[1]:
            pos, state = 0, model.init_state(BATCH)
        step_start = time.perf_counter()
        x, y = streams[:, pos: pos + SEQ], streams[:, pos + 1: pos + SEQ + 1]
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        state = tuple(s.detach() for s in state)
        pos, steps = pos + SEQ, steps + 1
        if tuner:
            tuner.step_done(time.perf_counter() - step_start)
        if time.perf_counter() >= next_eval:
            curve.append((time.perf_counter() - start, evaluate(model)))
            model.train()
            next_eval = time.perf_counter() + eval_every
    curve.append((time.perf_counter() - start, evaluate(model)))
    return curve, steps
