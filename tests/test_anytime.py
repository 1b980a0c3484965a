"""Open-ended training: patience ends a run that stopped improving and keeps its best
weights; the command line and the app say why a run ended."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import kit
from helpers.pilot import wait_for

from charrnn_tui.cli import main
from charrnn_tui.engine.models import tensors_of
from charrnn_tui.engine.paths import ENV_HOME
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.config import DEFAULT_PATIENCE, TrainConfig
from charrnn_tui.engine.training.events import Evaluated, Notice

# Training alternates a and b; validation (the last tenth) is a run of a's then of b's. The
# more the model learns "after a comes b", the worse it predicts the validation text, so
# the validation loss provably stops improving after the first evaluations.
UNLEARNABLE = "ab" * 450 + "a" * 50 + "b" * 50
TINY = ["--batch", "4", "--seq", "8", "--eval-every", "1e-9", "--lr", "0.05",
        "--impl", "torch", "--layers", "1", "--hidden", "16", "--embed", "8"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_HOME, str(tmp_path))


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
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane.corpus is not None)
        await pilot.press("f3")
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
