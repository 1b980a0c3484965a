"""The path a stream took: every character id since priming and the state every few of them.

"Branch from here" needs the state before any generated character. Keeping one for every
character would cost a full state per character (4 KB for a 2×256 LSTM); a mark every
`EVERY` characters costs a sixteenth of that, and a branch replays at most `EVERY - 1`
fast steps from the nearest mark, well under a millisecond each.
"""

from __future__ import annotations

import bisect

import numpy as np

from charrnn_tui.engine.models.stepper import StepState

EVERY = 16  # characters between marks
MAX_MARKS = 4096  # the oldest are dropped past this: ~65k characters of history


class Trail:
    """Ids fed since priming (seed included) and marks: the state and logits before an id."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self._positions: list[int] = []  # sorted positions of the marks
        self._marks: dict[int, tuple[StepState, np.ndarray]] = {}
        self.due = 0  # the position of the next mark (streaming checks it every character)

    def reset(self) -> None:
        self.__init__()

    @property
    def start(self) -> int | None:
        """The first position a branch can go back to; None before any mark."""
        return self._positions[0] if self._positions else None

    def mark(self, st: StepState, logits: np.ndarray) -> None:
        """Keep `st` and `logits` as the state before id number `len(self.ids)`."""
        pos = len(self.ids)
        if pos not in self._marks:
            self._positions.append(pos)
        self._marks[pos] = (st.copy(), np.array(logits, copy=True))
        self.due = pos + EVERY
        if len(self._positions) > MAX_MARKS:
            del self._marks[self._positions.pop(0)]

    def nearest(self, pos: int) -> tuple[int, StepState, np.ndarray]:
        """The last mark at or before `pos`: its position, a state to step, its logits."""
        at = bisect.bisect_right(self._positions, pos) - 1
        if at < 0 or pos > len(self.ids):
            raise ValueError("that character is no longer kept; branch from a later one")
        mark = self._positions[at]
        st, logits = self._marks[mark]
        return mark, st.copy(), logits

    def cut(self, pos: int) -> None:
        """Forget ids from `pos` on, and the marks after it."""
        del self.ids[pos:]
        keep = bisect.bisect_right(self._positions, pos)
        for p in self._positions[keep:]:
            del self._marks[p]
        del self._positions[keep:]
        self.due = self._positions[-1] + EVERY if self._positions else 0
