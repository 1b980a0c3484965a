"""The Playground's text: what a timer drains from the sampling thread's buffer, wrapped as
it is written, and the transcript that Save, Branch and Compare read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Log, Select

if TYPE_CHECKING:
    from textual.timer import Timer

    from charrnn_tui.streaming import StreamRunner

DRAIN_HZ = 25
# At speed "max" the text is shown every this many ticks, in bigger pieces: each write
# makes the Log lay out and repaint, and that UI work takes the GIL from the sampler.
MAX_SPEED_TICKS = 3


class Transcript:
    """Mixed into PlaygroundPane: drains its `stream` into the `#output` Log on
    `_drain_timer` at the `#speed` chosen, keeping every piece in `_transcript`."""

    stream: StreamRunner
    _drain_timer: Timer
    _transcript: list[str]
    _column: int
    _ticks: int
    _run: tuple[int, int] | None

    def _per_tick(self) -> int:
        """Characters shown per timer tick; 0 means as many as are ready."""
        speed = self.query_one("#speed", Select).value
        return max(1, round(speed / DRAIN_HZ)) if isinstance(speed, int) and speed else 0

    def _take(self, limit: int | None = None) -> str:
        return "".join(self.stream.buffers[0].take(limit)) if self.stream.buffers else ""

    def _drain(self) -> None:
        per_tick = self._per_tick()
        self._ticks += 1
        if not per_tick and self.stream.producing and self._ticks % MAX_SPEED_TICKS:
            return
        text = self._take(per_tick or None)
        if text:
            self._write(text)
        if not self.stream.producing and not self.stream.pending():
            self._drain_timer.pause()
            self._update_controls()

    def _write(self, text: str) -> None:
        """Append to the transcript and the view, wrapping at the view's width."""
        self._transcript.append(text)
        log = self.query_one("#output", Log)
        width = max(10, log.scrollable_content_region.width - 1)
        out: list[str] = []
        for ch in text.replace("\t", "    "):
            if ch == "\n":
                self._column = 0
            elif self._column >= width:
                out.append("\n")
                self._column = 1
            else:
                self._column += 1
            out.append(ch)
        log.write("".join(out))

    def _rewrite(self, text: str) -> None:
        """Show `text` in place of everything (after a branch cut the end off)."""
        self.query_one("#output", Log).clear()
        self._transcript.clear()
        self._column = 0
        self._write(text)

    @property
    def text(self) -> str:
        """Everything shown since the last Clear, seeds included, unwrapped."""
        return "".join(self._transcript)

    @property
    def generated(self) -> str:
        """The current run's generated text: what Branch offers."""
        return self.text[self._run[1]:] if self._run is not None else ""

