"""A race's model names and results table, shared by `charrnn-tui race` and the app's
race screen."""

from __future__ import annotations

from charrnn_tui.engine.models import ModelSpec
from charrnn_tui.engine.storage.store import ModelStore, check_name
from charrnn_tui.engine.training.race_runner import (
    Lap,
    lap_label,
)
from charrnn_tui.names import free_name, name_stem

COLUMNS = ("run", "model", "val loss", "bits/char", "params", "chars/s", "steps")


def race_name(store: ModelStore, corpus_name: str, spec: ModelSpec, taken: set[str]) -> str:
    """A free store name like `tinyshakespeare-race-lstm-torch`."""
    base = check_name(f"{name_stem(corpus_name)[:40]}-race-{spec.cell}-{spec.impl}")
    name = free_name(store, base)
    n = 2
    while name in taken:
        name = free_name(store, f"{base}-{n}")
        n += 1
    return name


def table_rows(laps: list[Lap], names: list[str]) -> list[tuple[str, ...]]:
    """The final table, best validation loss marked with ★."""
    vals = [lap.finished.val_loss for lap in laps if lap.finished.val_loss is not None]
    best = min(vals) if vals else None
    rows = []
    for lap, name in zip(laps, names, strict=False):
        f = lap.finished
        star = " ★" if f.val_loss is not None and f.val_loss == best and len(laps) > 1 else ""
        rows.append((name, lap_label(lap.spec),
                     "–" if f.val_loss is None else f"{f.val_loss:.4f}{star}",
                     "–" if lap.val_bpc is None else f"{lap.val_bpc:.3f}",
                     f"{lap.params:,}", f"{f.chars_per_s:,.0f}", f"{f.step:,}"))
    return rows
