"""Playground: type a seed, watch text stream in, and turn the temperature while it does."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.validation import Integer, Number
from textual.widgets import Button, Input, Label, Log, Select, Static, Switch

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
from charrnn_tui.engine.paths import data_home
from charrnn_tui.engine.training.trainer import LN2
from charrnn_tui.messages import StreamEnded, StreamPrimed
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.streaming import Stream, StreamRunner
from charrnn_tui.widgets.format import show_char
from charrnn_tui.widgets.temperature import TemperatureControl
from charrnn_tui.workers import stream_chars

DRAIN_HZ = 25
MAX_LINES = 2000  # the view keeps this many lines; Save writes the whole text
SPEEDS = (("slow", 40), ("normal", 200), ("fast", 1000), ("max", 0))  # characters per second
DEFAULT_LENGTH = 500


class PlaygroundPane(Vertical):
    """One sampler on one model copy; a thread generates, a 25 Hz timer shows the text."""

    BINDINGS = [
        Binding("left_square_bracket", "temperature(-1)", "Cooler", key_display="[",
                tooltip="Temperature down 0.05: safer, more repetitive text"),
        Binding("right_square_bracket", "temperature(1)", "Hotter", key_display="]",
                tooltip="Temperature up 0.05: wilder, more surprising text"),
        Binding("f6", "continue", "Continue", tooltip="Go on from where the text ended"),
        Binding("f8", "stop", "Stop", tooltip="Stop generating"),
        Binding("ctrl+l", "clear", "Clear", tooltip="Clear the text"),
        Binding("ctrl+s", "save", "Save text", tooltip="Save the text to a file"),
        Binding("slash", "focus_seed", "Seed", key_display="/", show=False,
                tooltip="Type a new seed (when not typing already)"),
    ]

    def __init__(self, home: str | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.home = home
        self.model_name: str | None = None
        self.ckpt: Checkpoint | None = None
        self.params = SamplingParams()
        self.sampler: Sampler | None = None
        self.stream = StreamRunner(self, "sample")
        self._transcript: list[str] = []
        self._column = 0

    def compose(self) -> ComposeResult:
        yield Static("No model yet: train one (F3) or load one from Models (F5).",
                     id="play-model")
        yield Static("", id="play-hint", classes="hint")
        with Horizontal(id="seed-row"):
            yield Input(placeholder="seed text (\\n for a new line), then Enter", id="seed",
                        compact=True)
            yield Button("Generate", id="generate", variant="primary", compact=True)
        with Horizontal(id="temp-row"):
            yield TemperatureControl(self.params.temperature, id="temperature")
            yield Label("speed", classes="inline-label")
            yield Select(SPEEDS, value=200, allow_blank=False, id="speed", compact=True)
        with Horizontal(id="params-row"):
            yield Label("top-k", classes="inline-label")
            yield Input("0", id="top_k", validators=[Integer(0, 100_000)], compact=True,
                        tooltip="keep the k likeliest characters; 0 keeps all")
            yield Label("top-p", classes="inline-label")
            yield Input("1.0", id="top_p", validators=[Number(0.01, 1.0)], compact=True,
                        tooltip="keep the likeliest characters up to this probability mass")
            yield Label("length", classes="inline-label")
            yield Input(str(DEFAULT_LENGTH), id="length", validators=[Integer(1, 1_000_000)],
                        compact=True)
            yield Label("argmax", classes="inline-label")
            yield Switch(False, id="argmax", tooltip="always the likeliest character")
        yield Log(max_lines=MAX_LINES, id="output")
        with Horizontal(id="play-buttons"):
            yield Button("Stop", id="stop", variant="error", compact=True)
            yield Button("Continue", id="continue", compact=True)
            yield Button("Clear", id="clear", compact=True)
            yield Button("Save…", id="save", compact=True)
            yield Static("", id="play-status")

    def on_mount(self) -> None:
        self.query_one("#play-hint").display = False
        self._drain_timer = self.set_interval(1 / DRAIN_HZ, self._drain, pause=True)
        self._update_controls()

    def focus_default(self) -> None:
        self.query_one("#seed").focus()

    # --- the model -----------------------------------------------------------------------
    async def set_model(self, name: str, ckpt: Checkpoint, model: object) -> None:
        """Sample from `model` (a copy nobody else uses) from now on."""
        await self._halt()
        self.ckpt = ckpt
        self.sampler = Sampler(model, ckpt.spec.vocab, params=self.params)
        self.rename(name)
        self._update_controls()

    def rename(self, name: str, note: str = "") -> None:
        """Show the model under `name` (set_model, or after a rename in Models), with `note`
        (e.g. that its files were deleted)."""
        self.model_name = name
        st = self.ckpt.state
        line = Text.assemble(("Model ", "dim"), (name, "bold"), "  ", self.ckpt.spec.describe(),
                             (f"  {st.step:,} steps", "dim"))
        if self.ckpt.corpus.get("name"):
            line.append(f" on {self.ckpt.corpus['name']}", "dim")
        if st.last_val is not None:
            line.append(f"  val {st.last_val / LN2:.2f} bpc", "dim")
        if note:
            line.append(f"  ({note})", "bold red")
        self.query_one("#play-model", Static).update(line)

    def show_hint(self, text: str) -> None:
        hint = self.query_one("#play-hint", Static)
        hint.update(text)
        hint.display = bool(text)

    # --- sampling settings (read by the sampling thread at every character) -------------
    def on_temperature_control_changed(self, event: TemperatureControl.Changed) -> None:
        self.params.temperature = event.value

    def action_temperature(self, direction: int) -> None:
        self.query_one(TemperatureControl).action_nudge(direction)

    @on(Input.Changed, "#top_k, #top_p")
    def _limits_changed(self, event: Input.Changed) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            return
        if event.input.id == "top_k":
            self.params.top_k = int(event.value)
        else:
            self.params.top_p = float(event.value)

    @on(Switch.Changed, "#argmax")
    def _argmax_changed(self, event: Switch.Changed) -> None:
        self.params.argmax = event.value

    @on(Select.Changed, "#speed")
    def _speed_changed(self) -> None:
        for buffer in self.stream.buffers:
            buffer.capacity = self._per_tick() or 4096

    def _per_tick(self) -> int:
        """Characters shown per timer tick; 0 means as many as are ready."""
        speed = self.query_one("#speed", Select).value
        return max(1, round(speed / DRAIN_HZ)) if isinstance(speed, int) and speed else 0

    def _length(self) -> int:
        box = self.query_one("#length", Input)
        result = box.validate(box.value)
        return int(box.value) if result is None or result.is_valid else DEFAULT_LENGTH

    # --- generating ------------------------------------------------------------------------
    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_generate()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"generate": self.action_generate, "stop": self.action_stop,
                   "continue": self.action_continue, "clear": self.action_clear,
                   "save": self.action_save}
        if event.button.id in actions:
            event.stop()
            await actions[event.button.id]()

    async def action_generate(self) -> None:
        """Start afresh from the seed in the box (an empty seed starts after a line break)."""
        if self.sampler is None:
            self.notify("No model loaded yet: train one or load one from the Models tab.",
                        severity="warning")
            return
        await self._halt()
        if not self._can_start():
            return
        seed = self.query_one("#seed", Input).value.replace("\\n", "\n")
        if self._transcript and not self._transcript[-1].endswith("\n\n"):
            self._write("\n\n" if not self._transcript[-1].endswith("\n") else "\n")
        self._write(seed)
        self._start(seed)
        self.query_one("#output", Log).focus()

    async def action_continue(self) -> None:
        """Go on from where the text ended, with the same sampler state."""
        if self.sampler is None or self.sampler.logits is None or self.stream.producing:
            return
        await self._halt()
        if self._can_start():
            self._start(None)

    async def action_stop(self) -> None:
        await self._halt()
        self._update_controls()

    async def action_clear(self) -> None:
        self.query_one("#output", Log).clear()
        self._transcript.clear()
        self._column = 0
        self._update_controls()

    def action_focus_seed(self) -> None:
        self.query_one("#seed", Input).focus()

    def _can_start(self) -> bool:
        """False, with a notice, while a thread that outlived Stop still uses the sampler."""
        if self.stream.busy:
            self.notify("The last stream is still stopping; try again in a moment.",
                        severity="warning")
        return not self.stream.busy

    def _start(self, seed: str | None) -> None:
        sampler, length = self.sampler, self._length()

        def generate(stream: Stream) -> int:
            return stream_chars(sampler, seed, length, stream.buffers[0], stream.stop,
                                lambda skipped: self.post_message(
                                    StreamPrimed(stream.id, skipped)))

        self.stream.start(generate, capacity=self._per_tick() or 4096)
        self.query_one("#play-status", Static).update("generating…")
        self._drain_timer.resume()
        self._update_controls()

    def _take(self, limit: int | None = None) -> str:
        return "".join(self.stream.buffers[0].take(limit)) if self.stream.buffers else ""

    async def _halt(self) -> None:
        """Stop the sampling thread, wait for it, and show what it already generated."""
        await self.stream.halt()
        rest = self._take()
        if rest:
            self._write(rest)

    def stop_for_exit(self) -> bool:
        """Tell the sampling thread to end; True if it was running."""
        return self.stream.stop()

    def on_unmount(self) -> None:
        self.stream.stop()

    def on_stream_primed(self, event: StreamPrimed) -> None:
        if event.stream == self.stream.stream_id and event.skipped:
            shown = " ".join(show_char(c) for c in event.skipped[:10])
            self.notify(f"The model never saw these seed characters; they were skipped: "
                        f"{shown}", severity="warning")

    def on_stream_ended(self, event: StreamEnded) -> None:
        if not self.stream.ended(event):
            return
        if event.error:
            self.notify(event.error, title="Generation failed", severity="error")
        self.query_one("#play-status", Static).update(
            f"{event.count:,} characters; F6 continues" if not event.error else "failed")

    def _drain(self) -> None:
        text = self._take(self._per_tick() or None)
        if text:
            self._write(text)
        if not self.stream.producing and not self.stream.pending():
            self._drain_timer.pause()
            self._update_controls()

    def _write(self, text: str) -> None:
        """Append to the transcript and the view, wrapping at the view's width."""
        self._transcript.append(text)
        log = self.query_one("#output", Log)
        width = max(10, log.scrollable_content_region.width - 1)
        out: list[str] = []
        for ch in text.replace("\t", "    "):
            if ch == "\n":
                self._column = 0
            elif self._column >= width:
                out.append("\n")
                self._column = 1
            else:
                self._column += 1
            out.append(ch)
        log.write("".join(out))

    def _update_controls(self) -> None:
        ready = self.sampler is not None
        self.query_one("#generate", Button).disabled = not ready
        self.query_one("#stop", Button).disabled = not self.stream.producing
        self.query_one("#continue", Button).disabled = (
            not ready or self.stream.producing or self.sampler.logits is None)
        self.query_one("#clear", Button).disabled = not self._transcript
        self.query_one("#save", Button).disabled = not self._transcript

    @property
    def text(self) -> str:
        """Everything shown since the last Clear, seeds included, unwrapped."""
        return "".join(self._transcript)

    # --- saving -------------------------------------------------------------------------
    async def action_save(self) -> None:
        if not self._transcript:
            self.notify("Nothing to save yet.", severity="warning")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = data_home(self.home) / "samples" / f"{self.model_name or 'sample'}-{stamp}.txt"
        text = self.text

        def check(value: str) -> str | None:
            path = Path(value).expanduser()
            if path.is_dir():
                return f"{path} is a folder; add a file name"
            if path.exists():
                return f"{path} exists; choose another name"
            return None

        def chosen(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            except OSError as e:
                self.notify(f"Could not save: {e.strerror or e}", severity="error")
                return
            self.notify(f"Saved {len(text):,} characters to {path}", title="Saved")

        self.app.push_screen(PromptScreen("Save the generated text to", str(default),
                                          action="Save", check=check), chosen)
