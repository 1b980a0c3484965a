"""The regularisers and the schedule options: each does what it says, and files stay readable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import kit
from helpers.mutate import set_field

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.models import build_model, family_of, restore_model
from charrnn_tui.engine.models.library_rnn import embedding_dropout, locked_dropout
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.modelfile import ModelFileError
from charrnn_tui.engine.training.averaging import WeightAverage
from charrnn_tui.engine.training.evaluate import mean_cross_entropy


def _model(cell: str = "lstm", layers: int = 2, **reg):
    return build_model(kit.spec("torch", cell=cell, layers=layers, **reg), seed=5)


def _ids(batch: int = 3, time: int = 12) -> torch.Tensor:
    return torch.randint(0, len(kit.ALPHABET), (batch, time), generator=torch.Generator()
                         .manual_seed(0))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_layer_by_layer_path_equals_the_fused_stack(cell):
    """With masks that keep everything, training's regularised path is nn.LSTM's own."""
    model = _model(cell, locked_dropout=1e-12, weight_dropout=1e-12, embed_dropout=1e-12)
    x = _ids()
    model.train()
    got, got_state = model(x, model.init_state(3))
    model.eval()
    want, want_state = model(x, model.init_state(3))
    torch.testing.assert_close(got, want)
    for a, b in zip(got_state if cell == "lstm" else (got_state,),
                    want_state if cell == "lstm" else (want_state,), strict=True):
        torch.testing.assert_close(a, b)


def test_evaluation_ignores_the_regularisers():
    plain = _model()
    reg = _model(embed_dropout=0.3, locked_dropout=0.4, weight_dropout=0.5)
    reg.load_state_dict(plain.state_dict())  # same weight names and shapes as a plain model
    plain.eval()
    reg.eval()
    x = _ids()
    torch.testing.assert_close(reg(x, reg.init_state(3))[0], plain(x, plain.init_state(3))[0])
    reg.train()
    assert not torch.allclose(reg(x, reg.init_state(3))[0], plain(x, plain.init_state(3))[0])


def test_weight_dropout_drops_recurrent_weights_and_leaves_them_stored():
    model = _model(layers=1, weight_dropout=0.5)
    before = model.rnn.weight_hh_l0.detach().clone()
    model.train()
    logits, _ = model(_ids(8, 20), model.init_state(8))
    logits.sum().backward()
    grad = model.rnn.weight_hh_l0.grad
    zero = (grad == 0).float().mean().item()
    assert 0.35 < zero < 0.65  # the dropped half of the copy passes no gradient back
    assert (model.rnn.weight_ih_l0.grad == 0).float().mean().item() < 0.05
    torch.testing.assert_close(model.rnn.weight_hh_l0.detach(), before)


def test_embedding_dropout_drops_whole_characters():
    torch.manual_seed(0)
    w = torch.ones(1000, 4)
    dropped = embedding_dropout(w, 0.3)
    rows_zero = (dropped == 0).all(dim=1)
    assert 0.2 < rows_zero.float().mean().item() < 0.4
    kept = dropped[~rows_zero]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.7))  # rows kept whole
    assert embedding_dropout(w, 0.0) is w


def test_locked_dropout_uses_one_mask_for_every_time_step():
    torch.manual_seed(0)
    out = locked_dropout(torch.ones(16, 30, 32), 0.5)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same at each step
    assert 0.4 < (out[:, 0] == 0).float().mean().item() < 0.6
    assert set(out.unique().tolist()) == {0.0, 2.0}


def test_regularisers_need_the_torch_implementation_and_a_rate_below_one():
    with pytest.raises(ConfigError, match="torch implementation"):
        kit.spec("scratch", weight_dropout=0.2)
    with pytest.raises(ConfigError, match="locked dropout"):
        kit.spec("torch", locked_dropout=1.0)


def test_a_regularised_model_trains_and_its_file_round_trips(tmp_path):
    tr = kit.trainer("torch", max_steps=30)
    tr.model.spec.embed_dropout, tr.model.spec.weight_dropout = 0.1, 0.3
    tr.model.spec.locked_dropout = 0.2
    done = tr.run()
    assert done.val_loss < 3.0
    path = tmp_path / "m.safetensors"
    modelfile.save(path, tr.checkpoint())
    ckpt, _ = modelfile.load(path)
    assert (ckpt.spec.embed_dropout, ckpt.spec.locked_dropout, ckpt.spec.weight_dropout) \
        == (0.1, 0.2, 0.3)
    # older code knows none of the three: the same file without them is a plain model
    assert set(ckpt.tensors) == set(build_model(kit.spec("torch")).state_dict())


# --- the averaged weights -------------------------------------------------------------------

def test_the_average_follows_the_warming_decay():
    model = _model(layers=1)
    w0 = model.head.bias.detach().clone()
    avg = WeightAverage(model, 0.99)
    with torch.no_grad():
        model.head.bias.add_(1.0)
    avg.update(model)
    # first update: decay min(0.99, 2/11), so the average moves 9/11 of the way
    torch.testing.assert_close(avg.shadow["head.bias"], w0 + 9 / 11)
    for _ in range(500):
        avg.update(model)
    torch.testing.assert_close(avg.shadow["head.bias"], w0 + 1.0, atol=1e-2, rtol=0)


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_the_average_is_the_plain_formula_step_by_step(kind):
    """Against a float64 reference written out from the docstring: the warming decay, a
    model that moves between updates, and a restore and a move (which replace the averages
    the fused update writes to) on the way."""
    model = build_model(kit.spec(kind), seed=3)
    family = family_of(model.spec)

    def weights() -> dict[str, np.ndarray]:
        return {k: torch.as_tensor(v).double().numpy()
                for k, v in family.weights(model, copy=True).items()}

    avg = WeightAverage(model, 0.95)
    reference = weights()
    rng = np.random.default_rng(0)
    for n in range(1, 41):
        live = weights()
        moved = {k: v + rng.normal(0.0, 0.1, v.shape) for k, v in live.items()}
        family.load_weights(model, {k: torch.tensor(v, dtype=torch.float32)
                                    if kind != "numpy" else v for k, v in moved.items()})
        avg.update(model)
        decay = min(0.95, (1 + n) / (10 + n))
        reference = {k: decay * reference[k] + (1 - decay) * weights()[k] for k in reference}
        if n == 15:
            avg.restore(avg.snapshot())
        if n == 25:
            avg.to(torch.device("cpu"))
    assert avg.updates == 40
    for k, v in avg.tensors().items():
        np.testing.assert_allclose(v.numpy(), reference[k], rtol=0, atol=2e-5)


@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_ema_is_what_evaluation_sampling_and_saving_use(kind):
    tr = kit.trainer(kind, max_steps=40, ema=0.9)
    tr.run()
    averaged = tr.checkpoint().tensors
    live = {k: torch.as_tensor(v).float() for k, v in (
        tr.model.params.items() if kind == "numpy" else tr.model.state_dict().items())}
    assert any(not torch.allclose(averaged[k], live[k]) for k in averaged)
    restored = restore_model(tr.checkpoint())
    assert tr.evaluate() == pytest.approx(
        mean_cross_entropy(restored, tr.val_data, streams=tr.config.eval_batch,
                           seq=tr.config.eval_seq), rel=1e-5)
    after = {k: torch.as_tensor(v).float() for k, v in (
        tr.model.params.items() if kind == "numpy" else tr.model.state_dict().items())}
    for k in live:  # evaluating swapped the average in and the live weights back
        torch.testing.assert_close(after[k], live[k])
    sampler = Sampler(restored, tr.spec.vocab, rng_seed=tr.state.step)
    sampler.params.temperature = 0.8
    assert tr.sample("t", 40) == sampler.generate("t", 40)


def test_warm_up_ramps_the_rate_then_cosine_takes_over():
    tr = kit.trainer("torch", lr=0.01, warmup_steps=10, schedule="constant")
    tr.state.step = 0
    assert tr._lr(0.0) == pytest.approx(0.001)
    tr.state.step = 4
    assert tr._lr(0.0) == pytest.approx(0.005)
    tr.state.step = 50
    assert tr._lr(0.0) == pytest.approx(0.01)
    cos = kit.trainer("torch", lr=0.01, warmup_steps=10, schedule="cosine", min_lr_ratio=0.0)
    cos.state.step = 4
    assert cos._lr(0.5) == pytest.approx(0.005 * 0.5)
    with pytest.raises(ConfigError, match="warm-up"):
        kit.config(warmup_steps=-1).validate("torch")
    with pytest.raises(ConfigError, match="decay"):
        kit.config(ema=1.0).validate("torch")


def test_a_file_asking_numpy_for_weight_dropout_is_refused(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(set_field(kit.trained_file_bytes(tmp_path, "numpy"),
                               "spec.weight_dropout", 0.3))
    with pytest.raises(ModelFileError, match="torch implementation"):
        modelfile.load(path)
