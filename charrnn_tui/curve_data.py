"""Loss curves as data, free of any UI library: what the app's charts and the command
line's SVG chart (`models compare --svg`) both draw."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.analysis.run_curves import RunCurves

MAX_POINTS = 1500  # per curve; plotext slows down with many, and a column holds 2 anyway
RUN_COLOURS = ("blue", "green", "red", "magenta", "cyan", "yellow")


@dataclass
class Curve:
    label: str
    points: list[tuple[float, float]] = field(default_factory=list)
    colour: str | None = None


def thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> None:
    """Halve a long curve in place, keeping its first and last point."""
    if len(points) > limit:
        del points[1:-1:2]


def run_colour(index: int, bright: bool = True) -> str:
    base = RUN_COLOURS[index % len(RUN_COLOURS)]
    return base + "+" if bright else base


def reference_label(name: str, nats: float) -> str:
    return f"{name} {nats:.2f} nats · {nats / LN2:.2f} bits"


def y_range(values: list[float], references: list[float]) -> tuple[float, float] | None:
    """A y-range that shows the curves' shape: the first steep steps of a loss curve
    (4+ nats at step 0) would squash the rest into a flat line, so the top is the 95th
    percentile of the points, widened to every reference line; the bottom is the lowest
    point or line. A 5% margin either side keeps lines off the frame."""
    finite = [v for v in values if math.isfinite(v)]
    refs = [r for r in references if math.isfinite(r)]
    if not finite and not refs:
        return None
    lo = min(finite + refs)
    hi = max(([float(np.percentile(finite, 95))] if finite else []) + refs)
    pad = max((hi - lo) * 0.05, 1e-3)
    return lo - pad, hi + pad


def overlay(runs: list[RunCurves], axis: str, show: str = "both") -> list[Curve]:
    """One colour per run: validation bright, training dim, named by the run's legend."""
    curves = []
    for i, run in enumerate(runs):
        if show in ("both", "val"):
            label = run.legend + (" val" if show == "both" else "")
            curves.append(Curve(label, run.along(run.val, axis), run_colour(i)))
        if show in ("both", "train"):
            label = run.legend + (" train" if show == "both" else "")
            curves.append(Curve(label, run.along(run.train, axis), run_colour(i, bright=False)))
    return curves
