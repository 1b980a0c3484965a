"""Small modal questions: confirm a destructive step, or ask for a name or a path."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; Escape means no. Dismisses with True only on the confirm button or y."""

    BINDINGS = [Binding("escape,n", "dismiss(False)", "Cancel"),
                Binding("y", "dismiss(True)", "Confirm")]

    def __init__(self, question: str, confirm: str = "OK", *, danger: bool = True) -> None:
        super().__init__()
        self.question = question
        self.confirm = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm, id="confirm",
                             variant="error" if self.danger else "primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")


class PromptScreen(ModalScreen[str | None]):
    """Asks for one line of text; `check` returns an error to show, or None to accept."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = "", *, action: str = "OK",
                 check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.action_label = action
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-question", markup=False)
            yield Input(self.value, id="prompt-input", select_on_focus=True)
            yield Static("", id="prompt-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.action_label, id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._accept()
        else:
            self.dismiss(None)

    def _accept(self) -> None:
        value = self.query_one("#prompt-input", Input).value.strip()
        error = "a value is needed" if not value else (self.check(value) if self.check else None)
        if error:
            self.query_one("#prompt-error", Static).update(Text(error))
            return
        self.dismiss(value)
