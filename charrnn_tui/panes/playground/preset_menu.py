"""The Playground's list of saved sampling presets (sampling_presets.py keeps the file):
pick one to fill the settings, or save the current settings under a name."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Input, Select, Switch

from charrnn_tui.engine.generation.sampler import SamplingParams
from charrnn_tui.panes.playground import fields
from charrnn_tui.sampling_presets import PresetError, check_name, load_presets, save_preset
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.widgets.temperature import TemperatureControl

SAVE_PRESET = "save current as…"  # the preset list's last entry: an action


class PresetMenu:
    """Mixed into PlaygroundPane: fills `#sampling-preset` from the file in `home`, and
    reads and sets its `params` through the boxes (and their `_check_fields`)."""

    home: str | None
    params: SamplingParams
    presets: dict[str, SamplingParams]
    errors: dict[str, str]

    def _fill_presets(self, chosen: str | None = None) -> None:
        """The preset list from the file (a bad file or entry is said, not fatal)."""
        try:
            self.presets, skipped = load_presets(self.home)
        except PresetError as e:
            self.presets, skipped = {}, [str(e)]
        for line in skipped:
            self.notify(line, title="Sampling presets", severity="warning")
        select = self.query_one("#sampling-preset", Select)
        with select.prevent(Select.Changed):
            select.set_options([(n, n) for n in self.presets] + [(SAVE_PRESET, SAVE_PRESET)])
            if chosen in self.presets:
                select.value = chosen

    def _unmark_preset(self) -> None:
        """The list names a preset only while the settings are that preset's."""
        select = self.query_one("#sampling-preset", Select)
        name = select.value
        if isinstance(name, str) and self.presets.get(name) != self.params:
            with select.prevent(Select.Changed):
                select.clear()

    def apply_preset(self, params: SamplingParams) -> None:
        """Show `params` in the controls; they apply from there, as if typed."""
        self.query_one(TemperatureControl).value = params.temperature
        self.query_one("#argmax", Switch).value = params.argmax
        self.params.temperature, self.params.argmax = params.temperature, params.argmax
        for fid, text in fields.texts_of(params).items():
            self.query_one(f"#{fid}", Input).value = text
        self._check_fields()

    def _save_preset(self) -> None:
        select = self.query_one("#sampling-preset", Select)
        with select.prevent(Select.Changed):
            select.clear()  # "save…" is an action, not a choice to keep showing
        self._check_fields()
        bad = [f for f in fields.SAMPLING if f in self.errors]
        if bad:
            self.notify(f"Fix {fields.NAMES[bad[0]]} first: {self.errors[bad[0]]}",
                        severity="warning")
            return
        params = replace(self.params, bias=dict(self.params.bias))

        def check(name: str) -> str | None:
            try:
                check_name(name)
            except PresetError as e:
                return str(e)
            return None

        def chosen(name: str | None) -> None:
            if not name:
                return
            try:
                save_preset(self.home, name, params)
            except PresetError as e:
                self.notify(str(e), title="Preset not saved", severity="error")
                return
            self._fill_presets(name)
            self.notify(f"Saved the sampling settings as {name!r}", title="Preset saved")

        self.app.push_screen(PromptScreen("Save the sampling settings as", "", action="Save",
                                          check=check), chosen)
