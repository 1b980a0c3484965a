"""Mean cross-entropy of a text under a model, in nats per character, by two protocols.

`stream` reads the text with carried state (an RNN's own measure: unlimited context);
`window` scores fixed-length windows each from a zero state, as nanoGPT's estimate does
(its early positions have little context, so the figure is higher).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models.inference import MAX_LOGITS, evaluating, summed_nll

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models import Model

PROTOCOLS = ("stream", "window")
WINDOW = 256  # nanoGPT's block size for shakespeare_char
# Tilings, each shifted by window/SHIFTS: on the shipped model one tiling's figure moved by
# up to 0.003 with its offset (each character sits at one fixed position of its window);
# averaging four shifts scores each character at four positions, for four times the work.
SHIFTS = 4


def _no_grad(f):
    """torch.no_grad() for the call, with torch imported only when it is made."""
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        import torch

        with torch.no_grad():
            return f(*args, **kwargs)
    return wrapped


@_no_grad
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
    return _score_rows(model, rows, seq, device)


@_no_grad
def window_cross_entropy(model: Model, data: np.ndarray, *, window: int = WINDOW,
                         shifts: int = SHIFTS, batch: int = 64,
                         device: torch.device | str = "cpu") -> float:
    """Mean over every position of every window of `data`, each window from a zero state.

    The windows tile the text (`window` inputs, their `window` next characters as targets,
    starts `window` apart), once from each of `shifts` offsets spread over a window, so
    each character is scored `shifts` times at different positions: a deterministic
    stand-in for nanoGPT's average over random windows. A tiling's tail shorter than a
    window is left out; a text shorter than one window is scored as one window.
    """
    if len(data) < 2:
        raise CharRNNError("need at least 2 characters to evaluate")
    if window < 1 or shifts < 1:
        raise CharRNNError("the window and the number of shifts must be at least 1")
    window = min(window, len(data) - 1)
    data = np.asarray(data)
    total, n = 0.0, 0
    for offset in sorted({s * window // shifts for s in range(shifts)}):
        count = (len(data) - offset - 1) // window
        for first in range(0, count, batch):
            starts = offset + np.arange(first, min(first + batch, count)) * window
            rows = data[starts[:, None] + np.arange(window + 1)].astype(np.int64)
            total += _score_rows(model, rows, window, device) * rows.shape[0] * window
            n += rows.shape[0] * window
    return total / n


def _score_rows(model: Model, rows: np.ndarray, seq: int,
                device: torch.device | str) -> float:
    """Mean next-character loss along each row from a zero state, `seq` steps at a time."""
    streams, length = rows.shape
    seq = max(1, min(seq, MAX_LOGITS // (streams * model.spec.vocab_size)))  # bounded memory
    state = model.init_state(streams, device)
    total, count = 0.0, 0
    with evaluating(model):
        for start in range(0, length - 1, seq):
            y = rows[:, start + 1: start + seq + 1]
            x = rows[:, start: start + y.shape[1]]
            nll, state = summed_nll(model, x, y, state, device)
            total += nll
            count += y.size
    return total / count


def cross_entropy(model: Model, data: np.ndarray, protocol: str = "stream", *,
                  window: int = WINDOW, shifts: int = SHIFTS,
                  device: torch.device | str = "cpu") -> float:
    """`data`'s loss under `protocol` (one of PROTOCOLS)."""
    if protocol == "window":
        return window_cross_entropy(model, data, window=window, shifts=shifts, device=device)
    if protocol == "stream":
        return mean_cross_entropy(model, data, device=device)
    raise CharRNNError(f"protocol must be one of {', '.join(PROTOCOLS)}")
