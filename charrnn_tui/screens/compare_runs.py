"""Compare runs: overlay saved models' training and validation curves in one chart."""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Button, Footer, Select, SelectionList, Static

from charrnn_tui.curve_data import overlay, run_colour
from charrnn_tui.engine.analysis.run_curves import AXES, RunCurves, run_curves
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.storage.modelfile import read_meta
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.references import References, recorded_references
from charrnn_tui.widgets.curves import CurveChart
from charrnn_tui.workers import run_in_thread

SHOW = (("validation and training", "both"), ("validation", "val"), ("training", "train"))


@dataclass
class ReferencesRead(Message):
    """The reference lines for runs on the corpus with this hash, or why there are none."""

    sha256: str
    lines: References
    why: str | None


def summary(runs: list[RunCurves]) -> Text:
    """Each run's last validation loss, steps and rate, one line each."""
    text = Text()
    for i, run in enumerate(runs):
        val = "–" if run.last_val is None else f"{run.last_val:.3f} nats"
        rate = run.chars_per_step / run.seconds_per_step if run.seconds_per_step else 0
        text.append("■ ", run_colour(i).rstrip("+"))
        text.append(f"{run.legend}  val {val}  {run.steps:,} steps  {rate:,.0f} chars/s\n")
    return text


class RunList(SelectionList[str]):
    """A SelectionList whose boxes differ without colour: X when checked, blank when not
    (Textual draws an X in both and tells them apart by colour alone)."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        index = self.scroll_offset.y + y
        if index >= self.option_count or self.get_option_at_index(index).value in self._selected:
            return line
        segments = list(line)
        if len(segments) > 1:
            segments[1] = Segment(" " * len(segments[1].text), segments[1].style)
        return Strip(segments)


class CompareRunsScreen(Screen):
    """Pick two or more models; the chart follows the selection, the axis and what to show."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    #compare-side { width: 34; padding: 0 1; }
    #compare-runs { height: 1fr; }
    #compare-side Select { margin-top: 1; }
    #compare-chart { height: 1fr; min-height: 8; }
    #compare-summary { height: auto; max-height: 8; }
    """

    def __init__(self, store: ModelStore, selected: list[str] = (), home: str | None = None):
        super().__init__()
        self.store, self.home = store, home
        self.initial = set(selected)
        self.runs: dict[str, RunCurves] = {}
        self.corpora: dict[str, dict] = {}
        self._references: dict[str, References] = {}  # by corpus sha256

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-body"):
            with Vertical(id="compare-side"):
                yield Static("Runs to overlay", classes="compare-heading")
                yield RunList(id="compare-runs")
                yield Select([(label, key) for key, label in AXES.items()], value="step",
                             allow_blank=False, id="compare-axis")
                yield Select(SHOW, value="both", allow_blank=False, id="compare-show")
                yield Button("Close", id="compare-close", compact=True)
            with Vertical(id="compare-main"):
                yield CurveChart(empty="pick two or more saved models on the left",
                                 id="compare-chart")
                yield Static("", id="compare-summary")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one(SelectionList)
        for name in self.store.names():
            try:
                meta = read_meta(self.store.resolve(name))
            except (CharRNNError, OSError):
                continue  # an unreadable file is listed as such in the Models tab
            self.runs[name] = run_curves(name, meta)
            self.corpora[name] = meta.get("corpus", {})
            runs.add_option((name, name, name in self.initial))
        runs.focus()
        self._redraw()

    def selected(self) -> list[RunCurves]:
        return [self.runs[n] for n in self.query_one(SelectionList).selected]

    @on(SelectionList.SelectedChanged)
    @on(Select.Changed)
    def _redraw(self) -> None:
        runs = self.selected()
        axis = self.query_one("#compare-axis", Select).value
        show = self.query_one("#compare-show", Select).value
        chart = self.query_one(CurveChart)
        chart.set_axis(AXES[axis])
        chart.set_curves(overlay(runs, axis, show))
        self.query_one("#compare-summary", Static).update(summary(runs))
        shas = {r.corpus_sha256 for r in runs}
        if len(shas) == 1 and (sha := shas.pop()):
            if sha in self._references:
                chart.set_references(self._references[sha])
            else:
                chart.set_references([])
                self._load_references(sha, self.corpora[runs[0].name])
        else:  # runs on different corpora: no line is a reference for all of them
            chart.set_references([])

    def _load_references(self, sha: str, corpus_info: dict) -> None:
        run_in_thread(self, lambda: recorded_references(corpus_info, self.store, self.home),
                      lambda found: ReferencesRead(sha, *found),
                      lambda error: ReferencesRead(sha, [], f"no reference lines: {error}"),
                      group="compare")

    def on_references_read(self, event: ReferencesRead) -> None:
        self._references[event.sha256] = event.lines
        if event.why:
            self.notify(event.why, title="Compare", severity="warning")
        self._redraw()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "compare-close":
            event.stop()
            self.app.pop_screen()
