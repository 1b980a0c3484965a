"""One stream at a time from a worker thread to a pane, for every pane that streams.

The Playground and Insight generate on a thread and show the result on a timer. A stream
is more than a job for `run_in_thread`: its items arrive while it runs, through bounded
hand-off buffers the UI drains, and it must stop on request. Each stream gets fresh
buffers and its own stop event, and a new stream starts only once the previous thread
has ended, so two threads never share a buffer or a sampler. The thread itself is
started by `run_in_thread`, which posts StreamEnded when it returns or fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from charrnn_tui.messages import StreamEnded
from charrnn_tui.workers import join_worker, run_in_thread

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.worker import Worker

T = TypeVar("T")


class HandOff(Generic[T]):
    """Items handed from a worker thread to the UI, at most `capacity` ahead of it.

    The bound keeps generation just ahead of what is on screen, so a temperature
    change shows within a few characters and Stop leaves little unshown text.
    """

    def __init__(self, capacity: int = 16) -> None:
        self._cond = threading.Condition()
        self._items: list[T] = []
        self.capacity = capacity

    def put(self, item: T, stop: threading.Event) -> None:
        """Append one item, waiting while full unless `stop` is set.

        The item is kept even when stopping: the sampler's state already includes it,
        and Continue must go on from exactly what is on screen.
        """
        with self._cond:
            while len(self._items) >= self.capacity and not stop.is_set():
                self._cond.wait(0.05)
            self._items.append(item)

    def take(self, limit: int | None = None) -> list[T]:
        with self._cond:
            n = len(self._items) if limit is None else min(limit, len(self._items))
            out = self._items[:n]
            del self._items[:n]
            self._cond.notify_all()
        return out

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass(frozen=True)
class Stream:
    """What one stream's thread gets: its id, its own buffers and its own stop event."""

    id: int
    buffers: list[HandOff]
    stop: threading.Event


Work = Callable[[Stream], int]  # runs on the thread; returns how many items it made


class StreamRunner:
    """Runs `Work` on a thread worker of `owner`, one stream at a time, each with an id.

    The thread's end arrives as a StreamEnded message carrying that id; `ended()` tells
    the owner whether it is about the current stream.
    """

    def __init__(self, owner: DOMNode, group: str) -> None:
        self.owner = owner
        self.group = group
        self.stream_id = 0
        self.buffers: list[HandOff] = []
        self.producing = False
        self._stop = threading.Event()
        self.worker: Worker | None = None

    @property
    def busy(self) -> bool:
        """The last thread has not ended (it outlived the halt's wait)."""
        return self.worker is not None and not self.worker.is_finished

    def start(self, work: Work, *, buffers: int = 1, capacity: int = 16) -> bool:
        """Run `work` on a thread with fresh buffers; False, starting nothing, while the
        previous thread still runs."""
        if self.busy:
            return False
        self._stop = threading.Event()
        self.stream_id += 1
        self.buffers = [HandOff(capacity) for _ in range(buffers)]
        self.producing = True
        stream = Stream(self.stream_id, self.buffers, self._stop)
        self.worker = run_in_thread(self.owner, lambda: work(stream),
                                    lambda n: StreamEnded(stream.id, n),
                                    lambda error: StreamEnded(stream.id, 0, error),
                                    group=self.group)
        return True

    async def halt(self, timeout: float = 2.0) -> None:
        """Stop the thread and wait for it, up to `timeout` seconds."""
        self._stop.set()
        await join_worker(self.worker, timeout)
        self.producing = False

    def stop(self) -> bool:
        """Tell the thread to end without waiting; True if a stream was producing."""
        self._stop.set()
        return self.producing

    def ended(self, event: StreamEnded) -> bool:
        """True if `event` ends the current stream (older ones are ignored)."""
        if event.stream != self.stream_id:
            return False
        self.producing = False
        return True

    def pending(self) -> bool:
        """Items are still waiting in a buffer."""
        return any(len(b) for b in self.buffers)
