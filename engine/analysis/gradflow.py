"""Gradient flow: how much of the last position's loss gradient reaches each earlier input.

For one chunk, starting from a zero state, the loss at the last position T is
differentiated with respect to every input x_t, and ‖∂L_T/∂x_t‖ is averaged over the
streams. A vanilla RNN's curve falls geometrically with T − t; gated cells keep it up.

x_t is what the recurrent layer is fed: the embedding vector for the torch
implementation, the one-hot character for scratch and numpy (whose first layer is a
matrix applied to it). The numpy model uses its own hand-written backward pass; the torch
models use autograd.grad, which leaves the parameters' .grad untouched, so a pass in the
middle of training changes nothing the optimizer sees.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from charrnn_tui.engine.models import LibraryRNN, Model, NumpyRNN, ScratchRNN

MAX_STREAMS = 16  # streams measured per pass: enough for a steady mean, cheap to run


def gradient_flow(model: Model, x: np.ndarray, y: np.ndarray,
                  streams: int = MAX_STREAMS) -> np.ndarray:
    """mean_b ‖∂L_T/∂x_t‖ indexed by distance back from the last position: [0] is t = T.

    `x`, `y`: (batch, seq) ids; only the first `streams` rows are used.
    """
    x, y = x[:streams], y[:streams]
    if isinstance(model, NumpyRNN):
        return _numpy_flow(model, x, y)
    return _torch_flow(model, x, y)


def _numpy_flow(model: NumpyRNN, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The same backward recursion as NumpyRNN.loss_and_grads, from the last output only."""
    p = model.params
    b, t_len = x.shape
    hs, _ = model._hidden_states(x, model.init_state(b))
    logits = hs[:, -1] @ p["Why"].T + p["by"]
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    probs[np.arange(b), y[:, -1]] -= 1.0  # dL_T/dlogits, summed (not averaged) over streams
    dh = probs @ p["Why"]
    norms = np.empty(t_len)
    for k, t in enumerate(reversed(range(t_len))):
        h = hs[:, t]
        dh_raw = (1.0 - h * h) * dh
        norms[k] = np.linalg.norm(dh_raw @ p["Wxh"], axis=1).mean()  # Wxhᵀ·dh per stream
        dh = dh_raw @ p["Whh"]
    return norms


def _torch_flow(model: LibraryRNN | ScratchRNN, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    was_training = model.training
    device = next(model.parameters()).device
    xt = torch.from_numpy(x).to(device)
    target = torch.from_numpy(y[:, -1]).to(device)
    model.eval()  # no dropout: the measure is of the weights, not of one dropout mask
    try:
        # cuDNN refuses an RNN backward in eval mode; the native kernels do not
        with torch.backends.cudnn.flags(enabled=False), torch.enable_grad():
            if isinstance(model, LibraryRNN):
                inputs = model.embed(xt).detach().float().requires_grad_()
                out, _ = model.rnn(inputs, model.init_state(len(x), device))
                logits = model.head(out[:, -1])
            else:
                inputs = F.one_hot(xt, model.spec.vocab_size).float().requires_grad_()
                xw = inputs @ model.W_input + model.b_hidden
                state = model.init_state(len(x), device)
                for t in range(x.shape[1]):
                    state = model._step(xw[:, t], state)
                h = state[0] if isinstance(state, tuple) else state
                logits = h @ model.W_softmax + model.b_softmax
            loss = F.cross_entropy(logits.float(), target, reduction="sum")
            (grad,) = torch.autograd.grad(loss, inputs)
    finally:
        model.train(was_training)
    norms = grad.norm(dim=-1).mean(dim=0)  # (seq,)
    return norms.flip(0).double().cpu().numpy()
