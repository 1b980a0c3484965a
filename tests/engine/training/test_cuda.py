"""The CUDA path on a real GPU: training moved between devices mid-run (the GPU toggle), every
implementation there, the fast step against the full forward, and a model trained there read
back on a CPU. Skipped without CUDA (CI has none); run on a GPU machine by hand."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.generation.search import beam_search, sample_n
from charrnn_tui.engine.models import build_model, map_state, restore_model
from charrnn_tui.engine.models.stepper import Stepper
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.training.events import Notice, Progress

_run = kit.run_events

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("kind", ["torch-lstm", "torch-gru", "scratch-lstm", "scratch-gru"])
def test_training_moves_to_the_gpu_and_back_mid_run_and_keeps_learning(kind):
    tr = kit.trainer(kind, max_steps=90, lr=1e-2 if kind.startswith("torch") else 5e-2, seq=16)
    before = tr.evaluate()
    done, events = _run(tr, kit.device_requests(tr, {10: "cuda", 40: "cpu", 60: "cuda"}))
    devices = [p.device for p in events if isinstance(p, Progress)]
    assert devices[0] == "cpu" and devices[-1] == "cuda" and "cpu" in devices[40:]
    assert not [n for n in events if isinstance(n, Notice) and n.level == "warning"]
    assert done.step == 90 and math.isfinite(done.val_loss) and done.val_loss < before - 1.0
    assert all(p.device.type == "cuda" for p in tr.model.parameters())


@pytest.mark.parametrize("kind", ["torch-lstm", "scratch-gru"])
def test_muon_and_the_weight_average_follow_training_across_devices(kind):
    tr = kit.trainer(kind, max_steps=90, lr=1e-2, seq=16, optimizer="muon", ema=0.9)
    before = tr.evaluate()
    moves = kit.device_requests(tr, {10: "cuda", 40: "cpu", 60: "cuda"})
    at_70 = {}

    def hook(e) -> None:
        moves(e)
        if isinstance(e, Progress) and e.step == 70:
            at_70.update(tr.average.tensors())

    done, events = _run(tr, hook)
    assert not [n for n in events if isinstance(n, Notice) and n.level == "warning"]
    assert done.step == 90 and math.isfinite(done.val_loss) and done.val_loss < before - 1.0
    assert all(v.device.type == "cuda" for v in tr.average.shadow.values())
    final = tr.average.tensors()  # the average went on moving after the last switch
    assert any(not torch.allclose(final[k], at_70[k]) for k in final)


def test_the_numpy_implementation_refuses_the_gpu_in_words_and_keeps_training():
    tr = kit.trainer("numpy", max_steps=8)

    done, events = _run(tr, kit.device_requests(tr, {3: "cuda"}))
    assert done.step == 8 and tr.device.type == "cpu"
    assert any(isinstance(n, Notice) for n in events)


@pytest.mark.parametrize("kind", ["torch-lstm", "torch-gru", "scratch-lstm"])
def test_the_fast_step_on_the_gpu_is_within_1e_5_of_the_exact_forward(kind):
    """Primed and held to the float64 forward on the CPU, as the CPU step is. (cuDNN's own
    fp32 forward on the GPU may use TF32: seen 4e-4 to 7e-4 away from it on an H200.)"""
    model = build_model(kit.spec(kind), seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ids = torch.tensor(np.random.default_rng(1).integers(0, len(kit.ALPHABET), size=(3, 120)))
    exact64 = copy.deepcopy(model).double().eval()
    zero = map_state(exact64.init_state(3), lambda s: s.double())
    with torch.no_grad():
        exact = exact64(ids, zero)[0].numpy()
        _, primed = exact64(ids[:, :40], zero)
    stepper = Stepper(model.cuda().eval())
    assert not stepper.on_numpy
    st = stepper.from_model(map_state(primed, lambda s: s.float().cuda()))
    worst = 0.0
    for t in range(40, 120):
        logits = stepper.step(ids[:, t].numpy(), st)
        worst = max(worst, float(np.abs(logits - exact[:, t]).max()))
    assert worst <= 1e-5, worst


def test_sampling_n_streams_and_beams_run_on_the_gpu():
    model = build_model(kit.spec("torch-lstm"), seed=2).cuda().eval()
    sampler = Sampler(model, kit.ALPHABET, rng_seed=1)
    assert sampler.device.type == "cuda"
    text = sampler.generate("the ", 200)
    assert len(text) == 200
    assert len(sample_n(Sampler(model, kit.ALPHABET), "the ", 4, 50, rng_seed=3)) == 4
    assert len(beam_search(Sampler(model, kit.ALPHABET), "the ", 3, 50)) == 3


def test_a_model_trained_on_the_gpu_saves_and_resumes_on_a_cpu(tmp_path):
    """What the app's save does after GPU training: the file holds CPU tensors, and the
    model and its optimizer state come back on a CPU."""
    tr = kit.trainer("torch", max_steps=20, device="cuda")
    _run(tr)
    path = tmp_path / "gpu.safetensors"
    modelfile.save(path, tr.checkpoint())
    ckpt, _ = modelfile.load(path)
    back = restore_model(ckpt)
    ids = [kit.ALPHABET.index(c) for c in "the cat sat"]
    np.testing.assert_allclose(kit.logits_of(back, ids), kit.logits_of(tr.model.cpu(), ids),
                               atol=1e-5)
    again = kit.trainer("torch", max_steps=5)  # the optimizer state fits a CPU run
    again.load_optimizer_state(ckpt.optim_tensors, ckpt.optim_meta)
    assert math.isfinite(_run(again)[0].val_loss)


async def test_the_apps_gpu_switch_moves_a_real_training_there_and_back(corpus_file, data_home):
    from helpers.app import SIZE, start_training, text_of
    from helpers.pilot import wait_for
    from textual.widgets import Switch

    from charrnn_tui.app import CharRNNApp
    from charrnn_tui.engine.storage.store import ModelStore

    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "gpu")
        await wait_for(pilot, lambda: pane.trainer is not None)
        switch = app.query_one("#gpu", Switch)
        assert not switch.disabled
        switch.toggle()
        await wait_for(pilot, lambda: pane.trainer.device.type == "cuda", timeout=60)
        await wait_for(pilot, lambda: "cuda" in text_of(app, "#train-stats"))
        switch.toggle()
        await wait_for(pilot, lambda: pane.trainer.device.type == "cpu", timeout=60)
        await pilot.press("f8")
        await wait_for(pilot, lambda: not pane.running, timeout=60)
        assert "gpu" in ModelStore(data_home / "models").names()
