"""Training and validation loss against step, redrawn a few times a second at most."""

from __future__ import annotations

from textual_plotext import PlotextPlot

MAX_POINTS = 1500  # plotext slows down with many points; older ones are thinned
REDRAW_EVERY = 0.3  # seconds


def _thin(points: list[tuple[float, float]]) -> None:
    if len(points) > MAX_POINTS:
        del points[1:-1:2]


class LossChart(PlotextPlot):
    """Points arrive ~10/s from the trainer; drawing is throttled because plotext is slow."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self._dirty = True

    def on_mount(self) -> None:
        self.set_interval(REDRAW_EVERY, self._redraw_if_dirty)
        self._redraw()

    def add_train(self, step: int, loss: float) -> None:
        self.train.append((step, loss))
        _thin(self.train)
        self._dirty = True

    def add_val(self, step: int, loss: float) -> None:
        self.val.append((step, loss))
        _thin(self.val)
        self._dirty = True

    def set_history(self, history: list[list[float]], val_history: list[list[float]]) -> None:
        """Show a resumed model's curve (TrainState.history / val_history)."""
        self.train = [(s, v) for s, v in history]
        self.val = [(s, v) for s, v in val_history]
        _thin(self.train)
        _thin(self.val)
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._redraw()

    def _redraw(self) -> None:
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.xlabel("step")
        plt.ylabel("loss")
        if self.train:
            plt.plot(*zip(*self.train, strict=True), label="train", marker="braille")
        if self.val:
            plt.plot(*zip(*self.val, strict=True), label="validation", marker="dot")
        if not (self.train or self.val):
            plt.title("the loss curve appears here once training starts")
        else:
            plt.title("")
        self.refresh()
