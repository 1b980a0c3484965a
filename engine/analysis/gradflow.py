"""Gradient flow: how much of the last position's loss gradient reaches each earlier input.

For one chunk, starting from a zero state, the loss at the last position T is
differentiated with respect to every input x_t, and ‖∂L_T/∂x_t‖ is averaged over the
streams. A vanilla RNN's curve falls geometrically with T − t; gated cells keep it up.

x_t is what the recurrent layer is fed: the embedding vector for the torch
implementation, the one-hot character for scratch and numpy (whose first layer is a
matrix applied to it). Each family taps its own model (models/family.py): the numpy model
runs its hand-written backward pass; the torch models use autograd.grad, which leaves the
parameters' .grad untouched, so a pass in the middle of training changes nothing the
optimizer sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.models import family_of

if TYPE_CHECKING:
    from charrnn_tui.engine.models import Model

MAX_STREAMS = 16  # streams measured per pass: enough for a steady mean, cheap to run


def gradient_flow(model: Model, x: np.ndarray, y: np.ndarray,
                  streams: int = MAX_STREAMS) -> np.ndarray:
    """mean_b ‖∂L_T/∂x_t‖ indexed by distance back from the last position: [0] is t = T.

    `x`, `y`: (batch, seq) ids; only the first `streams` rows are used.
    """
    return family_of(model.spec).gradient_flow(model, x[:streams], y[:streams])
