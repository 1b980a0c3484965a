"""Short human-readable renderings of numbers, durations and characters for the panes."""

from __future__ import annotations

import unicodedata

from charrnn_tui.engine.analysis.entropy import LN2

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def show_char(c: str) -> str:
    """A character as one can see it on screen: blanks and controls get a symbol or escape."""
    if c in _VISIBLE:
        return _VISIBLE[c]
    if unicodedata.category(c)[0] in "CZ":
        return repr(c)[1:-1]
    return c


def count(n: float) -> str:
    """1234 → 1.2k, 1234567 → 1.2M."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss past an hour; '–' when unknown."""
    if seconds is None:
        return "–"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# The app's one unit of loss: nats per character, as the chart, the CLI and model files
# have it (bits per character only where there is room for detail: a tooltip, a detail line).
LOSS_UNIT = "nats"


def loss_text(loss: float | None) -> str:
    return "–" if loss is None else f"{loss:.3f} {LOSS_UNIT}"


def bits_text(loss: float) -> str:
    """The same loss in bits per character, for detail."""
    return f"{loss / LN2:.2f} bits per character"
