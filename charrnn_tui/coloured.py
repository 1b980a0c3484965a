"""Rich renderings of an insight trace: text with a background colour per character."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.style import Style
from rich.text import Text

from charrnn_tui.engine.generation.insight import Trace, colours


def coloured_text(tr: Trace, view: str = "confidence", kind: str = "hidden", layer: int = 0,
                  unit: int = 0) -> Text:
    text = Text()
    for c, bg in zip(tr.text, colours(tr, view, kind, layer, unit), strict=True):
        text.append(c, Style(color="black", bgcolor=bg))
    return text


def export_svg(tr: Trace, path: Path, title: str, **view) -> None:
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(coloured_text(tr, **view))
    path.write_text(console.export_svg(title=title), encoding="utf-8")
