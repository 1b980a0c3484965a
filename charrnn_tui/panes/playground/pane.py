"""Playground: type a seed, watch text stream in, turn the temperature while it does,
branch from any generated character, and compare several continuations side by side."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Collapsible, Input, Label, Log, Select, Static, Switch

from charrnn_tui.confine import OutsideRoot, confine, default_folder
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
from charrnn_tui.engine.generation.search import Candidate
from charrnn_tui.engine.paths import data_home
from charrnn_tui.messages import StreamEnded, StreamPrimed
from charrnn_tui.panes.playground import fields
from charrnn_tui.panes.playground.branch import BranchScreen
from charrnn_tui.panes.playground.compare import CompareCandidatesScreen
from charrnn_tui.sampling_presets import PresetError, check_name, load_presets, save_preset
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.streaming import Stream, StreamRunner
from charrnn_tui.widgets.format import bits_text, loss_text, show_char
from charrnn_tui.widgets.temperature import TemperatureControl
from charrnn_tui.workers import compare_candidates, run_in_thread, stream_chars

DRAIN_HZ = 25
# At speed "max" the text is shown every this many ticks, in bigger pieces: each write
# makes the Log lay out and repaint, and that UI work takes the GIL from the sampler.
MAX_SPEED_TICKS = 3
MAX_LINES = 2000  # the view keeps this many lines; Save writes the whole text
SPEEDS = (("slow", 40), ("normal", 200), ("fast", 1000), ("max", 0))  # characters per second
DEFAULT_LENGTH = 500
COMPARE_LENGTH = 2000  # the most characters per candidate in Compare
# Rows of typed settings, each with its error line right under it.
# The settings behind More, how the collapsed line names them, and their "off" values.
MORE_SHOWN = (("stop_at", "stop", ("",)), ("ban", "ban", ("",)), ("bias", "bias", ("",)),
              ("penalty", "repeat×", ("1", "1.0")), ("n", "N", ("4",)), ("beam", "beam", ("0",)))
MORE_WHAT = "stop, ban, bias, repetition, N, beam"
SAVE_PRESET = "save current as…"  # the preset list's last entry: an action
ROWS = {"seed-row": ("rng",), "params-row": ("top_k", "top_p", "min_p", "length"),
        "more-row1": ("stop_at", "ban", "bias"),
        "more-row2": ("penalty", "window", "n", "beam")}


@dataclass
class CandidatesReady(Message):
    """The compare thread finished: the candidates, or why not."""

    sampler: Sampler
    title: str
    seed: str
    candidates: list[Candidate]
    error: str | None = None


class PlaygroundPane(Vertical):
    """One sampler on one model copy; a thread generates, a 25 Hz timer shows the text."""

    BINDINGS = [
        Binding("left_square_bracket", "temperature(-1)", "Cooler", key_display="[",
                tooltip="Temperature down 0.05: safer, more repetitive text"),
        Binding("right_square_bracket", "temperature(1)", "Hotter", key_display="]",
                tooltip="Temperature up 0.05: wilder, more surprising text"),
        Binding("f6", "continue", "Continue", tooltip="Go on from where the text ended"),
        Binding("ctrl+r", "regenerate", "Regenerate",
                tooltip="The last seed text again, a new sample in place of the last one"),
        Binding("f7", "branch", "Branch",
                tooltip="Pick another character anywhere in the generated text and go on "
                        "from there"),
        Binding("f8", "stop", "Stop", tooltip="Stop generating"),
        Binding("ctrl+n", "compare", "Compare",
                tooltip="N continuations (or a beam search) side by side"),
        Binding("ctrl+t", "toggle_more", "More", show=False,
                tooltip="Show or hide the stop, ban, bias, repetition, N and beam settings"),
        Binding("ctrl+l", "clear", "Clear", tooltip="Clear the text"),
        Binding("ctrl+s", "save", "Save text", tooltip="Save the text to a file"),
        Binding("slash", "focus_seed", "Seed", key_display="/", show=False, priority=True,
                tooltip="Go to the seed box (in the seed box itself, / is a slash)"),
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
        self.errors: dict[str, str] = {}  # field id → why its text is refused
        self.presets: dict[str, SamplingParams] = {}  # saved sampling presets by name
        # Where the current run's seed and its first generated character are in the text;
        # everything after the latter was generated by (or fed to) the sampler, 1:1.
        self._run: tuple[int, int] | None = None
        self._comparing = False
        self._ticks = 0
        self._length = 0  # the characters asked of the current stream
        self._last_seed: str | None = None  # what Regenerate starts from again
        self._stop_pressed = False  # the current stream ended by Stop (F8)

    def compose(self) -> ComposeResult:
        def box(fid: str, value: str, tip: str, label: str | None = None) -> ComposeResult:
            yield Label(label or fields.NAMES[fid], classes="inline-label")
            yield Input(value, id=fid, compact=True, tooltip=tip)

        yield Static("No model yet: train one (F3) or load one from Models (F5).",
                     id="play-model")
        yield Static("", id="play-hint", classes="hint")
        with Horizontal(id="seed-row"):
            yield Input(placeholder="seed text (\\n for a new line), then Enter", id="seed",
                        compact=True)
            yield from box("rng", "", "seed of the random draws: the same number, seed text "
                           "and settings give the same text (empty: new every time)", "rng")
            yield Button("Generate", id="generate", variant="primary", compact=True)
            yield Button("Regenerate", id="regenerate", compact=True,
                         tooltip="The last seed text again, a new sample in place of the "
                                 "last one (ctrl+r)")
        yield Static("", id="seed-row-error", classes="field-error")
        with Horizontal(id="temp-row"):
            yield TemperatureControl(self.params.temperature, id="temperature")
            yield Label("speed", classes="inline-label")
            yield Select(SPEEDS, value=200, allow_blank=False, id="speed", compact=True)
            yield Select([], prompt="preset", id="sampling-preset", compact=True,
                         tooltip="Saved sampling settings: pick one, or save the current "
                                 "ones under a name (also: sample --preset NAME)")
        with Horizontal(id="params-row"):
            yield from box("top_k", "0", "keep the k likeliest characters; 0 keeps all")
            yield from box("top_p", "1.0",
                           "keep the likeliest characters up to this probability mass")
            yield from box("min_p", "0", "drop characters less likely than this fraction of "
                           "the likeliest one's probability; 0 keeps all")
            yield from box("length", str(DEFAULT_LENGTH), "characters per Generate/Continue")
            yield Label("argmax", classes="inline-label")
            yield Switch(False, id="argmax", tooltip="always the likeliest character")
        yield Static("", id="params-row-error", classes="field-error")
        with Collapsible(title=f"More: {MORE_WHAT} (ctrl+t)", id="more"):
            with Horizontal(id="more-row1"):
                yield from box("stop_at", "", "end the stream when the text ends with this; "
                               "several: a|b; \\n is a line break, \\| a bar")
                yield from box("ban", "", "characters never generated (\\s: space, "
                               "\\n: line break)")
                yield from box("bias", "", "CHAR=NUMBER added to a character's logit, "
                               "e.g. e=-2 z=3 (\\s: space)")
            yield Static("", id="more-row1-error", classes="field-error")
            with Horizontal(id="more-row2"):
                yield from box("penalty", "1.0", "a character seen in the window is this "
                               "many times less likely (1: off)", "repeat×")
                yield from box("window", "64", "characters the repetition penalty looks back",
                               "window")
                yield from box("n", "4", "continuations side by side in Compare (ctrl+n)")
                yield from box("beam", "0", "Compare by beam search of this width instead "
                               "of sampling (0: sample)")
                yield Label("rank", classes="inline-label")
                yield Select((("total", "total"), ("mean", "mean")), value="total",
                             allow_blank=False, id="rank", compact=True,
                             tooltip="order N samples by total or per-character log-probability")
            yield Static("", id="more-row2-error", classes="field-error")
        yield Log(max_lines=MAX_LINES, id="output")
        with Horizontal(id="play-buttons"):
            yield Button("Stop", id="stop", variant="error", compact=True)
            yield Button("Continue", id="continue", compact=True)
            yield Button("Branch", id="branch", compact=True)
            yield Button("Compare", id="compare", compact=True)
            yield Button("Clear", id="clear", compact=True)
            yield Button("Save…", id="save", compact=True)

    def on_mount(self) -> None:
        self._fill_presets()
        self.query_one("#play-hint").display = False
        self._drain_timer = self.set_interval(1 / DRAIN_HZ, self._drain, pause=True)
        self._check_fields()

    def focus_default(self) -> None:
        self.query_one("#seed").focus()

    # --- the model -----------------------------------------------------------------------
    async def set_model(self, name: str, ckpt: Checkpoint, model: object) -> None:
        """Sample from `model` (a copy nobody else uses) from now on; the old model's text
        goes, since Continue and Branch could not go on from it."""
        await self._halt()
        self.ckpt = ckpt
        self.sampler = Sampler(model, ckpt.spec.vocab, params=self.params)
        await self.action_clear()
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
        model = self.query_one("#play-model", Static)
        model.tooltip = None
        if st.last_val is not None:
            line.append(f"  val {loss_text(st.last_val)}", "dim")
            model.tooltip = f"validation loss {loss_text(st.last_val)} = {bits_text(st.last_val)}"
        if note:
            line.append(f"  ({note})", "bold red")
        self.query_one("#play-model", Static).update(line)

    def _status(self, text: str) -> None:
        """What the text box is doing or why its text ended, on its lower border: the whole
        width there is, beside buttons that all fit at 80 columns."""
        self.query_one("#output", Log).border_subtitle = Content(text)

    @property
    def status(self) -> str:
        return str(self.query_one("#output", Log).border_subtitle or "")

    def show_hint(self, text: str) -> None:
        hint = self.query_one("#play-hint", Static)
        hint.update(text)
        hint.display = bool(text)

    # --- sampling settings (read by the sampling thread at every character) -------------
    def on_temperature_control_changed(self, event: TemperatureControl.Changed) -> None:
        self.params.temperature = event.value
        self._unmark_preset()

    def action_temperature(self, direction: int) -> None:
        self.query_one(TemperatureControl).action_nudge(direction)

    def action_toggle_more(self) -> None:
        more = self.query_one("#more", Collapsible)
        more.collapsed = not more.collapsed

    @on(Input.Changed)
    def _field_changed(self, event: Input.Changed) -> None:
        if event.input.id in fields.NAMES:
            self._check_fields()

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

    # --- saved sampling presets --------------------------------------------------------
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

    @on(Select.Changed, "#sampling-preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value == SAVE_PRESET:
            self._save_preset()
        elif isinstance(event.value, str) and event.value in self.presets:
            self.apply_preset(self.presets[event.value])

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

    @on(Switch.Changed, "#argmax")
    def _argmax_changed(self, event: Switch.Changed) -> None:
        self.params.argmax = event.value
        self._unmark_preset()

    @on(Select.Changed, "#speed")
    def _speed_changed(self) -> None:
        for buffer in self.stream.buffers:
            buffer.capacity = self._per_tick() or 4096

    def _per_tick(self) -> int:
        """Characters shown per timer tick; 0 means as many as are ready."""
        speed = self.query_one("#speed", Select).value
        return max(1, round(speed / DRAIN_HZ)) if isinstance(speed, int) and speed else 0

    # --- generating ------------------------------------------------------------------------
    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_generate()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"generate": self.action_generate, "stop": self.action_stop,
                   "continue": self.action_continue, "clear": self.action_clear,
                   "save": self.action_save, "branch": self.action_branch,
                   "compare": self.action_compare, "regenerate": self.action_regenerate}
        if event.button.id in actions:
            event.stop()
            await actions[event.button.id]()

    async def action_generate(self) -> None:
        """Start afresh from the seed in the box (an empty seed starts after a line break)."""
        if self.sampler is None:
            self.notify("No model loaded yet: train one or load one from the Models tab.",
                        severity="warning")
            return
        if self.refused("generate"):
            return
        await self._halt()
        if not self._can_start():
            return
        self._generate(self.query_one("#seed", Input).value.replace("\\n", "\n"))

    async def action_regenerate(self) -> None:
        """The last run's seed text again, and a new sample in its place; with an RNG seed
        set, the next number (so that each stays reproducible)."""
        seed = self._last_seed
        if seed is None:
            await self.action_generate()
            return
        if self.sampler is None or self.refused("generate"):
            return
        await self._halt()
        if not self._can_start():
            return
        rng = self._value("rng")
        if rng is not None:
            self.query_one("#rng", Input).value = str((rng + 1) % (fields.MAX_RNG_SEED + 1))
        if self._run is not None and self.text[self._run[0]:self._run[1]] == seed:
            self._rewrite(self.text[:self._run[0]])  # the last run goes, its blank line stays
        self._generate(seed)

    def _generate(self, seed: str) -> None:
        """`seed`, after a blank line, then the stream from it (the RNG reset if set)."""
        rng = self._value("rng")
        if rng is not None:
            self.sampler.rng = np.random.default_rng(rng)
        self._last_seed = seed
        text = self.text
        if text and not text.endswith("\n\n"):
            self._write("\n\n" if not text.endswith("\n") else "\n")
        seed_at = len(self.text)
        self._write(seed)
        self._run = (seed_at, len(self.text))
        self._start(seed)
        self.query_one("#output", Log).focus()

    async def action_continue(self) -> None:
        """Go on from where the text ended, with the same sampler state."""
        if self.sampler is None or self.sampler.logits is None or self.stream.producing:
            return
        if self.refused("generate"):
            return
        await self._halt()
        if self._can_start():
            self._start(None)

    async def action_stop(self) -> None:
        self._stop_pressed = self.stream.producing
        await self._halt()
        self._update_controls()

    async def action_clear(self) -> None:
        self.query_one("#output", Log).clear()
        self._transcript.clear()
        self._column = 0
        if self._run is not None:  # what still streams in stays branchable
            self._run = (0, 0)
        if not self.stream.producing:
            self._status("")
        self._update_controls()

    def action_focus_seed(self) -> None:
        self.query_one("#seed", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """/ jumps to the seed box from every other field (it never types there); in the
        seed box it is a slash."""
        return action != "focus_seed" or self.app.focused is not self.query_one("#seed")

    def leave_field(self) -> None:
        """Escape: from a field to the text, where the pane's keys all work."""
        self.query_one("#output").focus()

    def _can_start(self) -> bool:
        """False, with a notice, while a thread that outlived Stop still uses the sampler."""
        if self.stream.busy or self._comparing:
            self.notify("The last stream is still stopping; try again in a moment.",
                        severity="warning")
        return not (self.stream.busy or self._comparing)

    def _start(self, seed: str | None, length: int | None = None) -> None:
        sampler, length = self.sampler, length or self._value("length")

        def generate(stream: Stream) -> int:
            return stream_chars(sampler, seed, length, stream.buffers[0], stream.stop,
                                lambda skipped: self.post_message(
                                    StreamPrimed(stream.id, skipped)))

        self._length, self._stop_pressed = length, False
        self.stream.start(generate, capacity=self._per_tick() or 4096)
        self._status("generating…")
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
        self._status(
            "failed" if event.error else f"{event.count:,} characters, {self._why_ended(event)}; "
            "F6 continues")

    def _why_ended(self, event: StreamEnded) -> str:
        """Why a stream ended, so that a stop string (perhaps behind More) never looks like
        a failure or a short length."""
        if self._stop_pressed:
            return "Stop pressed"
        if event.count >= self._length:
            return "the length set"
        ends = [s for s in self.sampler.params.stop if self.sampler.tail.endswith(s)]
        return (f"at stop {''.join(show_char(c) for c in ends[0])}" if ends
                else "stopped")

    def _drain(self) -> None:
        per_tick = self._per_tick()
        self._ticks += 1
        if not per_tick and self.stream.producing and self._ticks % MAX_SPEED_TICKS:
            return
        text = self._take(per_tick or None)
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

    def _rewrite(self, text: str) -> None:
        """Show `text` in place of everything (after a branch cut the end off)."""
        self.query_one("#output", Log).clear()
        self._transcript.clear()
        self._column = 0
        self._write(text)

    def _update_controls(self) -> None:
        ready = self.sampler is not None
        blocked = any(f in self.errors for f in fields.BLOCKS["generate"])
        idle = not self.stream.producing
        self.query_one("#generate", Button).disabled = not ready or blocked
        self.query_one("#regenerate", Button).disabled = not ready or blocked
        self.query_one("#stop", Button).disabled = idle
        self.query_one("#continue", Button).disabled = (
            not ready or not idle or blocked or self.sampler.logits is None)
        self.query_one("#branch", Button).disabled = not ready or blocked or not self.generated
        self.query_one("#compare", Button).disabled = (
            not ready or self._comparing
            or any(f in self.errors for f in fields.BLOCKS["compare"]))
        self.query_one("#clear", Button).disabled = not self._transcript
        self.query_one("#save", Button).disabled = not self._transcript

    @property
    def text(self) -> str:
        """Everything shown since the last Clear, seeds included, unwrapped."""
        return "".join(self._transcript)

    @property
    def generated(self) -> str:
        """The current run's generated text: what Branch offers."""
        return self.text[self._run[1]:] if self._run is not None else ""

    # --- branch from here ---------------------------------------------------------------
    def _trail_pos(self, offset: int) -> int:
        """The sampler's trail position of generated character `offset` (counted from the
        end: the run's text and the trail's end are the same characters)."""
        return len(self.sampler.trail.ids) - (len(self.generated) - offset)

    async def action_branch(self) -> None:
        """Open the generated text with a cursor and the alternatives at it."""
        if self.sampler is None or self.refused("generate"):
            return
        await self._halt()
        self._update_controls()
        if not self.generated:
            self.notify("Nothing generated yet to branch from: Generate first.",
                        severity="warning")
            return
        if not self._can_start():
            return
        sampler, vocab = self.sampler, self.sampler.vocab

        def alternatives(offset: int) -> list[tuple[int, str, float]]:
            return [(i, vocab[i], p) for i, p in
                    sampler.alternatives(self._trail_pos(offset), k=min(10, len(vocab)))]

        self.app.push_screen(BranchScreen(self.generated, alternatives), self._branched)

    def _branched(self, choice: tuple[int, int] | None) -> None:
        if choice is None or self.stream.producing or not self._can_start():
            return
        offset, idx = choice
        try:
            char = self.sampler.branch(self._trail_pos(offset), idx)
        except ValueError as e:
            self.notify(str(e), severity="warning")
            return
        self._rewrite(self.text[:self._run[1] + offset] + char)
        self._start(None)
        self.query_one("#output", Log).focus()

    # --- N continuations side by side ---------------------------------------------------
    async def action_compare(self) -> None:
        """N samples (or a beam search) of what comes after the text, side by side."""
        if self.sampler is None or self._comparing or self.refused("compare"):
            return
        await self._halt()
        self._update_controls()
        if not self._can_start():
            return
        seed = (self.text[self._run[0]:] if self._run is not None
                else self.query_one("#seed", Input).value.replace("\\n", "\n"))
        length = min(self._value("length"), COMPARE_LENGTH)
        n, beam = self._value("n"), self._value("beam")
        rank = str(self.query_one("#rank", Select).value)
        sampler = self.sampler
        what = (f"Beam search, width {beam}, ranked per character" if beam else
                f"{n} samples, ranked by {rank} log-probability")
        upto = "up to " if sampler.params.stop else ""  # a stop string may end one sooner
        what += f", {upto}{length:,} characters each"

        self._comparing = True
        self._status("comparing…")
        self._update_controls()
        run_in_thread(self, lambda: compare_candidates(sampler, seed, length, n=n, beam=beam,
                                                       rank_by=rank),
                      lambda found: CandidatesReady(sampler, what, seed, found),
                      lambda error: CandidatesReady(sampler, what, seed, [], error),
                      group="compare")

    def on_candidates_ready(self, event: CandidatesReady) -> None:
        self._comparing = False
        self._status("")
        self._update_controls()
        if event.error:
            self.notify(event.error, title="Compare failed", severity="error")
            return
        if event.sampler is not self.sampler:  # another model was loaded meanwhile
            return

        def keep(index: int | None) -> None:
            if (index is None or self.stream.producing or self._comparing
                    or event.sampler is not self.sampler):
                return
            text = event.candidates[index].text
            if self._run is None or self.text[self._run[0]:] != event.seed:
                if self._transcript:
                    self._write("\n\n")
                self._write(event.seed)
                self._run = (len(self.text) - len(event.seed), len(self.text))
                self.sampler.prime(event.seed)
            self.sampler.feed([self.sampler.index[c] for c in text])
            self._write(text)
            self._status(
                f"kept candidate {index + 1}; F6 continues, F7 branches")
            self._update_controls()

        self.app.push_screen(CompareCandidatesScreen(event.title, event.candidates,
                                                     event.seed), keep)

    # --- saving -------------------------------------------------------------------------
    async def action_save(self) -> None:
        if not self._transcript:
            self.notify("Nothing to save yet.", severity="warning")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = (default_folder(data_home(self.home) / "samples")
                   / f"{self.model_name or 'sample'}-{stamp}.txt")
        text = self.text

        def check(value: str) -> str | None:
            try:
                path = confine(value)
            except OutsideRoot as e:
                return str(e)
            if path.is_dir():
                return f"{path} is a folder; add a file name"
            if path.exists():
                return f"{path} exists; choose another name"
            return None

        def chosen(value: str | None) -> None:
            if not value:
                return
            try:
                path = confine(value)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            except (OSError, OutsideRoot) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else e
                self.notify(f"Could not save: {reason}", severity="error")
                return
            self.notify(f"Saved {len(text):,} characters to {path}", title="Saved")

        self.app.push_screen(PromptScreen("Save the generated text to", str(default),
                                          action="Save", check=check), chosen)
