"""The coloured text: every character on the colour the engine gives it, with a cursor.

A Line API widget: it wraps the text itself (between words, after line breaks, which
show as ↵ so their colour shows too), so a cursor position and a click map straight
to a character.
"""

from __future__ import annotations

import textwrap
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from charrnn_tui.engine.generation.insight import colours
from charrnn_tui.engine.models import ModelSpec
from charrnn_tui.panes.insight.trace import Lens, Step, TraceLog, to_trace
from charrnn_tui.widgets.format import show_char

Span = tuple[int, int]  # [start, end) character indices of one screen line


def glyph(char: str) -> str:
    """What a character looks like in the view: blanks and controls become visible."""
    return char if char == " " else show_char(char)


@lru_cache(maxsize=1024)
def _style(bgcolor: str) -> Style:
    """The engine's background, with black or white letters, whichever reads better on it."""
    r, g, b = (int(bgcolor[i:i + 2], 16) for i in (1, 3, 5))
    light = 0.299 * r + 0.587 * g + 0.114 * b > 128
    return Style(color="black" if light else "white", bgcolor=bgcolor)


def wrap(text: str, width: int) -> list[Span]:
    """Screen lines of `text` at `width` cells: after each line break, else between words."""
    lines: list[Span] = []
    start = used = 0
    space = -1
    for i, char in enumerate(text):
        w = cell_len(glyph(char))
        if used + w > width and i > start:
            cut = space + 1 if space >= start else i
            lines.append((start, cut))
            start, space = cut, -1
            used = sum(cell_len(glyph(c)) for c in text[cut:i])
        used += w
        if char == " ":
            space = i
        elif char == "\n":
            lines.append((start, i + 1))
            start, used, space = i + 1, 0, -1
    if start < len(text):
        lines.append((start, len(text)))
    return lines


class InsightText(ScrollView, can_focus=True):
    """One model's text, coloured through a Lens; arrow keys or a click pick a character."""

    BINDINGS = [
        Binding("left", "move(-1)", "Previous character", show=False),
        Binding("right", "move(1)", "Next character", show=False),
        Binding("up", "line(-1)", "Character above", show=False),
        Binding("down", "line(1)", "Character below", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First character", show=False),
        Binding("end", "jump(-1)", "Last character (and follow the stream)", show=False),
    ]
    DEFAULT_CSS = """
    InsightText {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        border: round $foreground 30%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus { border: round $accent; }
    }
    """

    @dataclass
    class CursorMoved(Message):
        """The cursor moved (`by_user`), or the text under it changed."""

        view: InsightText
        by_user: bool

    def __init__(self, placeholder: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.placeholder = placeholder
        self.record = TraceLog()
        self.lens = Lens()
        self.cursor = -1  # index into the text; -1 while empty
        self.follow = True  # the cursor stays on the newest character as text streams in
        self._colours: list[str] = []
        self._lines: list[Span] = []
        self._starts: list[int] = []
        self._hint: list[str] = []  # the placeholder's lines, while there is no text

    # --- data ----------------------------------------------------------------------------
    def reset(self, spec: ModelSpec | None) -> None:
        """Empty the view for a (new) model."""
        self.record = TraceLog(spec)
        self._colours = []
        self.cursor = -1
        self.follow = True
        self._relayout()
        self._show_lens()

    def extend(self, steps: Sequence[Step]) -> None:
        steps = steps[-self.record.limit:]
        if not steps:
            return
        dropped = self.record.extend(steps)
        new = to_trace(steps, self.record.vocab)
        self._colours.extend(colours(new, **self.shown_lens.kwargs()))
        del self._colours[:dropped]
        self.cursor = len(self.record) - 1 if self.follow else max(0, self.cursor - dropped)
        self._relayout()
        self._cursor_changed(by_user=False)

    def set_lens(self, lens: Lens) -> None:
        self.lens = lens
        self._colours = colours(self.record.trace(), **self.shown_lens.kwargs())
        self._show_lens()
        self.refresh()
        self.post_message(self.CursorMoved(self, by_user=False))

    @property
    def shown_lens(self) -> Lens:
        """The lens in use: a unit this model lacks falls back to the confidence view."""
        spec = self.record.spec
        return self.lens if spec is None or self.lens.fits(spec) else Lens()

    def _show_lens(self) -> None:
        shown = self.shown_lens
        self.border_subtitle = shown.label if shown == self.lens else \
            f"no {self.lens.label} here: confidence"

    # --- layout --------------------------------------------------------------------------
    def _relayout(self) -> None:
        width = max(8, self.scrollable_content_region.width)
        self._lines = wrap(self.record.text, width)
        self._hint = textwrap.wrap(self.placeholder, width)
        self._starts = [start for start, _ in self._lines]
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def on_resize(self) -> None:
        self._relayout()
        self._scroll_to_cursor()

    def _row_of(self, index: int) -> int:
        return max(0, bisect_right(self._starts, index) - 1)

    def _x_of(self, index: int) -> int:
        start, _ = self._lines[self._row_of(index)]
        return sum(cell_len(glyph(s.char)) for s in self.record.steps[start:index])

    def _index_at(self, row: int, x: int) -> int:
        """The character at cell `x` of screen line `row` (the line's last when x is past it)."""
        start, end = self._lines[min(max(row, 0), len(self._lines) - 1)]
        used = 0
        for i in range(start, end):
            used += cell_len(glyph(self.record.steps[i].char))
            if used > x:
                return i
        return end - 1

    # --- rendering -----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if not self._lines:
            hint = self._hint[row] if row < len(self._hint) else ""
            return Strip([Segment(hint, base + Style(dim=True))]).crop_extend(0, width, base)
        if row >= len(self._lines):
            return Strip.blank(width, base)
        start, end = self._lines[row]
        mark = Style(reverse=True, bold=True) if self.has_focus else Style(underline=True)
        segments = []
        for i in range(start, end):
            style = _style(self._colours[i])
            segments.append(Segment(glyph(self.record.steps[i].char),
                                    style + mark if i == self.cursor else style))
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- the cursor ----------------------------------------------------------------------
    def move_to(self, index: int) -> None:
        """Put the cursor on character `index` (clamped); on the last one it follows the stream."""
        if not self.record.steps:
            return
        last = len(self.record) - 1
        self.cursor = min(max(index, 0), last)
        self.follow = self.cursor == last
        self._cursor_changed(by_user=True)

    def _cursor_changed(self, by_user: bool) -> None:
        self.refresh()
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, by_user))

    def _scroll_to_cursor(self) -> None:
        if self.cursor >= 0 and self._lines:
            self.scroll_to_region(Region(self._x_of(self.cursor), self._row_of(self.cursor), 1, 1),
                                  animate=False, force=True, immediate=True)

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_line(self, delta: int) -> None:
        if self.cursor >= 0:
            row = self._row_of(self.cursor) + delta
            if 0 <= row < len(self._lines):
                self.move_to(self._index_at(row, self._x_of(self.cursor)))

    def action_page(self, delta: int) -> None:
        if self.cursor >= 0:
            row = self._row_of(self.cursor) + delta * max(1, self.scrollable_content_region.height)
            self.move_to(self._index_at(row, self._x_of(self.cursor)))

    def action_jump(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.record) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and self._lines:
            scroll_x, scroll_y = self.scroll_offset
            self.move_to(self._index_at(offset.y + scroll_y, offset.x + scroll_x))
        self.focus()
