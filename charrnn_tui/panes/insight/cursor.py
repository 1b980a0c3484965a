"""What the side panel says about the character under the cursor, and the colour legend."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from charrnn_tui.engine.generation.insight import Trace, colours, top_candidates
from charrnn_tui.panes.insight.trace import Lens, TraceLog
from charrnn_tui.widgets.format import show_char

BAR = 8  # cells for a probability of 1


def cursor_info(record: TraceLog, index: int, lens: Lens) -> Text:
    """All about the character at `index`: the model's confidence in it, the unit's value
    there, and the model's top-5 guesses for that place, this character marked among them.
    (Everything describes one character: the guesses are the ones it was scored against.)"""
    if index < 0 or index >= len(record):
        return Text("Each character is coloured by how sure the model was of it "
                    "(confidence) or by one unit's activation (neuron). Pick a character "
                    "with ← → ↑ ↓ or a click to see what the model expected there.",
                    style="dim")
    step = record.steps[index]
    out = Text.assemble((f" {show_char(step.char)} ", "bold reverse"),
                        (f"  {index + 1:,} of {len(record):,}", "dim"), "\n")
    out.append("confidence ", "dim")
    out.append("–" if math.isnan(step.prob) else f"{step.prob:.3f}")
    if lens.view == "neuron":
        value = float(step.acts[lens.kind][lens.layer, lens.unit])
        out.append(f"\n{lens.label} ", "dim")
        out.append(f"{value:+.3f}")
    if index == 0:  # the start of the text, or of what the log still keeps
        out.append("\nnothing came before it to guess from" if math.isnan(step.prob)
                   else "\nthe guesses before it have scrolled out of the log", "dim")
        return out
    out.append("\nexpected here (◀ this one):\n", "dim")
    top = top_candidates(record.steps[index - 1].next_probs, record.vocab)
    if step.char not in {c for c, _ in top}:
        top.append((step.char, step.prob))
    for char, p in top:
        this = char == step.char
        out.append(f" {show_char(char):>3} {p:6.1%} ", "bold" if this else "")
        out.append("█" * round(p * BAR), "dim")
        out.append(" ◀\n" if this else "\n")
    return out


def legend(lens: Lens) -> Text:
    """The colour scale of the lens, drawn with the engine's own palette."""
    values = np.linspace(0, 1, 9) if lens.view == "confidence" else np.linspace(-1, 1, 9)
    scale = Trace(" " * len(values), [], values, np.zeros((len(values), 0)),
                  {"hidden": values[:, None, None]})
    ends = ("surprised", "confident") if lens.view == "confidence" else ("−1", "+1")
    out = Text(f"{ends[0]} ", style="dim")
    for bg in colours(scale, lens.view, "hidden", 0, 0):
        out.append(" ", Style(bgcolor=bg))
    out.append(f" {ends[1]}", style="dim")
    return out
