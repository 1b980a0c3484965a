"""Training and validation loss against step, with the corpus's reference lines."""

from __future__ import annotations

from charrnn_tui.widgets.curves import Curve, CurveChart, run_colour, thin


class LossChart(CurveChart):
    """One run's two curves, drawn as braille lines over a y-range that shows their shape."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(empty="loss curves appear here", id=id)
        self.train_curve = Curve("train", colour=run_colour(0, bright=False))
        self.val_curve = Curve("validation", colour=run_colour(1))
        self.curves = [self.train_curve, self.val_curve]

    @property
    def train(self) -> list[tuple[float, float]]:
        return self.train_curve.points

    @property
    def val(self) -> list[tuple[float, float]]:
        return self.val_curve.points

    def add_train(self, step: int, loss: float) -> None:
        self.train.append((step, loss))
        thin(self.train)
        self.changed()

    def add_val(self, step: int, loss: float) -> None:
        self.val.append((step, loss))
        thin(self.val)
        self.changed()

    def set_history(self, history: list[list[float]], val_history: list[list[float]]) -> None:
        """Show a resumed model's curve (TrainState.history / val_history)."""
        self.train_curve.points = [(s, v) for s, v in history]
        self.val_curve.points = [(s, v) for s, v in val_history]
        thin(self.train)
        thin(self.val)
        self.changed()
