"""Running a trained model without training it, for every family: scoring and streaming.

A model that runs in numpy (`ArrayNet`) has no autograd, no device and no train/eval
mode; the torch ones do.
These helpers hide that difference so the evaluator and the sampler need not know it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.models.family import ArrayNet

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models import Model

MAX_LOGITS = 1 << 22  # logits computed at once (16 MB in fp32), whatever the vocabulary


@contextmanager
def evaluating(model: Model) -> Iterator[None]:
    """Eval mode (no dropout) for the duration, then training mode again if it was on."""
    was_training = not isinstance(model, ArrayNet) and model.training
    if not isinstance(model, ArrayNet):
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def summed_nll(model: Model, x: np.ndarray, y: np.ndarray, state,
               device: torch.device | str) -> tuple[float, object]:
    """Total cross-entropy (nats, fp32 for torch) of targets `y` after inputs `x`."""
    if isinstance(model, ArrayNet):
        logits, state = model.forward(x, state)
        logits = logits - logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return -float(np.take_along_axis(logp, y[..., None], -1).sum()), state
    import torch
    import torch.nn.functional as F

    logits, state = model(torch.from_numpy(x).to(device), state)
    nll = float(F.cross_entropy(logits.float().flatten(0, 1),
                                torch.from_numpy(y).to(device).flatten(), reduction="sum"))
    return nll, state


class SingleStream:
    """One model read one stream at a time, giving float64 logits for the next character.

    Puts a torch model in eval mode for good. Streaming one character at a time goes
    through the fast step (models/stepper.py) instead.
    """

    def __init__(self, model: Model | ArrayNet):
        self.model = model
        self.is_torch = not isinstance(model, ArrayNet)
        if self.is_torch:
            model.eval()
        self.device = next(model.parameters()).device if self.is_torch else "cpu"

    def init_state(self):
        return self.model.init_state(1, self.device)

    def feed(self, ids: list[int], state) -> tuple[np.ndarray, object]:
        """Advance over `ids`; the logits after the last one."""
        if not self.is_torch:
            logits, state = self.model.forward(np.array([ids]), state)
        else:
            import torch

            with torch.no_grad():
                x = torch.tensor([ids], device=self.device)
                logits, state = self.model(x, state)
                logits = logits.double().cpu().numpy()
        return np.asarray(logits[0, -1], dtype=np.float64), state
