"""Insight: see inside the network, as in Karpathy's "Unreasonable Effectiveness of RNNs".

Text is coloured by the model's confidence in each character, or by one unit's
activation; a regex finds the units that track a pattern; a second model can read or
write the same text alongside. The model is the Playground's, copied per thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.validation import Integer, Number
from textual.widgets import Button, Input, Label, Select, Static

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.generation.insight import Trace
from charrnn_tui.engine.generation.sampler import SamplingParams, unknown_chars
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.messages import StreamEnded
from charrnn_tui.panes.insight.cells import InsightCells
from charrnn_tui.panes.insight.cursor import cursor_info, legend
from charrnn_tui.panes.insight.export import Exporting
from charrnn_tui.panes.insight.find_cells import CellFinding
from charrnn_tui.panes.insight.lens_controls import LensControls
from charrnn_tui.panes.insight.second_model import SecondModel
from charrnn_tui.panes.insight.text import InsightText
from charrnn_tui.panes.insight.trace import MAX_CHARS, Lens, unit_kinds
from charrnn_tui.panes.insight.work import Tracer, run_stream
from charrnn_tui.streaming import Stream, StreamRunner
from charrnn_tui.widgets.format import show_char
from charrnn_tui.widgets.seed_keys import FOCUS_SEED, SeedKeys

DRAIN_HZ = 25
PER_TICK = 8  # generated characters shown per tick: 200 a second, fast but watchable
DEFAULT_LENGTH = 500
VIEWS = (("confidence", "confidence"), ("neuron", "neuron"))
EMPTY = ("Type a seed above: F6 generates from it, F7 colours the seed text itself "
         "(paste a text there to see how the model reads it).")

CorpusSource = Callable[[dict], "str | None"]


class SeedInput(Input):
    """A one-line box that keeps the line breaks of pasted text, written as \\n."""

    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()
        event.stop()
        if event.text:
            text = event.text.replace("\r\n", "\n").replace("\n", "\\n")
            if self.selection.is_empty:
                self.insert_text_at_cursor(text)
            else:
                self.replace(text, *self.selection)


class InsightPane(SecondModel, LensControls, CellFinding, Exporting, SeedKeys, Vertical):
    """One stream (two when comparing) of traced characters, a 25 Hz timer shows them.

    Its other jobs live in modules of their own, mixed in: the model to compare with
    (second_model.py), the lens (lens_controls.py), Find cells (find_cells.py) and Export
    (export.py).
    """

    SEED_BOX, TEXT_VIEW = "#ins-seed", "#ins-text"
    BINDINGS = [
        Binding("f6", "generate", "Generate", tooltip="Generate from the seed, coloured"),
        Binding("f7", "colour", "Colour text",
                tooltip="Colour the seed box's own text, without generating"),
        Binding("f8", "stop", "Stop", tooltip="Stop generating"),
        Binding("v", "toggle_view", "View",
                tooltip="Switch between the confidence and the neuron view"),
        Binding("left_square_bracket", "unit(-1)", "Unit −", key_display="[", show=False,
                tooltip="Previous unit (neuron view)"),
        Binding("right_square_bracket", "unit(1)", "Unit +", key_display="]", show=False,
                tooltip="Next unit (neuron view)"),
        Binding("ctrl+f", "find", "Find cells", show=False,
                tooltip="Type a regular expression to find the units that track it"),
        Binding("ctrl+s", "export", "Export", tooltip="Export the coloured text as HTML and SVG"),
        FOCUS_SEED,
    ]

    def __init__(self, home: str | None, store: ModelStore, corpus_source: CorpusSource, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.home = home
        self.store = store
        self.corpus_source = corpus_source  # where a model's corpus can be read again
        self.model_name: str | None = None
        self.ckpt: Checkpoint | None = None
        self.other: tuple[str, Checkpoint] | None = None  # the model to compare with
        self.params = SamplingParams()
        self.lens = Lens()
        self.rng_seed: int | None = None  # of the last stream, to show and reproduce
        self._per_tick: int | None = PER_TICK
        self.stream = StreamRunner(self, "insight")
        self._corpus_trace: tuple[Checkpoint, str, Trace] | None = None
        self.text_view = InsightText(EMPTY, id="ins-text")
        self.other_view = InsightText("", id="ins-other")
        self._active = self.text_view  # the view the side panel describes and Export writes

    def compose(self) -> ComposeResult:
        yield Static("No model yet: train one (F3) or load one from Models (F5).",
                     id="ins-model")
        with Horizontal(id="ins-seed-row"):
            yield SeedInput(placeholder="seed, or a text to colour (\\n for a new line)",
                            id="ins-seed", compact=True)
            yield Button("Generate", id="ins-generate", variant="primary", compact=True)
            yield Button("Colour", id="ins-colour", compact=True,
                         tooltip="Colour the seed text itself (F7)")
            yield Button("Stop", id="ins-stop", variant="error", compact=True)
        with Horizontal(id="ins-view-row"):
            yield Label("view", classes="inline-label")
            yield Select(VIEWS, value="confidence", allow_blank=False, id="ins-view",
                         compact=True)
            yield Label("kind", classes="inline-label")
            yield Select((("hidden", "hidden"),), allow_blank=False, id="ins-kind",
                         compact=True)
            yield Label("layer", classes="inline-label")
            yield Input("0", id="ins-layer", validators=[Integer(0, 0)], compact=True)
            yield Label("unit", classes="inline-label")
            yield Input("0", id="ins-unit", validators=[Integer(0, 0)], compact=True)
        with Horizontal(id="ins-sample-row"):
            yield Label("temp", classes="inline-label")
            yield Input("0.8", id="ins-temp", validators=[Number(0.05, 2.0)], compact=True)
            yield Label("length", classes="inline-label")
            yield Input(str(DEFAULT_LENGTH), id="ins-length",
                        validators=[Integer(1, 1_000_000)], compact=True)
            yield Label("rng", classes="inline-label")
            yield Input("", placeholder="random", id="ins-rng",
                        validators=[Integer(0, 2**32 - 1)], valid_empty=True, compact=True,
                        tooltip="Random seed: the same seed gives the same text")
            yield Label("vs", classes="inline-label")
            yield Select((), prompt="compare with…", id="ins-compare", compact=True,
                         tooltip="A second saved model: it reads or writes the same text")
        with Horizontal(id="ins-main"):
            with Horizontal(id="ins-views"):
                yield self.text_view
                yield self.other_view
            with VerticalScroll(id="ins-side"):
                yield Static("", id="ins-cursor")
                yield InsightCells(id="ins-cells")
                yield Button("Export…", id="ins-export", compact=True,
                             tooltip="Write the coloured text as HTML and SVG (ctrl+s)")
        with Horizontal(id="ins-bottom"):
            yield Static("", id="ins-status")
            yield Static("", id="ins-legend")

    def on_mount(self) -> None:
        self.other_view.display = False
        self._drain_timer = self.set_interval(1 / DRAIN_HZ, self._drain, pause=True)
        self._show_cursor(self._active)
        self.query_one("#ins-legend", Static).update(legend(self.lens))
        self._update_controls()

    def focus_default(self) -> None:
        self.query_one("#ins-seed").focus()

    def _views(self) -> list[InsightText]:
        return [self.text_view, self.other_view] if self.other else [self.text_view]

    # --- the models ----------------------------------------------------------------------
    async def set_model(self, name: str, ckpt: Checkpoint) -> None:
        """Look into `ckpt` from now on (the Playground's model; each thread copies it)."""
        await self._halt()
        self.ckpt = ckpt
        self._corpus_trace = None
        spec = ckpt.spec
        with self.prevent(Select.Changed, Input.Changed):
            self.query_one("#ins-kind", Select).set_options((k, k) for k in unit_kinds(spec))
            self.query_one("#ins-layer", Input).validators = [Integer(0, spec.layers - 1)]
            self.query_one("#ins-unit", Input).validators = [Integer(0, spec.hidden - 1)]
        self.text_view.reset(spec)
        if self.other:
            self.other_view.reset(self.other[1].spec)
        self.set_lens(self.lens if self.lens.fits(spec) else Lens())  # the controls were reset
        self.query_one(InsightCells).clear()
        self.rename(name)
        self._update_controls()

    def rename(self, name: str) -> None:
        self.model_name = name
        spec = self.ckpt.spec
        kinds = " or ".join(unit_kinds(spec))
        self.query_one("#ins-model", Static).update(Text.assemble(
            ("Model ", "dim"), (name, "bold"), "  ", spec.describe(),
            (f"  units: {kinds}, layer 0–{spec.layers - 1}, unit 0–{spec.hidden - 1}", "dim")))
        self.text_view.border_title = name

    @on(Select.Changed, "#ins-compare")
    async def _compare_changed(self, event: Select.Changed) -> None:
        await self._halt()
        if not isinstance(event.value, str):
            self.other = None
            self.other_view.display = False
            self._active = self.text_view
            self._update_controls()
            return
        self._load_other(event.value)

    # --- what is shown: the lens -----------------------------------------------------------
    @on(Select.Changed, "#ins-view, #ins-kind")
    @on(Input.Changed, "#ins-layer, #ins-unit")
    def _lens_controls_changed(self, event: Select.Changed | Input.Changed) -> None:
        event.stop()
        layer, unit = self.query_one("#ins-layer", Input), self.query_one("#ins-unit", Input)
        if not (layer.is_valid and unit.is_valid):
            return
        self._apply_lens(Lens(str(self.query_one("#ins-view", Select).value),
                              str(self.query_one("#ins-kind", Select).value),
                              int(layer.value), int(unit.value)))

    # --- the side panel --------------------------------------------------------------------
    def on_insight_text_cursor_moved(self, event: InsightText.CursorMoved) -> None:
        if event.by_user:
            self._active = event.view
        if event.view is self._active:
            self._show_cursor(event.view)

    def _show_cursor(self, view: InsightText) -> None:
        self.query_one("#ins-cursor", Static).update(
            cursor_info(view.record, view.cursor, view.shown_lens))

    # --- generating and colouring ------------------------------------------------------------
    @on(Input.Submitted, "#ins-seed")
    async def _seed_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_generate()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"ins-generate": self.action_generate, "ins-colour": self.action_colour,
                   "ins-stop": self.action_stop}
        if event.button.id in actions:
            event.stop()
            await actions[event.button.id]()
        elif event.button.id == "ins-export":
            event.stop()
            self.action_export()

    async def action_generate(self) -> None:
        """Read the seed, then sample from it, every character coloured as it arrives."""
        await self._start(self._seed(), self._length())

    async def action_colour(self) -> None:
        """Colour the seed box's text as the model reads it, without generating."""
        await self.colour_text(self._seed(), "the seed box")

    async def colour_text(self, text: str, where: str) -> None:
        """Colour `text` (from `where`: the seed box, the Playground) as the model reads it."""
        if not text:
            self.notify(f"Nothing to colour: {where} is empty.", severity="warning")
            return
        await self._start(text, 0)

    async def action_stop(self) -> None:
        await self._halt()
        self._update_controls()

    def action_find(self) -> None:
        self.query_one(InsightCells).focus_default()

    def _seed(self) -> str:
        return self.query_one("#ins-seed", Input).value.replace("\\n", "\n")

    def _length(self) -> int:
        box = self.query_one("#ins-length", Input)
        return int(box.value) if box.is_valid else DEFAULT_LENGTH

    def _rng(self) -> int:
        box = self.query_one("#ins-rng", Input)
        return int(box.value) if box.value and box.is_valid else random.randrange(2**31)

    @on(Input.Changed, "#ins-temp")
    def _temperature_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.is_valid:
            self.params.temperature = float(event.value)  # read by the thread at every character

    async def _start(self, text: str, length: int) -> None:
        if self.ckpt is None:
            self.notify("No model loaded yet: train one or load one from the Models tab.",
                        severity="warning")
            return
        await self._halt()
        if self.stream.busy:
            self.notify("The last stream is still stopping; try again in a moment.",
                        severity="warning")
            return
        text = text[-MAX_CHARS:]  # all the view keeps; the model reads it from a line break
        ckpts = [self.ckpt] + ([self.other[1]] if self.other else [])
        skipped = unknown_chars(text, self.ckpt.spec.vocab)
        if skipped:
            shown = " ".join(show_char(c) for c in skipped[:10])
            self.notify(f"The model never saw these characters; they were skipped: {shown}",
                        severity="warning")
        for view, ckpt in zip(self._views(), ckpts, strict=True):
            view.reset(ckpt.spec)
        self.rng_seed = self._rng() if length else None
        self._per_tick = PER_TICK if length else None
        params, rng_seed = self.params, self.rng_seed

        def trace_stream(stream: Stream) -> int:
            tracers = [Tracer(ckpt, params, rng_seed) for ckpt in ckpts]
            return run_stream(tracers, text, length, stream.buffers, stream.stop)

        self.stream.start(trace_stream, buffers=len(ckpts),
                          capacity=2 * PER_TICK if length else len(text) + 1)
        self._status("generating…" if length else "reading…")
        self._drain_timer.resume()
        self._update_controls()

    async def _halt(self) -> None:
        """Stop the thread, wait for it, and show what it already made."""
        await self.stream.halt()
        self._per_tick = None
        self._drain()

    def stop_for_exit(self) -> None:
        self.stream.stop()

    def on_unmount(self) -> None:
        self.stream.stop()

    def on_stream_ended(self, event: StreamEnded) -> None:
        event.stop()
        if not self.stream.ended(event):
            return
        if event.error:
            self.notify(event.error, title="Insight failed", severity="error")

    def _drain(self) -> None:
        for view, buffer in zip(self._views(), self.stream.buffers, strict=False):
            steps = buffer.take(self._per_tick)
            if steps:
                view.extend(steps)
        if not self.stream.producing and not self.stream.pending():
            self._drain_timer.pause()
        self._update_controls()
        self._status(self._describe())

    def _describe(self) -> str:
        shown = len(self.text_view.record)
        what = ("generating… " if self.stream.producing and self._per_tick else
                "reading… " if self.stream.producing else "")
        seed = f" · rng seed {self.rng_seed}" if self.rng_seed is not None else ""
        return f"{what}{shown:,} characters{seed}" if shown else what

    def _status(self, text: str) -> None:
        self.query_one("#ins-status", Static).update(Text(text))

    def _update_controls(self) -> None:
        ready = self.ckpt is not None
        self.query_one("#ins-generate", Button).disabled = not ready
        self.query_one("#ins-colour", Button).disabled = not ready
        self.query_one("#ins-stop", Button).disabled = not self.stream.producing
        self.query_one("#ins-export", Button).disabled = not len(self._active.record)
