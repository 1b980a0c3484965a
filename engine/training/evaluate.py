"""Mean cross-entropy of a text under a model, in nats per character."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import Model, NumpyRNN


def _numpy_nll(model: NumpyRNN, x: np.ndarray, y: np.ndarray, state):
    logits, state = model.forward(x, state)
    logits = logits - logits.max(axis=-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -float(np.take_along_axis(logp, y[..., None], -1).sum()), state


@torch.no_grad()
def mean_cross_entropy(model: Model, data: np.ndarray, *, streams: int = 32,
                       seq: int = 256, device: torch.device | str = "cpu") -> float:
    """Score all of `data`, in fp32, as `streams` parallel segments read with carried state.

    Every character but each segment's first is predicted, so nearly the whole text counts
    while the work still runs in batches.
    """
    if len(data) < 2:
        raise CharRNNError("need at least 2 characters to evaluate")
    streams = max(1, min(streams, len(data) // 2))
    seg = len(data) // streams
    rows = np.asarray(data[: streams * seg]).reshape(streams, seg).astype(np.int64)
    is_numpy = isinstance(model, NumpyRNN)
    was_training = False if is_numpy else model.training
    if not is_numpy:
        model.eval()
    state = model.init_state(streams, device)
    total, count = 0.0, 0
    try:
        for start in range(0, seg - 1, seq):
            y = rows[:, start + 1: start + seq + 1]
            x = rows[:, start: start + y.shape[1]]
            if is_numpy:
                nll, state = _numpy_nll(model, x, y, state)
            else:
                logits, state = model(torch.from_numpy(x).to(device), state)
                nll = float(F.cross_entropy(logits.float().flatten(0, 1),
                                            torch.from_numpy(y).to(device).flatten(),
                                            reduction="sum"))
            total += nll
            count += y.size
    finally:
        if was_training:
            model.train()
    return total / count
