"""Small modal questions: confirm a destructive step, or ask for a name or a path (and
write there: the Playground's Save and Insight's Export)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from charrnn_tui.confine import OutsideRoot, confine


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


def write_to_chosen_path(owner: Widget, question: str, default: Path, action: str,
                         write: Callable[[tuple[Path, ...]], tuple[str, str]],
                         targets: Callable[[Path], tuple[Path, ...]] = lambda p: (p,)) -> None:
    """Ask for a path, then `write` the files `targets` makes of it; `write` returns the
    notice of success (text, title). A path outside the served root, a folder or a file
    that exists is refused while typed; a failed write is said in a notice."""

    def check(value: str) -> str | None:
        try:
            paths = targets(confine(value))
        except OutsideRoot as e:
            return str(e)
        if folder := next((p for p in paths if p.is_dir()), None):
            return f"{folder} is a folder; add a file name"
        taken = [str(p) for p in paths if p.exists()]
        return f"{' and '.join(taken)} exists; choose another name" if taken else None

    def chosen(value: str | None) -> None:
        if not value:
            return
        try:
            paths = targets(confine(value))
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            text, title = write(paths)
        except (OSError, OutsideRoot) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else e
            owner.notify(f"Could not {action.lower()}: {reason}", severity="error")
            return
        owner.notify(text, title=title)

    owner.app.push_screen(PromptScreen(question, str(default), action=action, check=check),
                          chosen)
