"""A torch or scratch model's weights as numpy arrays, for sampling on a CPU without torch.

Sampling on a CPU already runs every step in numpy (stepper.py); only building the torch
module needed torch. An `ArrayModel` holds the weights as the model file stores them and
uses the fast step as its forward, so `charrnn-tui sample` and the app's first seconds
never import torch (an import that costs about a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.models.family import ArrayNet
from charrnn_tui.engine.models.registry import family_of
from charrnn_tui.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    from charrnn_tui.engine.models.numpy_rnn import NumpyRNN


class ArrayModel(ArrayNet):
    """A torch or scratch model, weights only, in numpy; read one stream at a time."""

    def __init__(self, spec: ModelSpec, weights: dict[str, np.ndarray]):
        self.spec = spec
        self.weights = weights
        self._stepper = None

    def arrays(self) -> dict[str, np.ndarray]:
        return self.weights

    def init_state(self, batch: int, device: str = "cpu"):
        """Zeros shaped as the torch model's state: (layers, batch, hidden), or (batch,
        hidden) for scratch; a pair for the LSTM."""
        s = self.spec
        shape = (s.layers, batch, s.hidden) if family_of(s).stacked_state else (batch, s.hidden)
        zeros = np.zeros(shape, dtype=np.float32)
        return (zeros, zeros.copy()) if s.cell == "lstm" else zeros

    def layer_states(self, state) -> dict[str, np.ndarray]:
        """Per-layer views of a state for inspection: name → (layers, batch, hidden), the
        LSTM's cell through tanh, as the torch models give them."""
        h, c = state if self.spec.cell == "lstm" else (state, None)
        if not family_of(self.spec).stacked_state:
            h, c = h[None], None if c is None else c[None]
        return {"hidden": h} if c is None else {"hidden": h, "cell": np.tanh(c)}

    def forward(self, x: np.ndarray, state) -> tuple[np.ndarray, object]:
        """x: (1, time) ids → the logits after the last one as (1, 1, vocab), and the new
        state: one fast step per character."""
        from charrnn_tui.engine.models.stepper import Stepper

        if self._stepper is None:
            self._stepper = Stepper(self)
        st = self._stepper.from_model(state)
        ids = np.zeros(1, dtype=np.intp)
        logits = None
        for idx in np.asarray(x)[0]:
            ids[0] = idx
            logits = self._stepper.step(ids, st)
        return np.array(logits, dtype=np.float64)[:, None, :], self._stepper.to_model(st)


def restore_arrays(spec: ModelSpec, weights: dict[str, np.ndarray]) -> NumpyRNN | ArrayModel:
    """A model to sample from, built from a file's weights without torch."""
    return family_of(spec.validate()).array_model(spec, weights)
