"""Reference lines: the corpus facts, the Train tab's loss and gradient charts, the chart
range, and `models compare` on the command line."""

from __future__ import annotations

import math

import pytest
from helpers import kit
from helpers.app import load_corpus, pane_of
from helpers.cli import run_cli
from helpers.pilot import wait_for
from textual.widgets import Static

from charrnn_tui import resources
from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.analysis.entropy import reference_losses
from charrnn_tui.engine.data.corpus import encode_text
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.events import GradientFlow
from charrnn_tui.messages import TrainEvents
from charrnn_tui.panes.train.loss_chart import LossChart
from charrnn_tui.widgets.curves import y_range
from charrnn_tui.widgets.gradient_chart import GradientChart

TEXT = kit.TEXT * 3


def test_the_y_range_is_not_stretched_by_the_first_steps():
    values = [4.2] + [2.0 - i / 100 for i in range(60)]  # one early spike, then the curve
    lo, hi = y_range(values, [2.5])
    assert lo < 1.41 and 2.5 < hi < 3.0  # the spike is off the top; the line is in
    assert y_range([], []) is None
    assert y_range([math.nan], [1.0]) is not None


@pytest.mark.usefixtures("no_gpu")
async def test_corpus_facts_and_loss_chart_show_the_reference_lines(tmp_path, monkeypatch):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    # a "shipped" model of the same corpus
    kit.store_model(tmp_path / "build", "bard", kit.trained_on(corpus, "torch-gru", 6))
    shipped = tmp_path / "build" / "models" / "bard" / "last.safetensors"
    monkeypatch.setattr(resources, "shipped_models", lambda: [shipped])
    expected = reference_losses(encode_text(TEXT, "t").data)
    app = CharRNNApp(fresh=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await load_corpus(pilot, corpus)
        facts = str(app.query_one("#corpus-facts", Static).render())
        assert f"{expected.unigram:.3f} nats = {expected.unigram / math.log(2):.2f} bits" in facts
        assert f"{expected.bigram:.3f} nats" in facts
        lines = dict(app.query_one(LossChart).references)
        assert lines["unigram"] == pytest.approx(expected.unigram)
        assert lines["bigram"] == pytest.approx(expected.bigram)
        bard = ModelStore(tmp_path / "build" / "models").load("bard")
        assert lines["shipped model"] == pytest.approx(bard.state.last_val)


@pytest.mark.usefixtures("no_shipped_models", "no_gpu")
async def test_the_train_tab_plots_gradient_flow_on_a_log_scale():
    app = CharRNNApp(fresh=True)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await pane_of(app, "train")
        await pilot.press("f3")
        pane.run_name = "m"
        norms = tuple(0.5 ** k for k in range(40)) + (0.0,)  # underflow to 0 is left out
        pane.post_message(TrainEvents([GradientFlow(12, norms)]))
        chart = app.query_one(GradientChart)
        await wait_for(pilot, lambda: bool(chart.curves))
        (curve,) = chart.curves
        assert curve.label == "m @ step 12" and len(curve.points) == 40
        assert chart.log_y and chart._y(0.001) == pytest.approx(-3)


def test_models_compare_prints_the_runs_and_writes_an_svg(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    home = tmp_path / "home"
    kit.store_model(home, "gated", kit.trained_on(corpus, "torch-gru", 6))
    kit.store_model(home, "plain", kit.trained_on(corpus, "numpy", 6))
    svg = tmp_path / "runs.svg"
    code, text, err = run_cli("--home", str(home), "models", "compare", "gated", "plain",
                              "--svg", str(svg), "--axis", "chars")
    assert code == 0, err
    assert "gated: gru 16 torch" in text and "plain: rnn 16 numpy" in text
    assert "reference: bigram" in text
    drawing = svg.read_text()
    assert drawing.startswith("<svg") and drawing.count("<polyline") == 4
    assert "characters seen" in drawing and "unigram" in drawing
    assert run_cli("--home", str(home), "models", "compare", "gated")[0] == 2
    assert run_cli("--home", str(home), "models", "compare", "gated", "nope")[0] == 2
    assert run_cli("--home", str(home), "models", "compare", "gated", "plain", "--svg",
                   str(tmp_path / "no" / "x.svg"))[0] == 2


async def test_charts_draw_curves_that_fall_outside_the_range_or_have_one_point():
    from textual.app import App

    from charrnn_tui.widgets.curves import Curve, CurveChart

    class Charts(App):
        def compose(self):
            yield CurveChart(id="lin")
            yield GradientChart(id="log")

    app = Charts()
    async with app.run_test(size=(60, 30)) as pilot:
        lin = app.query_one("#lin", CurveChart)
        lin.set_curves([Curve("low", [(float(i), 1.5 - i / 1000) for i in range(100)]),
                        Curve("new run, all above the top", [(0.0, 4.2), (1.0, 4.1)]),
                        Curve("one point", [(5.0, 2.0)]), Curve("nan", [(1.0, math.nan)])])
        lin.set_references([("bigram", 2.45)])
        log = app.query_one("#log", GradientChart)
        log.show("a", 1, (1.0, 1e-3, 0.0, 1e-30))
        log.show("b", 1, (0.0,))
        lin._redraw()
        log._redraw()
        await pilot.pause(0.2)
        assert "bigram" in str(lin.border_title) and "1e-30" in str(log.render())
