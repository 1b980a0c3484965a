"""Insight's Export: the coloured text as HTML (hovering shows the values) and as SVG."""

from __future__ import annotations

import time
from pathlib import Path

from charrnn_tui.coloured import export_svg
from charrnn_tui.confine import default_folder
from charrnn_tui.engine.generation.insight import to_html
from charrnn_tui.engine.paths import data_home
from charrnn_tui.panes.insight.text import InsightText
from charrnn_tui.screens.dialogs import write_to_chosen_path


def _targets(path: Path) -> tuple[Path, Path]:
    """The .html and .svg files for a typed path, with or without either suffix."""
    if path.suffix.lower() in (".html", ".htm", ".svg"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".html"), path.with_name(path.name + ".svg")


class Exporting:
    """Mixed into InsightPane: ctrl+s writes the view the cursor is in (`_active`)."""

    home: str | None
    _active: InsightText

    def action_export(self) -> None:
        """Write the view the cursor is in as HTML (hover shows values) and SVG."""
        view = self._active
        if not len(view.record):
            self.notify("Nothing to export yet: generate or colour some text.",
                        severity="warning")
            return
        tr, lens = view.record.trace(), view.shown_lens
        name = view.border_title or "insight"
        title = f"charrnn-tui · {name}"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        label = lens.label.replace(" ", "-").replace(":", "-")
        default = default_folder(data_home(self.home) / "exports") / f"{name}-{label}-{stamp}"

        def write(paths: tuple[Path, ...]) -> tuple[str, str]:
            html, svg = paths
            html.write_text(to_html(tr, title=title, **lens.kwargs()), encoding="utf-8")
            export_svg(tr, svg, title, **lens.kwargs())
            return f"{html}\n{svg}", f"Exported {lens.label}"

        write_to_chosen_path(self, "Export the coloured text as .html and .svg to", default,
                             "Export", write, _targets)
