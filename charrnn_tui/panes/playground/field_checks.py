"""The Playground's settings boxes checked as typed: good values apply at once, bad ones are
named under their row and block what they affect (fields.py parses each box)."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Input, Static

from charrnn_tui.engine.generation.sampler import SamplingParams
from charrnn_tui.panes.playground import fields

# The settings behind More, how the collapsed line names them, and their "off" values.
MORE_SHOWN = (("stop_at", "stop", ("",)), ("ban", "ban", ("",)), ("bias", "bias", ("",)),
              ("penalty", "repeat×", ("1", "1.0")), ("n", "N", ("4",)), ("beam", "beam", ("0",)))
MORE_WHAT = "stop, ban, bias, repetition, N, beam"
# Rows of typed settings, each with its error line right under it.
ROWS = {"seed-row": ("rng",), "params-row": ("top_k", "top_p", "min_p", "length"),
        "more-row1": ("stop_at", "ban", "bias"),
        "more-row2": ("penalty", "window", "n", "beam")}


class FieldChecks:
    """Mixed into PlaygroundPane: reads its boxes into `params`, keeps `errors` (field id →
    why its text is refused), and calls its `_unmark_preset` and `_update_controls`."""

    params: SamplingParams
    errors: dict[str, str]

    def _check_fields(self) -> None:
        """Read every typed setting: good values apply at once (a running stream follows
        them), bad ones are named under their row and block what they affect."""
        self.errors = {}
        for fid in fields.NAMES:
            box = self.query_one(f"#{fid}", Input)
            try:
                value = fields.parse(fid, box.value)
            except ValueError as e:
                self.errors[fid] = str(e)
            else:
                if fid in fields.PARAM_OF:
                    setattr(self.params, fields.PARAM_OF[fid], value)
            box.set_class(fid in self.errors, "-invalid")
        for row, ids in ROWS.items():
            line = self.query_one(f"#{row}-error", Static)
            messages = [self.errors[f] for f in ids if f in self.errors]
            line.update(Text("; ".join(messages), "bold red"))
            line.display = bool(messages)
        if any(f in self.errors for f in ROWS["more-row1"] + ROWS["more-row2"]):
            self.query_one("#more", Collapsible).collapsed = False  # never hide an error
        self.query_one("#more", Collapsible).title = Content(self._more_title())
        self._unmark_preset()
        self._update_controls()

    def _more_title(self) -> str:
        """The More line names the settings behind it that are on, as typed: a stop string
        or a ban hidden under a collapsed line would end or change text for no visible
        reason."""
        on = [f"{label} {self.query_one(f'#{fid}', Input).value.strip()}"
              for fid, label, off in MORE_SHOWN
              if self.query_one(f"#{fid}", Input).value.strip() not in off]
        return f"More: {' · '.join(on) if on else MORE_WHAT} (ctrl+t)"

    def refused(self, action: str) -> bool:
        """True, saying why and focusing the box, when a bad setting blocks `action`."""
        self._check_fields()  # the boxes as they are now, not as of their last Changed
        bad = [f for f in fields.BLOCKS[action] if f in self.errors]
        if bad:
            self.notify(f"Fix {fields.NAMES[bad[0]]} first: {self.errors[bad[0]]}",
                        severity="warning")
            self.query_one(f"#{bad[0]}", Input).focus()
        return bool(bad)

    def _value(self, fid: str):
        return fields.parse(fid, self.query_one(f"#{fid}", Input).value)
