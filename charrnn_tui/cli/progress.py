"""`train`'s live progress line on a terminal: one line that fits the terminal's width.

Written by hand rather than with rich's live display (which the command line does not
import, see pyproject.toml): the fields are dropped least useful first until the line
fits, so at 80 columns it still shows the step, the losses, the rate and the time, and a
ticker redraws it twice a second so the time moves between reports and during evaluations.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from charrnn_tui.engine.training.events import Evaluated, Event, Finished, Notice, Progress

TICK = 0.5  # seconds between redraws that only move the time
MAX_BAR = 30
MIN_BAR = 8


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLine:
    """A reporter for `Trainer.run` drawing one line to `out` (a terminal)."""

    def __init__(self, config, *, out: TextIO | None = None, width: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.out = out or sys.stdout
        self.width, self.clock = width, clock
        self.budget, self.epochs, self.max_steps = config.time_budget, config.epochs, \
            config.max_steps
        self.started = clock()
        self.first: Progress | None = None  # where this run began: a resume starts midway
        self.last: Progress | None = None
        self.val = "–"
        self.fraction: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> ProgressLine:
        self.started = self.clock()
        self._ticker = threading.Thread(target=self._tick, name="progress-line", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._ticker.join()
        with self._lock:
            self._draw()
            self.out.write("\n")
            self.out.flush()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                self._draw()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Progress):
                self.first = self.first or event
                self.last = event
                self.fraction = self._fraction(event)
            elif isinstance(event, Evaluated):
                self.val = f"{event.val_loss:.3f}"
            elif isinstance(event, Notice):
                self.out.write(f"\r\x1b[K{event.message}\n")
            elif isinstance(event, Finished):
                self.fraction = 1.0 if self.fraction is not None else None
            else:
                return
            self._draw()

    def _fraction(self, event: Progress) -> float | None:
        first = self.first
        if self.budget:
            done = (event.elapsed - first.elapsed) / self.budget
        elif self.epochs:
            done = ((event.epoch + event.chunk / event.chunks)
                    - (first.epoch + first.chunk / first.chunks)) / self.epochs
        elif self.max_steps:
            done = (event.step - first.step) / self.max_steps
        else:
            return None
        return min(max(done, 0.0), 1.0)

    def _draw(self) -> None:
        self.out.write("\r" + self.line() + "\x1b[K")
        self.out.flush()

    def line(self) -> str:
        """The line as drawn now, at most the terminal's width less one column (a full
        line would wrap on some terminals)."""
        width = (self.width or shutil.get_terminal_size((80, 24)).columns) - 1
        elapsed = clock_text(self.clock() - self.started)
        e = self.last
        if e is None:
            return f"training: starting… · {elapsed}"[:width]
        # (text, rank): the highest rank goes first when the line is too long; the bar
        # ranks 3, so it outlives the epoch and the device but not the losses or the rate
        fields = [(f"step {e.step:,}", 0), (f"epoch {e.epoch + 1} chunk {e.chunk}/{e.chunks}", 4),
                  (f"loss {e.train_loss:.3f}", 1), (f"val {self.val}", 1),
                  (f"{e.chars_per_s / 1000:.1f}k chars/s", 2), (f"{e.device}/{e.precision}", 5),
                  (elapsed, 0)]
        bar = self.fraction is not None
        while True:
            text = " · ".join(f for f, _ in fields)
            if len(text) + (MIN_BAR + 1 if bar else 0) <= width:
                break
            worst = max([r for _, r in fields] + [3 if bar else 0])
            if worst == 0:
                return text[:width]
            if bar and worst == 3:
                bar = False
            else:
                fields = [f for f in fields if f[1] != worst]
        if not bar:
            return text
        size = min(width - len(text) - 1, MAX_BAR)
        full = round(self.fraction * size)
        return "━" * full + "╺" * (size - full) + " " + text
