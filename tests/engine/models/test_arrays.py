"""Model files read as numpy arrays (no torch) give the same model: the same checks, the
same weights, and a sampler whose text and scores match the torch model's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.generation.insight import trace
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
from charrnn_tui.engine.generation.search import beam_search, sample_n
from charrnn_tui.engine.models import restore_model
from charrnn_tui.engine.models.arrays import ArrayModel, restore_arrays
from charrnn_tui.engine.storage import modelfile

SEED = "the cat sat on the mat. the dog sat on the log. the cat "  # longer than a fast feed


def _saved(tmp_path, kind: str, **over):
    path = tmp_path / f"{kind}.safetensors"
    modelfile.save(path, dataclasses.replace(kit.checkpoint(kind, seed=3), **over))
    return path


@pytest.mark.parametrize("kind", sorted(kit.SPECS))
def test_arrays_hold_what_the_torch_loader_reads(kind, tmp_path):
    path = _saved(tmp_path, kind)
    arrays, meta = modelfile.load_arrays(path)
    tensors, _ = modelfile.load(path)
    assert arrays.tensors.keys() == tensors.tensors.keys() and meta["notices"] == []
    for name, t in tensors.tensors.items():
        assert arrays.tensors[name].dtype == np.float32
        np.testing.assert_array_equal(arrays.tensors[name], t.numpy())


def test_bfloat16_optimizer_state_is_widened_exactly_and_kept_by_the_torch_loader(tmp_path):
    state = {"0.exp_avg": torch.randn(3, 4).to(torch.bfloat16)}
    path = _saved(tmp_path, "torch-gru", optim_tensors=state, optim_meta={"name": "adam"})
    arrays, _ = modelfile.load_arrays(path)  # the checksum covers the bfloat16 bytes
    np.testing.assert_array_equal(arrays.optim_tensors["0.exp_avg"],
                                  state["0.exp_avg"].float().numpy())
    back = modelfile.load(path)[0].optim_tensors["0.exp_avg"]
    assert back.dtype == torch.bfloat16 and torch.equal(back, state["0.exp_avg"])


@pytest.mark.parametrize("kind", sorted(kit.SPECS))
def test_an_array_model_samples_as_the_torch_model_does(kind, tmp_path):
    path = _saved(tmp_path, kind)
    ckpt, _ = modelfile.load_arrays(path)
    fast = restore_arrays(ckpt.spec, ckpt.tensors)
    assert isinstance(fast, ArrayModel) == (kind != "numpy")
    model = restore_model(modelfile.load(path)[0])
    params = SamplingParams(temperature=1.0)
    a = Sampler(fast, ckpt.spec.vocab, rng_seed=5, params=params)
    b = Sampler(model, ckpt.spec.vocab, rng_seed=5, params=params)
    assert a.generate(SEED, 80) == b.generate(SEED, 80)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-4, atol=1e-4)
    assert [c.text for c in beam_search(a, "the ", 3, 12)] == \
           [c.text for c in beam_search(b, "the ", 3, 12)]
    assert [c.text for c in sample_n(a, "the ", 3, 12, rng_seed=2)] == \
           [c.text for c in sample_n(b, "the ", 3, 12, rng_seed=2)]
    ta, tb = trace(fast, ckpt.spec.vocab, "the cat"), trace(model, ckpt.spec.vocab, "the cat")
    np.testing.assert_allclose(ta.probs, tb.probs, rtol=1e-4, atol=1e-6)
    assert ta.acts.keys() == tb.acts.keys()
    for k in ta.acts:
        np.testing.assert_allclose(ta.acts[k], tb.acts[k], atol=1e-5)


def test_a_checkpoint_of_arrays_trains_on_as_torch(tmp_path):
    path = _saved(tmp_path, "torch-lstm")
    ckpt, _ = modelfile.load_arrays(path)
    converted = ckpt.as_torch()
    assert all(isinstance(t, torch.Tensor) for t in converted.tensors.values())
    model = restore_model(ckpt)  # restoring converts by itself
    for name, t in model.state_dict().items():
        np.testing.assert_array_equal(t.numpy(), ckpt.tensors[name])
