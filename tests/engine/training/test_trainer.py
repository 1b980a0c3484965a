"""The training loop: learning, reproducibility, events, control, recovery, devices, epochs."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.models import build_model, step_logits, tensors_of
from charrnn_tui.engine.training import precision
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.evaluate import mean_cross_entropy
from charrnn_tui.engine.training.events import Evaluated, Finished, Notice, Progress, Sampled
from charrnn_tui.engine.training.precision import cpu_has_bf16

KINDS = ["torch", "scratch", "numpy"]


_run = kit.run_events


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


# --- learning -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_loss_falls_on_a_repetitive_corpus(kind):
    lr = {"torch": 1e-2, "scratch": 5e-2, "numpy": 1e-1}[kind]
    tr = kit.trainer(kind, max_steps=150, seq=16, lr=lr, report_every=0.0)
    v = tr.spec.vocab_size
    before = tr.evaluate()
    assert before == pytest.approx(math.log(v), abs=0.3)  # an untrained model is ~uniform
    done, events = _run(tr)
    losses = [p.train_loss for p in _of(events, Progress)]
    assert done.reason == "steps" and done.step == 150
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 1.0
    assert done.val_loss < 0.6 * before and done.val_loss < 0.8


@pytest.mark.parametrize("kind", KINDS)
def test_training_is_reproducible_for_a_seed(kind):
    a = kit.trainer(kind, max_steps=12, seed=3)
    b = kit.trainer(kind, max_steps=12, seed=3)
    a.run()
    b.run()
    ta, tb = tensors_of(a.model), tensors_of(b.model)
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    init = tensors_of(build_model(a.spec, 3))
    assert not all(torch.equal(ta[k], init[k]) for k in ta)  # training did change them
    assert a.state.history == b.state.history
    assert a.state.last_val == b.state.last_val


# --- events ---------------------------------------------------------------------------------

def test_events_have_sensible_fields():
    tr = kit.trainer("torch", max_steps=10, eval_every=0.0, lr=0.01)
    done, events = _run(tr)
    progress = _of(events, Progress)
    evals = _of(events, Evaluated)
    n = tr.batcher.chunks_per_epoch
    assert [p.step for p in progress] == list(range(1, 11))
    for p in progress:
        assert p.chunks == n and 1 <= p.chunk <= n
        assert p.epoch == (p.step - 1) // n
        assert math.isfinite(p.train_loss) and 0 < p.train_loss < 10
        assert p.lr == pytest.approx(0.01)
        assert p.chars_per_s > 0 and p.elapsed >= 0
        # steps extrapolate only after a second of training, so this quick run has no ETA
        assert p.eta is None
        assert (p.device, p.precision) == ("cpu", "fp32")
    assert all(b.elapsed >= a.elapsed for a, b in zip(progress, progress[1:], strict=False))
    assert len(evals) >= 10
    best = math.inf
    for e in evals:
        assert e.val_bpc == pytest.approx(e.val_loss / LN2)
        assert e.best == (e.val_loss < best)
        best = min(best, e.val_loss)
    assert events[-1] is done and isinstance(done, Finished)
    assert done.reason == "steps" and done.step == 10
    assert done.val_loss == evals[-1].val_loss == tr.state.last_val
    assert done.val_bpc == pytest.approx(done.val_loss / LN2)
    assert done.seconds > 0 and done.chars_per_s > 0
    assert tr.state.chars_seen == 10 * 4 * 8
    assert [s for s, _ in tr.state.history] == list(range(1, 11))


def test_eta_of_a_time_budget_is_what_is_left_of_it_from_the_first_report():
    """The first ETA once read 1218:29:34 for a 60 s budget: progress measured before the step."""
    tr = kit.trainer("numpy", max_steps=None, time_budget=0.5)
    _, events = _run(tr)
    progress = _of(events, Progress)
    assert progress
    for p in progress:
        assert 0 <= p.eta <= 0.5
        assert p.eta + p.elapsed == pytest.approx(0.5, abs=0.05)


def test_cosine_schedule_decays_the_learning_rate():
    tr = kit.trainer("torch", max_steps=20, lr=0.01, schedule="cosine", min_lr_ratio=0.1)
    _, events = _run(tr)
    lrs = [p.lr for p in _of(events, Progress)]
    assert lrs[0] == pytest.approx(0.01)
    assert all(b <= a for a, b in zip(lrs, lrs[1:], strict=False))
    assert 0.001 <= lrs[-1] < 0.0015


def test_samples_and_saves_are_reported():
    saves = []

    def saver(ckpt, tag):
        saves.append((tag, ckpt.state.step))
        if len(saves) == 1:
            raise OSError("disk full")
        return f"saved {tag}"

    tr = kit.trainer("torch", max_steps=6, sample_every=1e-9, sample_length=7, eval_every=0.0)
    events = []
    done = tr.run(events.append, saver)
    samples = _of(events, Sampled)
    assert samples and all(len(s.text) == 7 and set(s.text) <= set(tr.spec.vocab)
                           for s in samples)
    notices = [n.message for n in _of(events, Notice)]
    assert any("could not save" in m and "disk full" in m for m in notices)
    assert "saved last" in notices
    assert saves[-1] == ("last", 6)
    assert any(tag == "best" for tag, _ in saves)
    assert done.reason == "steps"


def test_time_budget_and_epochs_stop_the_run():
    tr = kit.trainer("numpy", max_steps=None, time_budget=0.3)
    t0 = time.perf_counter()
    done = tr.run()
    assert done.reason == "budget" and 0.25 < time.perf_counter() - t0 < 10
    tr = kit.trainer("numpy", max_steps=None, epochs=2)
    done = tr.run()
    assert done.reason == "epochs"
    assert done.step == 2 * tr.batcher.chunks_per_epoch


# --- control from another thread ------------------------------------------------------------

def _wait(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_pause_resume_and_stop_from_another_thread():
    tr = kit.trainer("torch", max_steps=None, time_budget=120)
    events = []
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("done", tr.run(events.append)))
    started = time.perf_counter()
    worker.start()
    try:
        _wait(lambda: tr.state.step >= 3)
        tr.pause()
        assert tr.paused
        _wait(lambda: tr.held)  # the loop itself says it waits: no guess from quiet time
        held = tr.state.step
        n_events = len(events)
        time.sleep(0.6)  # paused this long at least: the clock check below needs 0.5 s
        assert tr.state.step == held, "training went on while paused"
        assert len(events) == n_events
        tr.resume()
        assert not tr.paused
        _wait(lambda: tr.state.step > held + 2)
        tr.pause()
        _wait(lambda: tr.held)
        tr.stop()  # stopping while paused must end the run
        worker.join(20)
        assert not worker.is_alive()
    finally:
        tr.stop()
        worker.join(20)
    wall = time.perf_counter() - started
    done = result["done"]
    assert done.reason == "stopped"
    assert done.step == tr.state.step
    assert tr.state.chars_seen == tr.state.step * 4 * 8  # whole chunks only
    assert isinstance(events[-1], Finished)
    assert tr.state.seconds < wall - 0.5  # paused time is not counted as training time


# --- evaluation -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_evaluate_is_mean_cross_entropy_on_the_val_split(kind):
    tr = kit.trainer(kind, max_steps=5, eval_batch=3, eval_seq=7)
    tr.run()
    _, val = kit.corpus().split(0.9)
    assert len(tr.val_data) == len(val)
    expect = mean_cross_entropy(tr.model, val, streams=3, seq=7)
    assert tr.evaluate() == pytest.approx(expect, rel=1e-6)
    # one stream: the mean over every next-character prediction, computed step by step
    state, nll, ids = tr.model.init_state(1), 0.0, val.astype(int).tolist()
    for a, b in zip(ids, ids[1:], strict=False):
        logits, state = step_logits(tr.model, a, state)
        logits = logits - logits.max()
        nll -= logits[b] - math.log(np.exp(logits).sum())
    naive = nll / (len(ids) - 1)
    assert mean_cross_entropy(tr.model, val, streams=1, seq=7) == pytest.approx(naive, rel=1e-5)


def test_mean_cross_entropy_refuses_too_little_data():
    model = build_model(kit.spec("torch"))
    with pytest.raises(ValueError, match="at least 2"):
        mean_cross_entropy(model, np.array([1], dtype=np.uint8))


# --- non-finite losses ----------------------------------------------------------------------

def _nan_forward(model, bad_calls: set[int]):
    real = model.forward
    calls = {"n": 0}

    def forward(x, state):
        logits, state = real(x, state)
        calls["n"] += 1
        if calls["n"] in bad_calls:
            logits = logits * float("nan")
        return logits, state

    model.forward = forward
    return calls


def test_two_bad_steps_are_skipped_without_rollback():
    tr = kit.trainer("torch", max_steps=10, lr=0.01)
    _nan_forward(tr.model, {3, 4})
    done, events = _run(tr)
    notices = [n for n in _of(events, Notice)]
    assert len(notices) == 2
    assert all("non-finite" in n.message and n.level == "warning" for n in notices)
    assert done.step == 10  # skipped steps do not count
    assert tr.state.lr_scale == 1.0
    assert all(p.lr == pytest.approx(0.01) for p in _of(events, Progress))


def test_three_bad_steps_roll_back_and_halve_the_lr_then_training_recovers():
    tr = kit.trainer("torch", max_steps=20, lr=0.01)
    initial = {k: t.clone() for k, t in tensors_of(tr.model).items()}
    _nan_forward(tr.model, {5, 6, 7})
    restored = {}

    def check(e):
        if isinstance(e, Notice) and "rolled back" in e.message:
            now = tensors_of(tr.model)
            restored["same"] = all(torch.equal(now[k], initial[k]) for k in now)

    done, events = _run(tr, check)
    messages = [n.message for n in _of(events, Notice)]
    assert sum("non-finite" in m for m in messages) == 3
    rollback = [m for m in messages if "rolled back" in m]
    assert len(rollback) == 1 and "halved" in rollback[0] and "5.00e-03" in rollback[0]
    assert restored["same"], "the rollback did not restore the last good weights"
    assert tr.state.lr_scale == 0.5
    progress = _of(events, Progress)
    assert progress[-1].lr == pytest.approx(0.005)
    assert progress[0].lr == pytest.approx(0.01)
    assert done.step == 20 and math.isfinite(done.val_loss)
    assert all(torch.isfinite(t).all() for t in tensors_of(tr.model).values())


def test_numpy_inf_weight_is_rolled_back():
    tr = kit.trainer("numpy", max_steps=15)

    def poison(e):
        if isinstance(e, Progress) and e.step == 4:
            tr.model.params["Why"][0, 0] = np.inf

    with np.errstate(all="ignore"):
        done, events = _run(tr, poison)
    messages = [n.message for n in _of(events, Notice)]
    assert sum("non-finite" in m for m in messages) == 3
    assert sum("rolled back" in m for m in messages) == 1
    assert tr.state.lr_scale == 0.5
    assert done.step == 15 and math.isfinite(done.val_loss)
    assert np.isfinite(tr.model.params["Why"]).all()


# --- devices and precision ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_request_cpu_is_a_quiet_no_op(kind):
    tr = kit.trainer(kind, max_steps=8)

    done, events = _run(tr, kit.device_requests(tr, {3: "cpu"}))
    assert done.step == 8 and tr.device.type == "cpu"
    assert [n.message for n in _of(events, Notice)] == []


def test_a_device_request_made_during_a_move_is_not_lost(monkeypatch):
    """The trainer takes a request and clears it in one step: one arriving meanwhile stays."""
    tr = kit.trainer("torch", max_steps=8)
    moves = []
    move = tr.backend.move

    def slow_move(target, hidden, emit):
        moves.append(target.type)
        if len(moves) == 1:
            tr.request_device("cpu")  # the user clicks again while the first move runs
        return move(target, hidden, emit)

    monkeypatch.setattr(tr.backend, "move", slow_move)
    tr.request_device("cpu")
    _run(tr)
    assert moves == ["cpu", "cpu"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_request_cuda_without_cuda_warns_and_keeps_training():
    tr = kit.trainer("torch", max_steps=8)

    done, events = _run(tr, kit.device_requests(tr, {3: "cuda"}))
    notices = _of(events, Notice)
    assert len(notices) == 1 and notices[0].level == "warning"
    assert "cannot switch device" in notices[0].message and "CUDA" in notices[0].message
    assert done.step == 8 and tr.device.type == "cpu"
    assert _of(events, Progress)[-1].device == "cpu"


def test_unavailable_device_in_config_is_refused():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    with pytest.raises(ValueError, match="no CUDA device"):
        kit.trainer("torch", device="cuda")


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16")
def test_bf16_autocast_trains_on_cpu():
    tr = kit.trainer("torch", max_steps=4, precision="bf16")
    done, events = _run(tr)
    assert {p.precision for p in _of(events, Progress)} == {"bf16"}
    assert math.isfinite(done.val_loss)
    assert all(t.dtype == torch.float32 for t in tensors_of(tr.model).values())


def test_bf16_on_a_cpu_without_it_trains_in_fp32_and_says_so(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    tr = kit.trainer("torch", max_steps=2, precision="bf16")
    done, events = _run(tr)
    assert tr.precision == "fp32" and math.isfinite(done.val_loss)
    assert any("no native bf16" in n.message for n in _of(events, Notice))


# --- epochs ---------------------------------------------------------------------------------

def test_epoch_wrap_resets_the_state_and_counts_the_epoch():
    text = kit.TEXT[:100]
    tr = kit.trainer("torch", text=text, max_steps=12, batch=2, seq=8)
    n = tr.batcher.chunks_per_epoch
    assert n == 5
    zero_state = []
    real = tr.model.forward

    def forward(x, state):
        h = state[0] if isinstance(state, tuple) else state
        zero_state.append(bool((h == 0).all()))
        return real(x, state)

    tr.model.forward = forward
    done, events = _run(tr)
    seen = [(p.epoch, p.chunk) for p in _of(events, Progress)]
    assert seen == [(0, c) for c in range(1, 6)] + [(1, c) for c in range(1, 6)] + [(2, 1), (2, 2)]
    training = zero_state[:12]
    assert training == [i % n == 0 for i in range(12)]
    assert tr.state.epoch == 2 and tr.state.chunk == 2 and done.step == 12


# --- refusals -------------------------------------------------------------------------------

def test_too_small_corpus_is_refused_with_the_minimum():
    with pytest.raises(CorpusError, match=r"needs at least 36"):
        kit.trainer("torch", text=kit.TEXT[:30], batch=4, seq=8)


def test_config_validation():
    with pytest.raises(ValueError, match="adagrad only"):
        TrainConfig(optimizer="adam").validate("numpy")
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear").validate("torch")
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(lr=0).validate("torch")
    assert TrainConfig().validate("torch").batch == 64
