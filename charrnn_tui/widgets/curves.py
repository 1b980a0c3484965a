"""Line charts of several curves at once, with labelled reference lines, drawn in braille.

One widget serves the Train tab's loss chart, the overlay of saved runs, the race and the
gradient-flow plot. Redrawing is throttled: plotext is slow, and points arrive ~10/s.
"""

from __future__ import annotations

import math

from textual.content import Content
from textual_plotext import PlotextPlot

from charrnn_tui.curve_data import Curve, run_colour, thin, y_range

REDRAW_EVERY = 0.5  # seconds; drawing competes with training for the GIL (EventBatcher)
ROOMY = 11  # rows from which a chart also shows its axis labels
REFERENCE_COLOURS = {"unigram": "gray", "bigram": "gray", "shipped model": "orange"}


def whole_ticks(x0: float, x1: float, most: int = 5) -> list[int]:
    """Up to `most` whole-number ticks from x0 to x1 (steps, seconds, positions): plotext's
    own ticks split the range evenly into fractions like 779.5."""
    first, last = math.ceil(x0), math.floor(x1)
    if last <= first:
        return [first]
    gap = max(1, math.ceil((last - first) / (most - 1)))
    return list(range(first, last + 1, gap))


def rich_colour(plotext_colour: str) -> str:
    """The Rich name of a plotext colour ("blue+" is bright blue)."""
    if plotext_colour.endswith("+"):
        return "bright_" + plotext_colour[:-1]
    return {"gray": "grey50", "orange": "dark_orange"}.get(plotext_colour, plotext_colour)


class CurveChart(PlotextPlot):
    """Curves against a shared x axis; `log_y` plots log10 of the values with 10^k ticks.

    The legend is the chart's top border: plotext's own legend sits on the plot and, in a
    chart a few rows high, covers the very curve it names.
    """

    DEFAULT_CSS = """
    CurveChart {
        border-top: solid $foreground 20%;
        border-title-align: left;
    }
    """

    def __init__(self, *, xlabel: str = "step", ylabel: str = "loss (nats/char)",
                 empty: str = "", log_y: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.curves: list[Curve] = []
        self.references: list[tuple[str, float]] = []  # (name, nats)
        self.xlabel, self.ylabel, self.empty, self.log_y = xlabel, ylabel, empty, log_y
        self.title = ""
        self._dirty = True

    def on_mount(self) -> None:
        self.set_interval(REDRAW_EVERY, self._redraw_if_dirty)
        self._redraw()

    def on_resize(self) -> None:
        self.changed()

    def set_curves(self, curves: list[Curve]) -> None:
        self.curves = curves
        for c in curves:
            thin(c.points)
        self.changed()

    def set_references(self, references: list[tuple[str, float]]) -> None:
        self.references = [(n, v) for n, v in references if v is not None and math.isfinite(v)]
        self.changed()

    def set_axis(self, xlabel: str) -> None:
        self.xlabel = xlabel
        self.changed()

    def changed(self) -> None:
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._redraw()

    def _redraw(self) -> None:
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        roomy = self.size.height >= ROOMY  # else the axis labels' row goes to the curves
        plt.xlabel(self.xlabel if roomy else "")
        plt.ylabel(self.ylabel if roomy else "")
        drawn = [c for c in self.curves if c.points]
        self.border_title = self._legend(drawn)
        if not drawn:
            plt.title(self.empty)
            self.refresh()
            return
        plt.title(self.title)
        xs = [x for c in drawn for x, _ in c.points]
        x0, x1 = min(xs), max(xs)
        if x1 <= x0:
            x1 = x0 + 1
        ticks = whole_ticks(x0, x1)
        plt.xticks(ticks, [f"{t:,}" for t in ticks])
        lo, hi = self._y_axis(drawn)
        for i, c in enumerate(drawn):
            # clipped into the range: plotext cannot draw (and fails on) a curve whose
            # points all lie outside it, e.g. a new run's first steps above the top
            pts = [(x, min(max(y, lo), hi)) for x, y in ((x, self._y(y)) for x, y in c.points)
                   if math.isfinite(y)]
            if not pts:
                continue
            if len(pts) == 1:  # one point: a short flat stroke, so it is seen at all
                pts = [pts[0], (pts[0][0] + (x1 - x0) * 0.01, pts[0][1])]
            plt.plot(*zip(*pts, strict=True), marker="braille", color=c.colour or run_colour(i))
        for name, value in self.references:
            plt.plot([x0, x1], [self._y(value)] * 2, marker="braille",
                     color=REFERENCE_COLOURS.get(name, "gray"))
        self.refresh()

    def _legend(self, drawn: list[Curve]) -> Content:
        """One line: each curve's name in its colour, then the reference lines' values."""
        parts = [(f"━ {c.label}", rich_colour(c.colour or run_colour(i)))
                 for i, c in enumerate(drawn)]
        parts += [(f"─ {name} {value:.2f}", rich_colour(REFERENCE_COLOURS.get(name, "gray")))
                  for name, value in self.references]
        return Content.assemble(*(part for p in parts for part in (p, "  ")))

    def _y(self, value: float) -> float:
        if not self.log_y:
            return value
        return math.log10(value) if value > 0 else math.nan

    def _y_axis(self, drawn: list[Curve]) -> tuple[float, float]:
        """Set the y-range (and log ticks); returns it, in plotted units."""
        plt = self.plt
        values = [self._y(y) for c in drawn for _, y in c.points]
        if self.log_y:
            finite = [v for v in values if math.isfinite(v)] or [0.0]
            lo, hi = math.floor(min(finite)), math.ceil(max(finite))
            hi = max(hi, lo + 1)
            step = max(1, (hi - lo) // 6)
            ticks = list(range(lo, hi + 1, step))
            plt.yticks(ticks, [f"1e{t}" for t in ticks])
        else:
            lo, hi = y_range(values, [v for _, v in self.references]) or (0.0, 1.0)
        plt.ylim(lo, hi)
        return lo, hi
