"""A saved run's loss curves, ready to overlay on others against steps, characters or seconds.

Model files keep [step, loss] points. Characters seen and seconds are derived from the
run's own totals: characters per step is exact while batch × sequence stayed the same;
seconds per step is the run's average rate, so the seconds axis is an estimate (steady
training makes it a close one).
"""

from __future__ import annotations

from dataclasses import dataclass

from charrnn_tui.engine.models import ModelSpec, count_parameters

AXES = {"step": "step", "chars": "characters seen", "seconds": "seconds (from average rate)"}


@dataclass(frozen=True)
class RunCurves:
    name: str
    spec: ModelSpec
    params: int
    train: list[tuple[float, float]]  # (step, nats/char)
    val: list[tuple[float, float]]
    steps: int
    chars_per_step: float
    seconds_per_step: float
    corpus_sha256: str
    last_val: float | None

    @property
    def legend(self) -> str:
        """What tells runs apart: cell, size and implementation (and the name)."""
        s = self.spec
        layers = f"{s.layers}×" if s.layers > 1 else ""
        return f"{self.name}: {s.cell} {layers}{s.hidden} {s.impl}, {_count(self.params)}"

    def along(self, points: list[tuple[float, float]], axis: str) -> list[tuple[float, float]]:
        scale = {"step": 1.0, "chars": self.chars_per_step,
                 "seconds": self.seconds_per_step}[axis]
        return [(step * scale, loss) for step, loss in points]


def _count(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit} params"
    return f"{n:.0f} params"


def run_curves(name: str, meta: dict) -> RunCurves:
    """From `read_meta`'s result (a validated model file's metadata)."""
    spec: ModelSpec = meta["spec"]
    st, cfg = meta["state"], meta.get("config", {})
    steps = int(st.get("step", 0))
    chunk = cfg.get("batch", 0) * cfg.get("seq", 0)
    chars_per_step = st.get("chars_seen", 0) / steps if steps else float(chunk)
    seconds_per_step = st.get("seconds", 0.0) / steps if steps else 0.0
    return RunCurves(name, spec, count_parameters(spec),
                     [(float(s), float(v)) for s, v in st.get("history", [])],
                     [(float(s), float(v)) for s, v in st.get("val_history", [])],
                     steps, chars_per_step, seconds_per_step,
                     meta.get("corpus", {}).get("sha256", ""), st.get("last_val"))
