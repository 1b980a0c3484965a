"""A path Input with shell-like completion: the suggestion shows greyed, Tab or → takes it."""

from __future__ import annotations

import os

from textual.binding import Binding
from textual.suggester import Suggester
from textual.widgets import Input

from charrnn_tui.confine import OutsideRoot, confine


class PathSuggester(Suggester):
    """Suggests entries of the typed folder; folders get a trailing slash to keep going.
    When served, only inside the served folder."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        folder, sep, stem = value.rpartition("/")
        prefix = folder + sep
        try:
            base = confine(prefix or ".")
            names = sorted(e.name for e in os.scandir(base) if e.name.startswith(stem)
                           and (stem.startswith(".") or not e.name.startswith(".")))
        except (OSError, OutsideRoot):
            return None
        for name in names:
            if name != stem:
                return prefix + name + ("/" if (base / name).is_dir() else "")
        return None


class PathInput(Input):
    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(suggester=PathSuggester(), **kwargs)

    def action_complete(self) -> None:
        """Take the suggestion if there is one; otherwise Tab moves focus as usual."""
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
