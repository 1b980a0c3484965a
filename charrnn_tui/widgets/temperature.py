"""A focusable temperature gauge: Textual has no slider, and a number input is too slow to
play. A number can be typed on it too (digits, then Enter), validated like every field."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from charrnn_tui.engine.generation.sampler import MAX_TEMPERATURE, MIN_TEMPERATURE

STEP = 0.05
_LABEL = "Temperature "


def clamp(value: float) -> float:
    return round(min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, value)), 2)


class TemperatureControl(Widget, can_focus=True):
    """Shows the value and a bar; keys, clicks on the bar and the mouse wheel change it."""

    BINDINGS = [
        Binding("left,left_square_bracket,minus", "nudge(-1)", "Cooler", show=False),
        Binding("right,right_square_bracket,plus", "nudge(1)", "Hotter", show=False),
        Binding("home", "set(0.05)", "Most predictable", show=False),
        Binding("end", "set(2.0)", "Wildest", show=False),
    ]
    COMPONENT_CLASSES = {"temperature--fill", "temperature--empty", "temperature--value",
                         "temperature--error"}
    DEFAULT_CSS = """
    TemperatureControl {
        height: 1;
        width: 1fr;
        min-width: 30;
        & > .temperature--fill { color: $accent; }
        & > .temperature--empty { color: $foreground 30%; }
        & > .temperature--value { text-style: bold; }
        &:focus > .temperature--value { color: $accent; }
        & > .temperature--error { color: $text-error; text-style: bold; }
    }
    """

    value: reactive[float] = reactive(0.8)
    typed: reactive[str | None] = reactive(None)  # a number being typed, until Enter
    error: reactive[str] = reactive("")  # why the typed number was refused

    @dataclass
    class Changed(Message):
        """The temperature was set to `value`."""

        temperature: TemperatureControl
        value: float

        @property
        def control(self) -> TemperatureControl:
            return self.temperature

    def __init__(self, value: float = 0.8, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(TemperatureControl.value, clamp(value))
        self.tooltip = ("[ ] or ← → to change, or type a number and Enter; "
                        "click the bar or scroll")

    def validate_value(self, value: float) -> float:
        return clamp(value)

    def watch_value(self, value: float) -> None:
        self.post_message(self.Changed(self, value))

    def action_nudge(self, direction: int) -> None:
        self.typed, self.error = None, ""
        self.value = self.value + direction * STEP

    def action_set(self, value: float) -> None:
        self.value = value

    def on_key(self, event: events.Key) -> None:
        """Digits and '.' start typing a value; Enter (or leaving) applies it, Escape drops
        it, Backspace takes back a character."""
        if event.character and (event.character.isdigit() or event.character == "."):
            self.typed = (self.typed or "") + event.character
        elif self.typed is None:
            return
        elif event.key == "backspace":
            self.typed = self.typed[:-1]
        elif event.key == "enter":
            self._apply_typed()
        elif event.key == "escape":
            self.typed, self.error = None, ""
        else:
            return
        event.stop()
        event.prevent_default()

    def on_blur(self) -> None:
        if self.typed is not None:
            self._apply_typed()

    def _apply_typed(self) -> None:
        """The typed number becomes the value; a bad one stays, with the reason beside it."""
        text = self.typed or ""
        try:
            value = float(text)
        except ValueError:
            self.error = f"temperature must be a number, not {text!r}"
            return
        if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
            self.error = (f"temperature must be between {MIN_TEMPERATURE:.2f} and "
                          f"{MAX_TEMPERATURE:.2f}, not {text}")
            return
        self.typed, self.error = None, ""
        self.value = value

    def _bar_span(self) -> tuple[int, int]:
        """Start column and width of the bar inside the widget."""
        start = len(_LABEL) + 6  # "2.00 ◀"
        return start, max(4, self.size.width - start - 1)

    def render(self) -> Text:
        start, width = self._bar_span()
        fraction = (self.value - MIN_TEMPERATURE) / (MAX_TEMPERATURE - MIN_TEMPERATURE)
        filled = round(fraction * width)
        text = Text(_LABEL)
        if self.typed is not None:
            text.append(f"{self.typed}▏".ljust(5), self.get_component_rich_style(
                "temperature--value") + Style(reverse=True))
            if self.error:
                text.append(f" {self.error}", self.get_component_rich_style("temperature--error"))
            else:
                text.append(" Enter applies, Escape drops", "dim")
            return text
        text.append(f"{self.value:.2f}", self.get_component_rich_style("temperature--value"))
        text.append(" ◀")
        text.append("━" * filled, self.get_component_rich_style("temperature--fill"))
        text.append("─" * (width - filled), self.get_component_rich_style("temperature--empty"))
        text.append("▶")
        return text

    def on_click(self, event: events.Click) -> None:
        start, width = self._bar_span()
        x = event.x
        if x == start - 1:
            self.action_nudge(-1)
        elif x >= start + width:
            self.action_nudge(1)
        elif x >= start:
            fraction = (x - start) / max(1, width - 1)
            raw = MIN_TEMPERATURE + fraction * (MAX_TEMPERATURE - MIN_TEMPERATURE)
            self.value = round(raw / STEP) * STEP
        self.focus()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_nudge(1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_nudge(-1)
