"""Compare runs: curves read from model files, overlaid in the Models tab's compare screen."""

from __future__ import annotations

import pytest
from helpers import kit
from helpers.pilot import wait_for
from textual.widgets import Select, SelectionList

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.analysis.entropy import reference_losses
from charrnn_tui.engine.analysis.run_curves import run_curves
from charrnn_tui.engine.data.corpus import encode_text
from charrnn_tui.engine.storage.modelfile import read_meta
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.screens.compare_runs import CompareRunsScreen
from charrnn_tui.widgets.curves import CurveChart

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


@pytest.fixture
def two_runs(data_home, tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    with kit.one_torch_thread():
        kit.store_model(data_home, "gated", kit.trained_on(corpus, "torch-gru", 12))
        kit.store_model(data_home, "plain", kit.trained_on(corpus, "numpy", 12))
    return data_home


def test_run_curves_convert_steps_to_characters_and_seconds(two_runs):
    store = ModelStore(two_runs / "models")
    run = run_curves("gated", read_meta(store.resolve("gated")))
    assert run.steps == 12 and run.val and run.train
    assert run.chars_per_step == 4 * 8  # batch × sequence of kit.config
    step, loss = run.val[-1]
    assert run.along([(step, loss)], "chars") == [(step * 32, loss)]
    seconds = run.along([(step, loss)], "seconds")[0][0]
    assert seconds == pytest.approx(step * run.seconds_per_step) and seconds > 0
    assert run.legend.startswith("gated: gru 16 torch")


async def test_compare_overlays_chosen_runs_with_reference_lines(two_runs, tmp_path):
    app = CharRNNApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f5")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareRunsScreen))
        screen = app.screen
        runs = screen.query_one(SelectionList)
        runs.deselect_all()
        runs.select(runs.get_option_at_index(0).value)
        await pilot.pause()
        # checked and unchecked differ without colour: X, and a blank
        marks = [runs.render_line(y).text[:3] for y in range(2)]
        assert marks[0][1] == "X" and marks[1][1] == " ", marks
        runs.select_all()
        await pilot.pause()
        chart = screen.query_one(CurveChart)
        labels = [c.label for c in chart.curves]
        assert any(lbl.startswith("gated: gru 16 torch") and lbl.endswith("val")
                   for lbl in labels)
        assert any(lbl.startswith("plain: rnn 16 numpy") for lbl in labels)
        assert len(labels) == 4
        # both runs name the same corpus file: its entropies become reference lines
        await wait_for(pilot, lambda: len(chart.references) == 2)
        expected = reference_losses(encode_text(kit.TEXT, "t").data)
        assert dict(chart.references)["bigram"] == pytest.approx(expected.bigram)
        steps = [x for x, _ in chart.curves[0].points]
        screen.query_one("#compare-axis", Select).value = "chars"
        await pilot.pause()
        assert [x for x, _ in chart.curves[0].points] == [s * 32 for s in steps]
        screen.query_one("#compare-show", Select).value = "val"
        await pilot.pause()
        assert len(chart.curves) == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareRunsScreen)
