"""The race, in the app: train 2–4 configurations for the same budget each on the Train
tab's corpus, watch their loss curves and gradient flow overlaid, then a results table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.threads import training_tuner
from charrnn_tui.engine.training.events import Evaluated, Finished, GradientFlow, Notice, Progress
from charrnn_tui.engine.training.race_runner import (
    Lap,
    Race,
    lap_label,
    race_config,
    race_specs,
    train_chars,
)
from charrnn_tui.race_results import COLUMNS, race_name, table_rows
from charrnn_tui.references import corpus_references
from charrnn_tui.widgets.curves import Curve, CurveChart, run_colour
from charrnn_tui.widgets.gradient_chart import GradientChart
from charrnn_tui.workers import EventBatcher, run_in_thread, store_saver

if TYPE_CHECKING:
    from charrnn_tui.engine.models import ModelSpec
    from charrnn_tui.engine.training.events import Event
    from charrnn_tui.engine.training.trainer import Saver

DEFAULTS = {"cells": "rnn,gru,lstm", "impls": "torch", "budget": "60", "hidden": "128"}


@dataclass
class RaceEvents(Message):
    """A batch of one lap's engine events, in order."""

    lap: int
    events: list[Event]


@dataclass
class RaceStarted(Message):
    """The race began: each lap's label, the model name it saves as, and notes to show."""

    labels: list[str]
    names: list[str]
    notes: list[str]


@dataclass
class RaceEnded(Message):
    """The race thread returned the laps it ran, or failed (`error`)."""

    laps: list[Lap]
    names: list[str]
    error: str | None = None


