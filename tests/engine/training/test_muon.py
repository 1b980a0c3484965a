"""Muon: orthogonalised updates for the hidden matrices, gate block by gate block, AdamW
for the rest; it trains, resumes from a model file, and the numpy model refuses it."""

from __future__ import annotations

import pytest
import torch
from helpers import kit

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import build_model
from charrnn_tui.engine.training.events import Progress
from charrnn_tui.engine.training.muon import RMS_MATCH, Muon, orthogonalise
from charrnn_tui.engine.training.optim import make_optimizer
from charrnn_tui.engine.training.resume import resume_trainer


@pytest.mark.parametrize("shape", [(24, 8), (8, 24), (3, 16, 16), (16, 16)])
def test_newton_schulz_moves_every_singular_value_near_one(shape):
    gen = torch.Generator().manual_seed(1)
    *batch, m, n = shape
    k = min(m, n)
    u, _ = torch.linalg.qr(torch.randn(*batch, m, k, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(*batch, n, k, generator=gen))
    g = u @ torch.diag(torch.logspace(0, 1.5, k)) @ v.mT  # singular values over 30×
    s = torch.linalg.svdvals(orthogonalise(g))
    assert s.min() > 0.6 and s.max() < 1.25
    vh = v.mT  # and it points as U Vᵀ does
    cos = torch.nn.functional.cosine_similarity(orthogonalise(g).flatten(-2),
                                                (u @ vh).flatten(-2), dim=-1)
    assert (cos > 0.95).all()


@pytest.mark.parametrize("kind", ["torch-lstm", "scratch-gru"])
def test_each_gate_block_gets_an_orthogonal_update_and_the_rest_adamw(kind):
    model = build_model(kit.spec(kind), seed=2)
    opt = make_optimizer("muon", model, lr=0.01)
    assert isinstance(opt, Muon)
    named = dict(model.named_parameters())
    hidden = {k for k, p in named.items() if p in opt.matrices}
    assert hidden == ({"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l1",
                       "rnn.weight_hh_l1"} if kind == "torch-lstm" else {"W_hidden"})
    before = {k: p.detach().clone() for k, p in named.items()}
    for k, p in named.items():  # the first gate's gradient 1000× the others'
        p.grad = torch.randn_like(p)
        if k in hidden:
            blocks, axis = opt.matrices[p]
            p.grad.narrow(axis, 0, p.shape[axis] // blocks).mul_(1000)
    opt.step()
    for k, p in named.items():
        state = opt.state[p]
        if k not in hidden:
            assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
            continue
        assert set(state) == {"momentum_buffer"}
        blocks, axis = opt.matrices[p]
        delta = (before[k] - p.detach()).unflatten(axis, (blocks, -1)).movedim(axis, 0)
        s = torch.linalg.svdvals(delta / (0.01 * RMS_MATCH * max(delta.shape[-2:]) ** 0.5))
        assert blocks == (4 if kind == "torch-lstm" else 3)
        # every gate's step is as large as the loud one's: top singular values near 1
        # (a random square block has some near 0, which five steps leave below 1)
        assert ((s[:, 0] > 0.9) & (s[:, 0] < 1.25)).all() and (s.median(-1).values > 0.7).all()


@pytest.mark.parametrize("kind", ["torch-lstm", "scratch-lstm"])
def test_a_tiny_model_learns_with_muon(kind):
    tr = kit.trainer(kind, max_steps=50, optimizer="muon", lr=1e-2)
    before = tr.evaluate()
    losses = [e.train_loss for e in kit.run_events(tr)[1] if isinstance(e, Progress)]
    assert tr.optimizer_name == "muon" and tr.state.step == 50
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
    assert tr.state.last_val < before - 0.5


def test_muon_resumes_from_a_model_file_as_if_never_stopped(tmp_path):
    cfg = dict(max_steps=10, lr=1e-2, optimizer="muon")
    whole, second, ckpt = kit.stopped_and_resumed(tmp_path, **cfg)
    assert ckpt.optim_meta["name"] == "muon"
    # without its momentum and moments the same ten steps end elsewhere
    fresh, _ = resume_trainer(ckpt, kit.corpus(), kit.config(**cfg | {"optimizer": "adam"}),
                              corpus_info={})
    fresh.backend.optimizer = make_optimizer("muon", fresh.model, 1e-2)
    fresh.run()
    a, b, c = (t.checkpoint().tensors for t in (whole, second, fresh))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert not all(torch.allclose(a[k], c[k], atol=1e-5) for k in a)


def test_the_numpy_model_refuses_muon_in_one_line():
    with pytest.raises(ConfigError, match="^the numpy implementation trains with adagrad only$"):
        kit.config(optimizer="muon").validate("numpy")
