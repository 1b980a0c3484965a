"""Open-ended training: patience ends a run that stopped improving and keeps its best
weights; the command line and the app say why a run ended; a resumed run continues its
schedule; the auto preset fits the model to the text."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from helpers import kit
from helpers.pilot import wait_for

from charrnn_tui.cli import main
from charrnn_tui.engine.models import ModelSpec, count_parameters, tensors_of
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.config import DEFAULT_PATIENCE, TrainConfig
from charrnn_tui.engine.training.events import Evaluated, Notice, Progress
from charrnn_tui.engine.training.presets import DEFAULT_PRESET, PRESETS, auto_preset

# Training alternates a and b; validation (the last tenth) is a run of a's then of b's. The
# more the model learns "after a comes b", the worse it predicts the validation text, so
# the validation loss provably stops improving after the first evaluations.
UNLEARNABLE = "ab" * 450 + "a" * 50 + "b" * 50
TINY = ["--batch", "4", "--seq", "8", "--eval-every", "1e-9", "--lr", "0.05",
        "--impl", "torch", "--layers", "1", "--hidden", "16", "--embed", "8"]


def test_patience_is_on_for_open_ended_runs_and_off_for_budgeted_ones():
    assert TrainConfig().patience_in_use == DEFAULT_PATIENCE
    for stop in ({"time_budget": 60.0}, {"epochs": 2.0}, {"max_steps": 100}):
        assert TrainConfig(**stop).patience_in_use == 0
        assert TrainConfig(**stop, patience=3).patience_in_use == 3
    assert TrainConfig(patience=0).patience_in_use == 0
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=-1).validate("torch")


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_patience_stops_the_run_and_keeps_the_best_weights(ema):
    # eval_every=0: an evaluation after every step, so the test does not depend on timing
    tr = kit.trainer("torch-gru", UNLEARNABLE, max_steps=500, patience=3, eval_every=0.0,
                     lr=0.05, ema=ema)
    seen: list[tuple[float, dict]] = []
    notices: list[str] = []

    def on_event(e):
        if isinstance(e, Evaluated):  # emitted with the evaluated weights in place
            with tr._averaged():
                seen.append((e.val_loss, {k: v.clone() for k, v in
                                          tensors_of(tr.model).items()}))
        elif isinstance(e, Notice):
            notices.append(e.message)

    done = tr.run(on_event)
    assert done.reason == "patience" and done.why == "stopped: no better in 3 evaluations"
    losses = [v for v, _ in seen]
    best = losses.index(min(losses))
    assert len(losses) == best + 4  # the best, then three no better: the run stops there
    assert done.step < 500 and done.val_loss == min(losses) < losses[-1]
    kept = tr.checkpoint().tensors
    assert all(torch.equal(kept[k], v) for k, v in seen[best][1].items())
    assert tr.evaluate() == pytest.approx(min(losses), abs=1e-6)
    assert any("kept the best weights" in n for n in notices)


def test_a_budgeted_run_ignores_patience_unless_asked():
    tr = kit.trainer("torch-gru", UNLEARNABLE, max_steps=30, eval_every=0.0, lr=0.05)
    assert tr.run().reason == "steps"


def test_the_command_line_says_why_it_stopped_and_saves_the_best(tmp_path, capsys):
    corpus = kit.write_text(tmp_path / "ab.txt", UNLEARNABLE)
    home = tmp_path / "home"
    assert main(["--home", str(home), "train", str(corpus), "--name", "m", "--patience", "2",
                 "--json", *TINY]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.splitlines()[-1])
    assert result["reason"] == "patience"
    assert result["why"] == "stopped: no better in 2 evaluations"
    assert "charrnn-tui: stopped: no better in 2 evaluations" in err
    store = ModelStore(home / "models")
    last, best = store.load("m"), store.load("m:best")
    assert last.state.last_val == best.state.best_val == result["val_loss"]
    assert all(torch.equal(last.tensors[k], best.tensors[k]) for k in best.tensors)
    assert store.load("m").config["patience"] == 2  # kept in the file: a resume stops alike


def test_a_budgeted_command_line_run_says_its_budget_ran_out(tmp_path, capsys):
    corpus = kit.write_text(tmp_path / "ab.txt", UNLEARNABLE)
    assert main(["--home", str(tmp_path / "home"), "train", str(corpus), "--max-steps", "3",
                 "--json", *TINY]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["why"] == \
        "stopped: steps done"


@pytest.mark.usefixtures("no_shipped_models", "no_gpu")
async def test_the_app_stops_on_patience_says_why_and_plays_the_best(tmp_path, data_home):
    from textual.widgets import Input, Select, Static

    from charrnn_tui.app import CharRNNApp
    from charrnn_tui.panes.playground.pane import PlaygroundPane
    from charrnn_tui.panes.train.pane import TrainPane

    corpus = kit.write_text(tmp_path / "ab.txt", UNLEARNABLE)
    app = CharRNNApp()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f2")
        app.query_one("#path", Input).value = str(corpus)
        app.query_one("#path", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one("CorpusPane").corpus is not None)
        await pilot.press("f3")
        pane = app.query_one(TrainPane)
        assert pane.corpus is not None
        for fid, value in {"layers": "1", "hidden": "16", "embed": "8", "dropout": "0",
                           "batch": "4", "seq": "8", "eval_every": "1", "sample_every": "0",
                           "lr": "0.05", "patience": "2", "name": "pat"}.items():
            app.query_one(f"#{fid}", Input).value = value
        app.query_one("#stop_unit", Select).value = ""  # no budget: patience ends the run
        await pilot.press("f6")
        await wait_for(pilot, lambda: pane.finished is not None, timeout=60)
        stats = str(app.query_one("#train-stats", Static).render())
        assert "stopped: no better in 2 evaluations" in stats
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).model_name == "pat")
        best, played = ModelStore(data_home / "models").load("pat:best"), pane.resume
        assert played.state.last_val == best.state.best_val
        assert all(torch.equal(torch.as_tensor(played.tensors[k]), best.tensors[k])
                   for k in best.tensors)


# --- resume: the schedule spans the model's whole training ---------------------------------

def _lrs(trainer) -> list[float]:
    lrs: list[float] = []
    trainer.run(lambda e: lrs.append(e.lr) if isinstance(e, Progress) else None)
    return lrs


def test_a_resumed_cosine_run_goes_on_from_the_middle_of_the_longer_schedule():
    """A cosine run of N steps, resumed for N more, continues as one run of 2N would from
    step N: neither back at the peak rate nor stalled at the floor, ending at the floor."""
    from charrnn_tui.engine.training.resume import resume_trainer

    cfg = dict(max_steps=40, schedule="cosine", lr=0.01, min_lr_ratio=0.1, optimizer="adam")
    first = kit.trainer("torch-lstm", **cfg)
    first_lrs = _lrs(first)
    assert first_lrs[0] == pytest.approx(0.01, rel=0.01)
    assert first_lrs[-1] == pytest.approx(0.001, rel=0.05)  # decayed to the floor
    ckpt = first.checkpoint()
    resumed, _ = resume_trainer(ckpt, kit.corpus(), kit.config(**cfg), corpus_info={})
    before = resumed.evaluate()
    lrs = _lrs(resumed)
    halfway = 0.001 + 0.009 * 0.5  # cosine at 40 / 80 of the way
    assert lrs[0] == pytest.approx(halfway, rel=0.05)
    assert lrs[-1] == pytest.approx(0.001, rel=0.05)
    assert all(a >= b for a, b in itertools.pairwise(lrs))  # one decay, no restart
    assert resumed.state.step == 80 and resumed.evaluate() < before  # still learning


def test_a_fresh_cosine_run_starts_at_the_peak():
    tr = kit.trainer("torch-lstm", max_steps=20, schedule="cosine", lr=0.01)
    assert _lrs(tr)[0] == pytest.approx(0.01, rel=0.01)


# --- the auto preset -------------------------------------------------------------------------

@pytest.mark.parametrize("chars,hidden,dropout", [
    (5_000_000, 256, 0.0), (1_115_394, 256, 0.0), (436_248, 256, 0.2), (200_000, 256, 0.3),
    (100_000, 192, 0.3), (20_000, 128, 0.3)])
def test_auto_sizes_the_model_and_its_dropout_to_the_text(chars, hidden, dropout):
    preset, why = auto_preset(chars)
    assert (preset.model["hidden"], preset.model["dropout"]) == (hidden, dropout)
    assert preset.model["layers"] == 2 and "\n" not in why
    assert f"2×{hidden} LSTM" in why and (f"dropout {dropout:g}" in why if dropout
                                         else "without dropout" in why)
    assert not any(k in preset.train for k in ("time_budget", "epochs", "max_steps"))
    assert TrainConfig(**preset.train).patience_in_use == DEFAULT_PATIENCE


def test_auto_evaluates_more_often_on_a_short_text_within_bounds():
    every = [auto_preset(n)[0].train["eval_every"]
             for n in (10_000, 436_248, 1_115_394, 3_000_000, 50_000_000)]
    assert every == sorted(every) and every[0] == 10 and every[-1] == 60
    assert "validation every 14 s" in auto_preset(1_115_394)[1]


def test_auto_is_the_default_and_fits_a_smaller_model_to_a_smaller_text():
    assert DEFAULT_PRESET == "auto" and PRESETS["auto"].model == auto_preset(10**6)[0].model
    small, big = (count_parameters(ModelSpec(**auto_preset(n)[0].model, vocab=["a", "b"]))
                  for n in (30_000, 2_000_000))
    assert small < big / 3


def test_train_says_what_auto_chose(tmp_path, capsys):
    corpus = kit.write_text(tmp_path / "ab.txt", UNLEARNABLE)
    assert main(["--home", str(tmp_path / "home"), "train", str(corpus), "--max-steps", "2",
                 "--batch", "4", "--seq", "8", "--json"]) == 0
    err = capsys.readouterr().err
    assert "charrnn-tui: auto for a 1,000-character text: 2×128 LSTM with dropout 0.3" in err


# --- schedule-free AdamW -------------------------------------------------------------------

def test_schedule_free_learns_and_reads_its_average():
    tr = kit.trainer("torch-lstm", max_steps=150, seq=16, lr=1e-2, optimizer="sf-adamw",
                     warmup_steps=10)
    before = tr.evaluate()
    done = tr.run()
    assert done.val_loss < before - 0.5
    y = {k: v.clone() for k, v in tensors_of(tr.model).items()}
    saved = tr.checkpoint().tensors  # the average x, not the y being trained
    assert any(not torch.allclose(saved[k], y[k]) for k in y)
    assert all(torch.allclose(v, tensors_of(tr.model)[k]) for k, v in y.items())  # put back


def test_schedule_free_resumes_from_a_model_file_as_if_never_stopped(tmp_path):
    whole, second, _ = kit.stopped_and_resumed(tmp_path, max_steps=10, lr=1e-2,
                                               optimizer="sf-adamw", warmup_steps=5)
    a, b = whole.checkpoint().tensors, second.checkpoint().tensors
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_the_rsqrt_schedule_needs_no_budget_and_halves_at_three_times_its_steps():
    tr = kit.trainer("torch-lstm", max_steps=1, schedule="rsqrt", rsqrt_steps=10, lr=0.01)
    assert tr._lr(0.0) == pytest.approx(0.01)
    tr.state.step = 30
    assert tr._lr(0.0) == pytest.approx(0.005)
    assert tr._lr(0.7) == tr._lr(0.0)  # the budget plays no part
    with pytest.raises(ValueError, match="rsqrt"):
        TrainConfig(schedule="rsqrt", rsqrt_steps=0).validate("torch")