class RaceScreen(Screen):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("f6", "start", "Start race"),
                Binding("f8", "stop", "Stop race")]
    DEFAULT_CSS = """
    #race-settings { height: auto; margin-bottom: 1; }
    #race-settings Input { width: 10; }
    #race-settings #race-cells { width: 16; }
    #race-settings #race-impls { width: 16; }
    #race-settings Label { padding: 0 1; }
    #race-settings Button { margin-left: 1; }
    #race-charts { height: 1fr; }
    #race-loss { width: 3fr; min-height: 8; }
    #race-flow { width: 2fr; min-height: 8; }
    #race-results { height: auto; max-height: 7; }
    #race-status { height: auto; }
    """

    def __init__(self, store: ModelStore, corpus: Corpus | None, source: str | None) -> None:
        super().__init__()
        self.store, self.corpus, self.source = store, corpus, source
        self.race: Race | None = None
        self.labels: list[str] = []
        self.curves: list[tuple[Curve, Curve]] = []  # (train, val) per lap
        self.elapsed: list[float] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="race-settings"):
            for key, title in (("cells", "Cells"), ("impls", "Impls"),
                               ("budget", "Seconds each"), ("hidden", "Hidden")):
                yield Label(title)
                yield Input(DEFAULTS[key], id=f"race-{key}", compact=True)
            yield Button("Start", id="race-start", variant="success", compact=True)
            yield Button("Stop", id="race-stop", variant="error", compact=True, disabled=True)
            yield Button("Close", id="race-close", compact=True)
        yield Static("", id="race-status")
        with Horizontal(id="race-charts"):
            yield CurveChart(xlabel="seconds of training", id="race-loss",
                             empty="each configuration's loss appears here as it trains")
            yield GradientChart(id="race-flow")
        yield DataTable(id="race-results", show_cursor=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column)
        if self.corpus is None:
            self._status("No corpus yet: load one in the Corpus tab (F2), then race here.")
            self.query_one("#race-start", Button).disabled = True
            return
        self._status(f"Race on {self.corpus.name} ({len(self.corpus):,} chars): every "
                     "(implementation, cell) pair trains for the same seconds, one after "
                     "another. F6 starts.")
        self.query_one(CurveChart).set_references(
            corpus_references(self.corpus.data, self.corpus.sha256, self.store))

    def _status(self, text: str | Text) -> None:
        self.query_one("#race-status", Static).update(text if isinstance(text, Text)
                                                      else Text(text))

    def _settings(self) -> tuple[list[str], list[str], float, int]:
        def names(key: str) -> list[str]:
            return [n.strip() for n in self.query_one(f"#race-{key}", Input).value.split(",")
                    if n.strip()]
        try:
            budget = float(self.query_one("#race-budget", Input).value)
            hidden = int(self.query_one("#race-hidden", Input).value)
        except ValueError:
            raise CharRNNError("seconds and hidden size must be numbers") from None
        if not 0 < budget <= 86_400 or not 1 <= hidden <= 8192:
            raise CharRNNError("seconds must be in (0, 86400], hidden in 1..8192")
        return names("cells"), names("impls"), budget, hidden

    def action_start(self) -> None:
        if self.race is not None or self.corpus is None:
            return
        try:
            cells, impls, budget, hidden = self._settings()
            specs, notes = race_specs(cells, impls, self.corpus.chars, hidden=hidden)
            config = race_config(budget, train_chars(self.corpus.data))
        except CharRNNError as e:
            self._status(Text(f"✗ {e}", "red"))
            return
        taken: set[str] = set()
        names = []
        for spec in specs:
            names.append(race_name(self.store, self.corpus.name, spec, taken))
            taken.add(names[-1])
        self.race = Race(self.corpus.data, self.corpus.info(self.source or self.corpus.name),
                         specs, config)
        self.labels = [lap_label(s) for s in specs]
        self.curves = [(Curve(f"{lbl} train", colour=run_colour(i, bright=False)),
                        Curve(f"{lbl} val", colour=run_colour(i))) for i, lbl in
                       enumerate(self.labels)]
        self.elapsed = [0.0] * len(specs)
        self.query_one(GradientChart).clear()
        self.query_one(DataTable).clear()
        self._redraw_loss()
        self.query_one("#race-start", Button).disabled = True
        self.query_one("#race-stop", Button).disabled = False
        self.post_message(RaceStarted(self.labels, names, notes))
        self._run(self.race, names)

    def action_stop(self) -> None:
        if self.race is not None:
            self.race.stop()
            self._status("stopping: this lap evaluates and saves, the rest are skipped…")

    def action_close(self) -> None:
        if self.race is not None:
            self.notify("the race was stopped; the running lap saves its model", title="Race")
        self.app.pop_screen()  # on_unmount stops a running race

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"race-start": self.action_start, "race-stop": self.action_stop,
         "race-close": self.action_close}[event.button.id]()

    def _run(self, race: Race, names: list[str]) -> None:
        """Run the race on a thread: each lap claims its name, trains, saves, releases it."""
        batchers: dict[int, EventBatcher] = {}

        def on_event(i: int, event: Event) -> None:
            if i not in batchers:
                batchers[i] = EventBatcher(lambda evs, i=i: self.post_message(RaceEvents(i, evs)))
            batchers[i](event)
            if isinstance(event, Finished):
                batchers[i].flush()

        def saver_for(i: int, spec: ModelSpec) -> Saver:
            self.store.create(names[i])
            return store_saver(self.store, names[i])

        def job() -> list[Lap]:
            try:
                return race.run(on_event, saver_for, training_tuner)
            finally:
                for name in names:
                    self.store.release(name)

        run_in_thread(self, job, lambda laps: RaceEnded(laps, names),
                      lambda error: RaceEnded([], names, error), group="race")

    def on_race_started(self, event: RaceStarted) -> None:
        for note in event.notes:
            self.notify(note, title="Race", severity="warning")
        self._status(f"racing {', '.join(event.labels)}: {len(event.labels)} laps of "
                     f"{self.race.config.time_budget:g} s; saving as "
                     f"{', '.join(event.names)}")

    def on_race_events(self, event: RaceEvents) -> None:
        i = event.lap
        train, val = self.curves[i]
        for e in event.events:
            if isinstance(e, Progress):
                self.elapsed[i] = e.elapsed
                train.points.append((e.elapsed, e.train_loss))
                self._status(f"lap {i + 1} of {len(self.labels)}: {self.labels[i]}  step "
                             f"{e.step:,}  loss {e.train_loss:.3f}  "
                             f"{e.chars_per_s:,.0f} chars/s  {e.elapsed:.0f}/"
                             f"{self.race.config.time_budget:g} s" if self.race else "")
            elif isinstance(e, Evaluated):
                val.points.append((self.elapsed[i], e.val_loss))
            elif isinstance(e, GradientFlow):
                self.query_one(GradientChart).show(self.labels[i], e.step, e.norms, i)
            elif isinstance(e, Notice):
                self.notify(e.message, title=f"Race: {self.labels[i]}",
                            severity={"warning": "warning", "error": "error"}.get(
                                e.level, "information"))
        self._redraw_loss()

    def _redraw_loss(self) -> None:
        self.query_one(CurveChart).set_curves([c for pair in self.curves for c in pair])

    def on_race_ended(self, event: RaceEnded) -> None:
        self.race = None
        self.query_one("#race-start", Button).disabled = self.corpus is None
        self.query_one("#race-stop", Button).disabled = True
        table = self.query_one(DataTable)
        table.clear()
        for row in table_rows(event.laps, event.names):
            table.add_row(*(Text(cell) for cell in row))
        if event.error:
            self._status(Text(f"✗ the race stopped: {event.error}", "red"))
        else:
            self._status(f"done: {len(event.laps)} of {len(self.labels)} laps, each saved as "
                         "a model (Models tab, F5; c there compares them)")

    def on_unmount(self) -> None:
        if self.race is not None:  # closing the app: stop here; the lap still saves
            self.race.stop()
