"""Insight's lens controls: what the views colour by (confidence, or one unit's activation)
kept in step with the view, kind, layer and unit boxes."""

from __future__ import annotations

from textual.widgets import Input, Select, Static

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.panes.insight.cells import InsightCells
from charrnn_tui.panes.insight.cursor import legend
from charrnn_tui.panes.insight.trace import Lens


class LensControls:
    """Mixed into InsightPane: sets its `lens` on every view it shows (`_views()`)."""

    ckpt: Checkpoint | None
    lens: Lens

    def set_lens(self, lens: Lens) -> None:
        """Show `lens` in the controls and the views."""
        with self.prevent(Select.Changed, Input.Changed):
            self.query_one("#ins-view", Select).value = lens.view
            self.query_one("#ins-kind", Select).value = lens.kind
            self.query_one("#ins-layer", Input).value = str(lens.layer)
            self.query_one("#ins-unit", Input).value = str(lens.unit)
        self._apply_lens(lens)

    def lens_restored(self) -> None:
        """The controls were set from last session without their Changed messages: the
        lens follows them (the model, once loaded, keeps it if it fits)."""
        try:
            layer = int(self.query_one("#ins-layer", Input).value)
            unit = int(self.query_one("#ins-unit", Input).value)
        except ValueError:
            return
        self._apply_lens(Lens(str(self.query_one("#ins-view", Select).value),
                              str(self.query_one("#ins-kind", Select).value), layer, unit))

    def _apply_lens(self, lens: Lens) -> None:
        self.lens = lens
        for view in self._views():
            view.set_lens(lens)
        self.query_one("#ins-legend", Static).update(legend(lens))

    def action_toggle_view(self) -> None:
        view = "neuron" if self.lens.view == "confidence" else "confidence"
        self.set_lens(Lens(view, self.lens.kind, self.lens.layer, self.lens.unit))

    def action_unit(self, delta: int) -> None:
        hidden = self.ckpt.spec.hidden if self.ckpt else 1
        unit = (self.lens.unit + delta) % hidden
        self.set_lens(Lens("neuron", self.lens.kind, self.lens.layer, unit))

    def on_insight_cells_unit_chosen(self, event: InsightCells.UnitChosen) -> None:
        s = event.score
        self.set_lens(Lens("neuron", s.kind, s.layer, s.unit))

