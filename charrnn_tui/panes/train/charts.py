"""The Train tab's charts side by side: the loss curves, and the gradient flow."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal

from charrnn_tui.panes.train.loss_chart import LossChart
from charrnn_tui.widgets.gradient_chart import GradientChart


class TrainCharts(Horizontal):
    # Below 100 columns the gradient plot gives its room to the loss chart (app.tcss; the
    # race screen shows both at any width).
    DEFAULT_CSS = """
    TrainCharts { height: 1fr; min-height: 6; }
    TrainCharts #loss-chart { width: 3fr; }
    TrainCharts #train-flow { width: 2fr; }
    """

    def compose(self) -> ComposeResult:
        yield LossChart(id="loss-chart")
        yield GradientChart(id="train-flow")
