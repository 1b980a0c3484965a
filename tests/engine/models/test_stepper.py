"""The fast step gives the full forward pass's logits, for every implementation and cell."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.models import NumpyRNN
from charrnn_tui.engine.models.stepper import Stepper

KINDS = kit.STEP_KINDS
_model = kit.perturbed_model


def _forward(model, ids: np.ndarray):
    """Logits (streams, time, vocab) as float64 and the final state, from the full forward."""
    with torch.no_grad():
        x = np.array(ids) if isinstance(model, NumpyRNN) else torch.tensor(ids)
        logits, state = model.forward(x, model.init_state(len(ids)))
    return np.asarray(logits if isinstance(model, NumpyRNN) else logits.double()), state


def _exact(model, ids: np.ndarray) -> np.ndarray:
    """The full forward in float64: the reference both fp32 computations are held to."""
    if isinstance(model, NumpyRNN):
        return _forward(model, ids)[0]
    m64 = copy.deepcopy(model).double()
    state = m64.init_state(len(ids))
    state = tuple(s.double() for s in state) if isinstance(state, tuple) else state.double()
    with torch.no_grad():
        return m64.forward(torch.tensor(ids), state)[0].numpy()


@pytest.mark.parametrize("use_numpy", [None, False], ids=["numpy-step", "torch-step"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_steps_after_priming_equal_the_full_forward(kind, use_numpy):
    """Within 3e-5 of the exact logits, as the fp32 forward is; the two fp32 results differ
    by their own rounding, which depends on the CPU's kernels (AVX-512 sums in another
    order than AVX2): up to ~1.4e-5 each way seen on a tanh RNN with logits near 3."""
    model = _model(kind)
    ids = np.random.default_rng(1).integers(0, len(kit.ALPHABET), size=(3, 200))
    full, _ = _forward(model, ids)  # three streams, every position
    exact = _exact(model, ids)
    _, state = _forward(model, ids[:, :40])  # priming runs the full sequence forward
    stepper = Stepper(model, use_numpy=use_numpy)  # torch: the step used on a GPU
    st = stepper.from_model(state)
    worst = worst_forward = worst_exact = 0.0
    for t in range(40, 200):
        logits = stepper.step(ids[:, t], st).astype(np.float64)
        worst = max(worst, float(np.abs(logits - full[:, t]).max()))
        worst_exact = max(worst_exact, float(np.abs(logits - exact[:, t]).max()))
        worst_forward = max(worst_forward, float(np.abs(full[:, t] - exact[:, t]).max()))
    assert worst_exact <= 3e-5, worst_exact
    assert worst_forward <= 3e-5, "the reference itself"
    assert worst <= 6e-5, worst
    again = stepper.from_model(stepper.to_model(st))  # and back to the model's own format
    assert all(np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(st.h, again.h, strict=True))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_sampler_streams_on_the_fast_step(kind):
    """After streaming, the sampler's logits are those of reading seed + text in one pass."""
    model = _model(kind)
    sampler = Sampler(model, kit.ALPHABET, rng_seed=5)
    text = sampler.generate("the cat", 150)
    primed = Sampler(model, kit.ALPHABET)
    primed.prime("the cat" + text)
    assert np.abs(sampler.logits - primed.logits).max() <= 1e-5


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_typed_text_takes_the_fast_step_or_the_full_forward_alike(kind):
    """A few typed characters take the fast step, a long paste the full forward: both
    continue the stream as reading everything in one pass would."""
    model = _model(kind)
    sampler = Sampler(model, kit.ALPHABET, rng_seed=2)
    text = sampler.generate("the ", 30)
    short, long = [1, 2, 3], list(np.random.default_rng(3).integers(0, len(kit.ALPHABET), size=40))
    sampler.feed(short)
    assert sampler._st is not None  # still on the fast layout
    text += "".join(kit.ALPHABET[i] for i in short)
    sampler.feed(long)
    text += "".join(kit.ALPHABET[i] for i in long)
    primed = Sampler(model, kit.ALPHABET)
    primed.prime("the " + text)
    assert np.abs(sampler.logits - primed.logits).max() <= 1e-5
    assert sampler.trail.ids == primed.trail.ids


def test_select_reorders_streams_in_place_as_rows_does():
    stepper = Stepper(_model("torch-lstm"))
    st = stepper.from_model(_forward(_model("torch-lstm"), np.array([[1, 2], [3, 4],
                                                                     [5, 6]]))[1])
    stepper.step(np.array([0, 1, 2]), st)  # made its work buffers
    index = np.array([2, 2, 0])
    want = st.rows(index)
    buffers = st.work["out"]
    same = st.select(index)
    assert same is st and st.work["out"] is buffers
    assert all(np.array_equal(a, b) for a, b in zip(st.h + st.c, want.h + want.c, strict=True))
    assert st.select(np.array([1])).h[0].shape[0] == 1  # a new N: a new state
