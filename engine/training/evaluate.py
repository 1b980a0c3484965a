"""Mean cross-entropy of a text under a model, in nats per character."""

from __future__ import annotations

import numpy as np
import torch

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import Model
from charrnn_tui.engine.models.inference import MAX_LOGITS, evaluating, summed_nll


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
    seq = max(1, min(seq, MAX_LOGITS // (streams * model.spec.vocab_size)))  # bounded memory
    state = model.init_state(streams, device)
    total, count = 0.0, 0
    with evaluating(model):
        for start in range(0, seg - 1, seq):
            y = rows[:, start + 1: start + seq + 1]
            x = rows[:, start: start + y.shape[1]]
            nll, state = summed_nll(model, x, y, state, device)
            total += nll
            count += y.size
    return total / count
