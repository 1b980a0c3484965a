"""The keys of a pane with a seed box and a text view (the Playground, Insight): / jumps to
the seed box from every other field, and Escape leaves a field for the text."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.widgets import Input

FOCUS_SEED = Binding("slash", "focus_seed", "Seed", key_display="/", show=False, priority=True,
                     tooltip="Go to the seed box (in the seed box itself, / is a slash)")


class SeedKeys:
    """Mixed into such a pane, whose BINDINGS hold FOCUS_SEED; the selectors name its boxes."""

    SEED_BOX: ClassVar[str]
    TEXT_VIEW: ClassVar[str]

    def action_focus_seed(self) -> None:
        self.query_one(self.SEED_BOX, Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """/ jumps to the seed box from every other field (it never types there); in the
        seed box it is a slash."""
        return action != "focus_seed" or self.app.focused is not self.query_one(self.SEED_BOX)

    def leave_field(self) -> None:
        """Escape: from a field to the text, where the pane's keys all work."""
        self.query_one(self.TEXT_VIEW).focus()
