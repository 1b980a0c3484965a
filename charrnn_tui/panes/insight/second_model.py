"""Insight's second model: a saved model to compare with, which reads or writes the same
text beside the first."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import Select

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.messages import ModelLoadFailed
from charrnn_tui.panes.insight.text import InsightText
from charrnn_tui.panes.insight.trace import Lens
from charrnn_tui.workers import run_in_thread


@dataclass
class OtherModelLoaded(Message):
    """The model to compare with was read."""

    name: str
    ckpt: Checkpoint


class SecondModel:
    """Mixed into InsightPane: offers the `store`'s models in `#ins-compare` and shows the
    one read in `other_view`, under the pane's `lens`."""

    store: ModelStore
    other: tuple[str, Checkpoint] | None
    other_view: InsightText
    lens: Lens

    def refresh_models(self) -> None:
        """Offer the saved models to compare with (the list may have changed elsewhere)."""
        select = self.query_one("#ins-compare", Select)
        keep = select.value
        names = [i.name for i in self.store.list() if not i.error]
        with self.prevent(Select.Changed):
            select.set_options((n, n) for n in names)
            if keep in names:
                select.value = keep

    def _load_other(self, name: str) -> None:
        run_in_thread(self, lambda: self.store.load(name),
                      lambda ckpt: OtherModelLoaded(name, ckpt),
                      lambda error: ModelLoadFailed(name, error), group="insight-compare")

    def on_other_model_loaded(self, event: OtherModelLoaded) -> None:
        """Show it, unless another was chosen meanwhile (a thread cannot be cancelled)."""
        if self.query_one("#ins-compare", Select).value != event.name:
            return
        name, ckpt = event.name, event.ckpt
        self.other = (name, ckpt)
        view = self.other_view
        view.reset(ckpt.spec)
        view.set_lens(self.lens)
        view.border_title = name
        view.display = True
        self._status(f"Comparing with {name}: F6 generates from both with one random seed, "
                     "F7 colours the same text.")
        self._update_controls()

    def on_model_load_failed(self, event: ModelLoadFailed) -> None:
        event.stop()
        self.notify(f"Could not load {event.name}: {event.error}", severity="error")

