"""The race: engine laps, the `race` command's table, and the race screen under Pilot."""

from __future__ import annotations

import json

import pytest
from helpers import kit
from helpers.app import load_corpus
from helpers.cli import run_cli
from helpers.pilot import wait_for
from textual.widgets import DataTable, Input

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.events import Evaluated, GradientFlow
from charrnn_tui.engine.training.race_runner import Race, race_config, race_specs
from charrnn_tui.screens.race_screen import RaceScreen
from charrnn_tui.widgets.curves import CurveChart
from charrnn_tui.widgets.gradient_chart import GradientChart

TEXT = kit.TEXT * 3


def test_race_specs_pair_cells_with_implementations_and_skip_what_cannot_be_built():
    specs, skipped = race_specs(["rnn", "gru"], ["numpy", "scratch"], kit.ALPHABET, hidden=8)
    assert [(s.impl, s.cell) for s in specs] == [("numpy", "rnn"), ("scratch", "rnn"),
                                                 ("scratch", "gru")]
    assert skipped and "numpy/gru" in skipped[0]
    with pytest.raises(ConfigError, match="2 to 4"):
        race_specs(["lstm"], ["torch"], kit.ALPHABET)
    with pytest.raises(ConfigError, match="unknown cell"):
        race_specs(["lstm", "transformer"], ["torch"], kit.ALPHABET)


def test_a_race_trains_each_lap_for_the_budget_and_stop_skips_the_rest():
    c = kit.corpus(TEXT)
    specs, _ = race_specs(["rnn", "lstm"], ["torch"], c.chars, hidden=8, embed=4)
    config = race_config(0.3, batch=4, seq=8, eval_every=1e9, gradflow_every=0.05)
    seen: dict[int, list] = {0: [], 1: []}
    with kit.one_torch_thread():
        laps = Race(c.data, {"name": "tiny.txt"}, specs, config).run(
            lambda i, e: seen[i].append(e))
    assert [lap.spec.cell for lap in laps] == ["rnn", "lstm"]
    for i, lap in enumerate(laps):
        assert lap.finished.reason == "budget" and lap.finished.val_loss is not None
        assert any(isinstance(e, Evaluated) for e in seen[i])
        assert any(isinstance(e, GradientFlow) for e in seen[i])
    stopped = Race(c.data, {}, specs, config)
    with kit.one_torch_thread():
        laps = stopped.run(lambda i, e: stopped.stop())  # the first event stops the race
    assert len(laps) == 1 and laps[0].finished.reason == "stopped"


def test_race_command_saves_each_run_and_prints_a_table(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    home = tmp_path / "home"
    code, out, err = run_cli("--home", str(home), "race", str(corpus), "--cells", "rnn,gru",
                          "--impls", "scratch", "--time-budget", "0.3", "--hidden", "8",
                          "--batch", "4", "--seq", "8", "--threads", "1")
    assert code == 0, err
    header, *rows = out.strip().splitlines()
    assert header.split()[:3] == ["run", "model", "val"]
    assert [r.split()[0] for r in rows] == ["tiny-race-rnn-scratch", "tiny-race-gru-scratch"]
    assert sum("★" in r for r in rows) == 1
    store = ModelStore(home / "models")
    assert store.exists("tiny-race-rnn-scratch") and store.exists("tiny-race-gru-scratch")
    code, out, _ = run_cli("--home", str(home), "race", str(corpus), "--cells", "rnn",
                        "--impls", "numpy,torch", "--time-budget", "0.3", "--hidden", "8",
                        "--batch", "4", "--seq", "8", "--threads", "1", "--json")
    assert code == 0
    result = json.loads(out)
    assert [(r["impl"], r["model"]) for r in result] == [
        ("numpy", "tiny-race-rnn-numpy"), ("torch", "tiny-race-rnn-torch")]
    assert all(r["val_bpc"] > 0 and r["params"] > 0 for r in result)
    # the earlier names are taken: a second race gets fresh ones, nothing is overwritten
    code, out, _ = run_cli("--home", str(home), "race", str(corpus), "--cells", "rnn,gru",
                        "--impls", "scratch", "--time-budget", "0.2", "--hidden", "8",
                        "--batch", "4", "--seq", "8", "--threads", "1")
    assert code == 0 and "tiny-race-rnn-scratch-2" in out


@pytest.mark.parametrize("argv", [
    ["--cells", "lstm"],  # one configuration is not a race
    ["--impls", "numpy", "--cells", "gru,lstm"],  # the numpy model has only the rnn cell
])
def test_race_command_refusals_are_one_line(tmp_path, argv):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    code, _, err = run_cli("--home", str(tmp_path), "race", str(corpus), "--time-budget", "1",
                        *argv)
    assert code == 2 and "2 to 4 configurations" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        run_cli("--home", str(tmp_path), "race", str(corpus), "--time-budget", "1",
             "--cells", "rnn,tree")
    assert exit_.value.code == 2


@pytest.mark.usefixtures("no_shipped_models", "no_gpu")
async def test_race_screen_overlays_laps_and_plots_their_gradient_flow(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    app = CharRNNApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await load_corpus(pilot, corpus)
        await pilot.press("f3")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RaceScreen))
        screen = app.screen
        chart = screen.query_one(CurveChart)
        assert {name for name, _ in chart.references} == {"unigram", "bigram"}
        for key, value in (("cells", "rnn,lstm"), ("budget", "1"), ("hidden", "8")):
            screen.query_one(f"#race-{key}", Input).value = value
        await pilot.press("f6")
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2 and screen.race is None, 60)
        labels = [c.label for c in chart.curves]
        assert labels == ["rnn 8 torch train", "rnn 8 torch val", "lstm 8 torch train",
                          "lstm 8 torch val"]
        assert all(c.points for c in chart.curves)
        flow = screen.query_one(GradientChart)
        assert {c.label.split(" @ ")[0] for c in flow.curves} == {"rnn 8 torch", "lstm 8 torch"}
        assert all(len(c.points) > 1 for c in flow.curves)
        store = app.store
        assert store.exists("tiny-race-rnn-torch") and store.exists("tiny-race-lstm-torch")
        await pilot.press("escape")
        assert not isinstance(app.screen, RaceScreen)
