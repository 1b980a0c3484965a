"""The two evaluation protocols: carried state over the text, and zero-state windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import kit

from charrnn_tui.engine.models import build_model, step_logits
from charrnn_tui.engine.training.evaluate import (
    cross_entropy,
    mean_cross_entropy,
    window_cross_entropy,
)


def _hand_windows(model, ids: list[int], window: int) -> float:
    """Every `window`-long window from a zero state, one character at a time."""
    nll, n = 0.0, 0
    for start in range(0, (len(ids) - 1) // window * window, window):
        state = model.init_state(1)
        for a, b in zip(ids[start: start + window], ids[start + 1: start + window + 1],
                        strict=True):
            logits, state = step_logits(model, a, state)
            logits = logits - logits.max()
            nll -= logits[b] - math.log(np.exp(logits).sum())
            n += 1
    return nll / n


@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_window_protocol_equals_a_hand_loop(kind):
    model = build_model(kit.spec(kind), seed=3)
    ids = kit.corpus().data[:300].astype(int)
    expect = _hand_windows(model, ids.tolist(), 32)
    # batches of 4 windows, and time split into chunks, must not change the figure
    got = window_cross_entropy(model, ids, window=32, shifts=1, batch=4)
    assert got == pytest.approx(expect, rel=1e-5)
    # two shifts: the windows from 0 and from 16 together, each position weighted alike
    later = _hand_windows(model, ids[16:].tolist(), 32)
    n0, n16 = (len(ids) - 1) // 32, (len(ids) - 17) // 32
    both = (expect * n0 + later * n16) / (n0 + n16)
    assert window_cross_entropy(model, ids, window=32, shifts=2) == pytest.approx(both, rel=1e-5)
    assert cross_entropy(model, ids, "window", window=32, shifts=1) == pytest.approx(
        expect, rel=1e-5)


def test_window_protocol_differs_from_stream_and_is_deterministic():
    tr = kit.trainer("torch", max_steps=60)
    tr.run()
    data = kit.corpus().data
    stream = cross_entropy(tr.model, data, "stream")
    assert stream == mean_cross_entropy(tr.model, data)  # the stream protocol is unchanged
    window = cross_entropy(tr.model, data, "window", window=8)
    assert window == cross_entropy(tr.model, data, "window", window=8)
    assert window > stream  # early positions of each window have little context


def test_a_text_shorter_than_a_window_is_one_window():
    model = build_model(kit.spec("torch"), seed=1)
    ids = kit.corpus().data[:20].astype(int)
    assert window_cross_entropy(model, ids, window=256, shifts=1) == pytest.approx(
        _hand_windows(model, ids.tolist(), 19), rel=1e-5)


def test_bad_protocol_or_window_is_refused():
    model = build_model(kit.spec("torch"))
    ids = kit.corpus().data[:50]
    with pytest.raises(ValueError, match="protocol"):
        cross_entropy(model, ids, "random")
    with pytest.raises(ValueError, match="window"):
        window_cross_entropy(model, ids, window=0)
