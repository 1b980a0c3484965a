"""A race: two to four configurations trained on the same corpus for the same wall-clock
budget each, one after another, with the same seed, data order and training settings.

Only the architecture differs between laps (cell, implementation); each implementation
keeps its own optimizer and default learning rate (Adagrad for the hand-built ones, as in
the seed, Adam for the library one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.data.corpus import min_corpus_chars, split_at
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import (
    CELLS,
    IMPLEMENTATIONS,
    ModelSpec,
    build_model,
    count_parameters,
    family_of,
)
from charrnn_tui.engine.threads import ThreadTuner
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.events import Event, Finished
from charrnn_tui.engine.training.trainer import Saver, Trainer

MIN_RUNS, MAX_RUNS = 2, 4


@dataclass(frozen=True)
class Lap:
    """One configuration's result."""

    spec: ModelSpec
    finished: Finished
    params: int

    @property
    def label(self) -> str:
        return lap_label(self.spec)

    @property
    def val_bpc(self) -> float | None:
        v = self.finished.val_loss
        return None if v is None else v / LN2


def lap_label(spec: ModelSpec) -> str:
    layers = f"{spec.layers}×" if spec.layers > 1 else ""
    return f"{spec.cell} {layers}{spec.hidden} {spec.impl}"


def race_specs(cells: list[str], impls: list[str], vocab: list[str], *, hidden: int = 128,
               layers: int = 1, embed: int = 32) -> tuple[list[ModelSpec], list[str]]:
    """Every valid (implementation, cell) pair, and a note for each pair that cannot be
    built (the numpy model has only the vanilla cell; scratch and numpy one layer)."""
    for name, given, known in (("cell", cells, CELLS), ("implementation", impls,
                                                        IMPLEMENTATIONS)):
        if bad := [x for x in given if x not in known]:
            raise ConfigError(f"unknown {name} {bad[0]!r}: use {', '.join(known)}")
    specs, skipped = [], []
    for impl in dict.fromkeys(impls):
        one_layer = family_of(impl).max_layers == 1
        for cell in dict.fromkeys(cells):
            spec = ModelSpec(impl=impl, cell=cell, layers=1 if one_layer else layers,
                             hidden=hidden, embed=embed, vocab=list(vocab))
            try:
                specs.append(spec.validate())
            except ConfigError as e:
                skipped.append(f"skipped {impl}/{cell}: {e}")
    if not MIN_RUNS <= len(specs) <= MAX_RUNS:
        raise ConfigError(f"a race needs {MIN_RUNS} to {MAX_RUNS} configurations; these cells "
                          f"and implementations make {len(specs)}")
    return specs, skipped


def race_config(budget: float, train_chars: int | None = None, **over) -> TrainConfig:
    """What every lap shares: the budget, a constant rate (a cosine schedule would tie the
    curve's shape to the budget), and evaluations often enough to draw a validation curve.
    Batch and sequence not given shrink (batch first) until a split of `train_chars` fits."""
    if not budget > 0:
        raise ConfigError("the time budget must be positive")
    batch, seq = over.pop("batch", None), over.pop("seq", None)
    fit_batch, fit_seq = batch or 32, seq or 100
    while train_chars is not None and min_corpus_chars(fit_batch, fit_seq) > train_chars:
        if batch is None and fit_batch > 1:
            fit_batch //= 2
        elif seq is None and fit_seq > 8:
            fit_seq //= 2
        else:
            break  # the trainer says what is too small
    base = dict(batch=fit_batch, seq=fit_seq, time_budget=budget, schedule="constant",
                eval_every=max(2.0, budget / 6), autosave_every=0.0,
                gradflow_every=min(5.0, budget / 5))  # a short race still shows a few
    return TrainConfig(**(base | over))


def train_chars(data: np.ndarray) -> int:
    """Characters in the training split of `data` (what batch × sequence must fit)."""
    return split_at(len(data))


class Race:
    """Runs the laps in order on the calling thread; `stop()` from another thread ends the
    current lap (it still saves) and skips the rest."""

    def __init__(self, data: np.ndarray, corpus_info: dict, specs: list[ModelSpec],
                 config: TrainConfig):
        self.data, self.corpus_info, self.specs, self.config = data, corpus_info, specs, config
        self._stopped = threading.Event()
        self._trainer: Trainer | None = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            if self._trainer is not None:
                self._trainer.stop(final_eval=True)

    def run(self, on_event: Callable[[int, Event], None],
            saver_for: Callable[[int, ModelSpec], Saver | None] = lambda i, s: None,
            threads: Callable[[], ThreadTuner | None] = lambda: None) -> list[Lap]:
        """`saver_for` gives each lap its saver; `threads` a fresh thread tuner per lap."""
        laps = []
        for i, spec in enumerate(self.specs):
            if self._stopped.is_set():
                break
            config = replace(self.config, lr=None, optimizer=None)  # each impl's own
            trainer = Trainer(build_model(spec, config.seed), self.data, config,
                              corpus_info=self.corpus_info)
            with self._lock:
                self._trainer = trainer
                if self._stopped.is_set():
                    trainer.stop()
            done = trainer.run(lambda e, i=i: on_event(i, e), saver_for(i, spec), threads())
            laps.append(Lap(spec, done, count_parameters(spec)))
        with self._lock:
            self._trainer = None
        return laps
