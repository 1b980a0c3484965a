"""Gradient flow: the hand-written numpy pass against Jacobians multiplied out directly,
and every implementation's pass against autograd or its own definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.analysis.gradflow import gradient_flow
from charrnn_tui.engine.models import build_model
from charrnn_tui.engine.training.events import GradientFlow


def _small_rnn(scale: float = 0.05, hidden: int = 12):
    model = build_model(kit.spec("numpy", hidden=hidden), seed=3)
    rng = np.random.default_rng(4)
    model.params["Wxh"] = rng.standard_normal(model.params["Wxh"].shape) * 0.5
    model.params["Why"] = rng.standard_normal(model.params["Why"].shape) * 0.5
    model.params["Whh"] = rng.standard_normal((hidden, hidden)) * scale
    return model


def _by_jacobians(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖∂L_T/∂x_t‖ for one stream from explicit matrices: g_T · J_T ⋯ J_{t+1} · D_t · Wxh."""
    p = model.params
    hs, _ = model._hidden_states(x[None], model.init_state(1))
    hs = hs[0]
    logits = p["Why"] @ hs[-1] + p["by"]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    probs[y[-1]] -= 1.0
    g = probs @ p["Why"]  # ∂L_T/∂h_T
    out, product = [], np.eye(len(g))  # product = ∂h_T/∂h_t
    for t in reversed(range(len(x))):
        d = np.diag(1.0 - hs[t] ** 2)
        out.append(np.linalg.norm(g @ product @ d @ p["Wxh"]))
        product = product @ d @ p["Whh"]  # times ∂h_t/∂h_{t-1}
    return np.array(out)


def test_numpy_flow_matches_the_product_of_jacobians_and_decays_geometrically():
    model = _small_rnn()
    rng = np.random.default_rng(5)
    x = rng.integers(0, model.spec.vocab_size, (3, 12))
    y = rng.integers(0, model.spec.vocab_size, (3, 12))
    direct = np.mean([_by_jacobians(model, x[b], y[b]) for b in range(3)], axis=0)
    flow = gradient_flow(model, x, y)
    np.testing.assert_allclose(flow, direct, rtol=1e-9)
    # each step back multiplies by at most ‖Whh‖₂ (tanh' ≤ 1) and shrinks by a real factor
    bound = np.linalg.norm(model.params["Whh"], 2)
    ratios = flow[2:] / flow[1:-1]
    assert bound < 0.5
    assert np.all(ratios < bound * 1.5)  # the input-side factor D_t·Wxh varies a little
    slope = np.polyfit(np.arange(len(flow) - 1), np.log(flow[1:]), 1)[0]
    assert slope < np.log(0.5)  # geometric: log-norm falls on a line, steeply


def test_larger_recurrent_weights_carry_the_gradient_further():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 10, (4, 20))
    y = rng.integers(0, 10, (4, 20))
    weak = gradient_flow(_small_rnn(0.05), x, y)
    strong = gradient_flow(_small_rnn(0.4), x, y)
    assert strong[-1] / strong[1] > weak[-1] / weak[1]


@pytest.mark.parametrize("kind", ["scratch-lstm", "scratch-gru", "torch-lstm", "torch-gru"])
def test_torch_flow_is_the_per_stream_input_gradient(kind):
    model = build_model(kit.spec(kind), seed=1)
    model.train()
    rng = np.random.default_rng(7)
    v = model.spec.vocab_size
    x, y = rng.integers(0, v, (3, 6)), rng.integers(0, v, (3, 6))
    flow = gradient_flow(model, x, y)
    assert model.training and all(p.grad is None for p in model.parameters())
    # the same quantity, one stream at a time, through the model's own forward
    for b in range(3):
        xb = torch.from_numpy(x[b:b + 1])
        if kind.startswith("torch"):
            e = model.embed(xb).detach().requires_grad_()
            out, _ = model.rnn(e, model.init_state(1))
            loss = torch.nn.functional.cross_entropy(model.head(out[:, -1]),
                                                     torch.tensor([y[b, -1]]))
            grad = torch.autograd.grad(loss, e)[0][0]
        else:
            onehot = torch.nn.functional.one_hot(xb, v).float().requires_grad_()
            model.eval()
            logits, _ = _scratch_forward(model, onehot)
            model.train()
            loss = torch.nn.functional.cross_entropy(logits[:, -1], torch.tensor([y[b, -1]]))
            grad = torch.autograd.grad(loss, onehot)[0][0]
        if b == 0:
            expected = grad.norm(dim=-1).flip(0) / 3
        else:
            expected += grad.norm(dim=-1).flip(0) / 3
    np.testing.assert_allclose(flow, expected.double().numpy(), rtol=1e-4, atol=1e-9)


def _scratch_forward(model, onehot):
    xw = onehot @ model.W_input + model.b_hidden
    state = model.init_state(1)
    outs = []
    for t in range(onehot.shape[1]):
        state = model._step(xw[:, t], state)
        outs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outs, 1) @ model.W_softmax + model.b_softmax, state


@pytest.mark.parametrize("kind", ["numpy", "torch-lstm"])
def test_training_reports_gradient_flow_without_changing_the_weights_it_reaches(kind,
                                                                              monkeypatch):
    from charrnn_tui.engine.training import trainer

    monkeypatch.setattr(trainer, "FLOW_SHARE", 1e9)  # no spacing out: a pass every step
    events = []
    with kit.one_torch_thread():
        plain = kit.trainer(kind, max_steps=6, gradflow_every=0)
        plain.run()
        measured = kit.trainer(kind, max_steps=6, gradflow_every=1e-9)
        measured.run(events.append)
    flows = [e for e in events if isinstance(e, GradientFlow)]
    assert len(flows) >= 5 and len(flows[0].norms) == measured.config.seq
    assert all(np.isfinite(f.norms).all() for f in flows)
    a, b = kit.tensors_of(plain.model), kit.tensors_of(measured.model)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
