"""The gradient-flow plot: ‖∂L_T/∂x_t‖ against how far back t is, on a log scale, per run."""

from __future__ import annotations

from charrnn_tui.widgets.curves import Curve, CurveChart, run_colour

EMPTY = "gradient flow, after ~5 s"


def flow_curve(label: str, step: int, norms: tuple[float, ...], index: int = 0) -> Curve:
    """norms[k] is for k positions before the last; zeros (underflow) are left out."""
    return Curve(f"{label} @ step {step:,}", [(k, n) for k, n in enumerate(norms) if n > 0],
                 run_colour(index))


class GradientChart(CurveChart):
    """The latest measurement of each run; a vanilla RNN's line falls steeply, an LSTM's
    stays up."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(xlabel="positions before the last (T − t)", ylabel="‖∂L_T/∂x_t‖",
                         empty=EMPTY, log_y=True, id=id)
        self.title = "how much each earlier character still moves the last loss"
        self.latest: dict[str, Curve] = {}

    def show(self, run: str, step: int, norms: tuple[float, ...], index: int = 0) -> None:
        self.latest[run] = flow_curve(run, step, norms, index)
        self.set_curves(list(self.latest.values()))

    def clear(self) -> None:
        self.latest.clear()
        self.set_curves([])
