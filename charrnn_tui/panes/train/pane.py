"""Train pane: settings, Start/Pause/Stop, and the run as it happens (loss chart, speed, sample)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static, Switch

from charrnn_tui import torch_loader
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.models import ModelSpec, count_parameters
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.events import (
    Evaluated,
    Finished,
    GradientFlow,
    Notice,
    Progress,
    Sampled,
)
from charrnn_tui.engine.training.presets import AUTO, DEFAULT_PRESET, PRESETS, auto_preset
from charrnn_tui.messages import TrainEvents, TrainingEnded
from charrnn_tui.names import default_name, free_name
from charrnn_tui.panes.train.charts import TrainCharts
from charrnn_tui.panes.train.form import FormError, Settings, TrainForm
from charrnn_tui.panes.train.loss_chart import LossChart
from charrnn_tui.references import corpus_references
from charrnn_tui.screens.dialogs import ConfirmScreen
from charrnn_tui.widgets.format import count, duration, loss_text
from charrnn_tui.widgets.gradient_chart import GradientChart
from charrnn_tui.workers import error_text, make_trainer, run_training, store_saver

if TYPE_CHECKING:  # the training stack imports torch; the run loads it on its thread
    from charrnn_tui.engine.training.trainer import Trainer

_STOPPING = "stopping: a last evaluation, then saving…"


class TrainPane(Vertical):
    """Owns the one training run: a thread worker builds the Trainer, trains, and reports.

    `running` is set from Start until TrainingEnded arrives; `trainer` only once the
    worker has built it, so a Stop that comes earlier is kept in `_stop_request`.
    """

    BINDINGS = [
        Binding("f6", "start", "Start",
                tooltip="Start training (a finished or resumed model continues)"),
        Binding("f7", "pause", "Pause/Resume", tooltip="Pause or resume training"),
        Binding("f8", "stop", "Stop",
                tooltip="Stop: a last evaluation, save, and load it into the Playground (F4)"),
        Binding("ctrl+r", "race", "Race",
                tooltip="Race cells or implementations on this corpus, side by side"),
    ]

    def __init__(self, store: ModelStore, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.corpus: Corpus | None = None
        self.source: str | None = None  # what the corpus was loaded from, kept in the model
        self.running = False
        self.run_name: str | None = None  # the name the running training saves under
        self.trainer: Trainer | None = None
        self._stop_request: bool | None = None  # a Stop before the trainer exists: final_eval
        self.resume: Checkpoint | None = None  # the model Start continues, if any
        self.resume_name: str | None = None  # its own store name (None for a copy)
        self._auto_name = ""
        self.last: Progress | None = None
        self.val: Evaluated | None = None
        self.finished: Finished | None = None  # the last run's end, while its stats show
        self._began = 0.0  # seconds the model had trained before the current run
        self.stopping = False  # Stop pressed: the stats say so until training has ended
        self._preset = DEFAULT_PRESET  # the preset the form was last filled from

    @property
    def form(self) -> TrainForm:
        return self.query_one(TrainForm)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield TrainForm(id="train-form")
            with Vertical(id="train-main"):
                yield Static("", id="train-target")
                with Horizontal(id="train-buttons"):
                    yield Button("Start", id="start", variant="success", compact=True)
                    yield Button("Pause", id="pause", compact=True, disabled=True)
                    yield Button("Stop", id="stop", variant="error", compact=True,
                                 disabled=True)
                    yield Button("New model", id="new-model", compact=True, disabled=True)
                    yield Button("Race…", id="race", compact=True)
                yield Static("", id="train-error", classes="error")
                with Horizontal(id="chunk-row"):
                    yield ProgressBar(id="chunk-bar", show_eta=False, show_percentage=False)
                    yield Label("", id="chunk-label")
                yield Static("", id="train-stats")
                yield TrainCharts()
                yield Static("", id="train-sample", markup=False)

    def on_mount(self) -> None:
        self.query_one("#train-sample").border_title = "Sample"
        self.form.show_new_chars(False)
        self.query_one("#chunk-row").display = False
        self._describe()

    def focus_default(self) -> None:
        for wid in ("#start", "#pause", "#preset"):
            widget = self.query_one(wid)
            if not widget.disabled:
                widget.focus()
                return

    # --- what will be trained ------------------------------------------------------------
    def set_corpus(self, corpus: Corpus, source: str) -> None:
        self.corpus, self.source = corpus, source
        form = self.form
        form.corpus_chars = len(corpus)
        if self._preset == AUTO and not self.running:
            form.fit_auto(len(corpus))  # sized to this text
        self.query_one(LossChart).set_references(
            corpus_references(corpus.data, corpus.sha256, self.store))
        self._suggest_name()
        self._describe()

    def _suggest_name(self) -> None:
        """Offer a free name for a new model, unless the user typed their own."""
        form = self.form
        typed = self.query_one("#name", Input).value.strip()
        if self.resume is not None or self.corpus is None or typed not in ("", self._auto_name):
            return
        try:
            arch = form.read().arch
        except FormError:
            return
        self._auto_name = free_name(self.store, default_name(
            self.corpus.name, arch["cell"], arch["layers"], arch["hidden"]))
        form.set_name(self._auto_name)

    def set_resume(self, name: str, ckpt: Checkpoint, *, copy_of: str | None = None) -> None:
        """Start will continue `ckpt` and save it as `name` (a copy when `copy_of` is set)."""
        self.resume = ckpt
        self.resume_name = None if copy_of else name
        form = self.form
        form.lock_to(ckpt.spec, ckpt.config)
        form.set_name(name)
        form.show_new_chars(True)
        self.query_one("#new-model", Button).disabled = self.running
        self.query_one(LossChart).set_history(ckpt.state.history, ckpt.state.val_history)
        self._describe()

    def model_renamed(self, old: str, new: str | None) -> None:
        """Keep continuing the same model after a rename; after a delete, Start makes a new one."""
        if self.resume_name != old:
            return
        self.resume_name = new
        if new:
            self.form.set_name(new)
            if self.finished is not None and not self.running:  # "saved as" the new name
                self._show_finished(new)
        self._describe()

    def action_new_model(self) -> None:
        """Leave resume mode: Start trains a fresh model with the form's architecture."""
        if self.running:
            return
        self.resume = self.resume_name = None
        self._auto_name = ""
        form = self.form
        form.unlock()
        form.show_new_chars(False)
        form.set_name("")
        preset = self.query_one("#preset", Select).value
        form.apply_preset(preset if isinstance(preset, str) else DEFAULT_PRESET)
        self.query_one("#new-model", Button).disabled = True
        self.query_one(LossChart).set_history([], [])
        self._clear_run()
        self._suggest_name()
        self._describe()

    def _clear_run(self) -> None:
        """Forget the last run's status, progress and sample: they describe another model."""
        self.last = self.val = self.finished = None
        self.query_one("#train-stats", Static).update("")
        self.query_one("#train-sample", Static).update("")
        self.query_one("#chunk-row").display = False

    def preset_restored(self) -> None:
        """The form was set from last session without Select.Changed: the description and
        the preset remembered as the form's source follow the restored preset."""
        preset = self.query_one("#preset", Select).value
        if isinstance(preset, str):
            self._preset = preset
            self.query_one("#preset-hint", Static).update(PRESETS[preset].description)

    def _preset_picked(self, preset: str) -> None:
        """A preset describes a new model. While one is loaded to continue, picking a preset
        asks to start a new model with it, rather than half-apply it to the loaded one."""
        if preset == self._preset:
            return
        if self.resume is None or self.running:
            self._preset = preset
            return
        select = self.query_one("#preset", Select)

        def answered(new: bool | None) -> None:
            if new:
                self._preset = preset
                self.action_new_model()
            else:
                select.value = self._preset  # back to what the loaded model's form shows

        loaded = self.resume_name or "the loaded model"
        self.app.push_screen(ConfirmScreen(
            f"Preset {preset!r} describes a new model: {PRESETS[preset].description}.\n\n"
            f"Start a new model with it? {loaded!r} stays saved; Models (F5) resumes it.",
            "New model", danger=False), answered)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _settings_changed(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        if isinstance(event, Switch.Changed) and event.switch.id == "gpu" and self.trainer:
            self.trainer.request_device(self.form.device)
        if (isinstance(event, Select.Changed) and event.select.id == "preset"
                and isinstance(event.value, str)):
            self._preset_picked(event.value)
        self._suggest_name()
        self._describe()

    def _describe(self) -> Settings | None:
        """Line up what Start would do, and show the first problem with the settings."""
        error = self.query_one("#train-error", Static)
        vocab = self.resume.spec.vocab if self.resume else \
            self.corpus.chars if self.corpus else None
        form = self.form
        try:
            if problems := form.show_errors():
                raise FormError(" · ".join(problems))
            settings = form.read(vocab)
        except FormError as e:
            error.update(Text(f"✗ {e}"))
            self.query_one("#start", Button).disabled = True
            return None
        error.update("")
        self.query_one("#start", Button).disabled = self.running or not self.corpus
        line = Text()
        if self.corpus:
            line.append("Corpus ", "dim").append(self.corpus.name, "bold")
            line.append(f" ({count(len(self.corpus))} chars)  ", "dim")
        else:
            line.append("No corpus yet: pick one in the Corpus tab (F2).  ", "bold")
        spec = self.resume.spec if self.resume else ModelSpec(**settings.arch, vocab=vocab or [])
        if self.resume:
            line.append("Resume ", "dim").append(settings.name, "bold")
            line.append(f" at step {self.resume.state.step:,}  ", "dim")
        line.append(spec.describe())
        if vocab:
            line.append(f"  {count(count_parameters(spec))} params", "dim")
        if self.corpus and not self.resume and self._preset == AUTO:
            line.append(f"\n{auto_preset(len(self.corpus))[1]}", "dim")
        self.query_one("#train-target", Static).update(line)
        return settings

    # --- control -----------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start": self.action_start, "pause": self.action_pause,
                   "stop": self.action_stop, "new-model": self.action_new_model,
                   "race": self.action_race}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    def action_start(self) -> None:
        if self.running:
            return
        settings = self._describe()
        if settings is None:
            self.app.bell()
            return
        if self.corpus is None:
            message = "No corpus yet: pick one in the Corpus tab (F2), then Start."
            self.query_one("#train-error", Static).update(Text(f"✗ {message}"))
            self.notify(message, title="Nothing to train on", severity="warning")
            return
        if not settings.name:
            settings.name = self._auto_name = free_name(self.store, default_name(
                self.corpus.name, settings.arch["cell"], settings.arch["layers"],
                settings.arch["hidden"]))
            self.form.set_name(settings.name)
        name = settings.name
        own = self.resume is not None and name == self.resume_name
        if name in self.store.read_only:
            self.query_one("#train-error", Static).update(
                f"✗ {name!r} is a built-in, read-only model; pick another name")
            return
        if own or not self.store.exists(name):
            self._begin(settings, replace=False)
            return

        def answered(replace: bool | None) -> None:
            if replace:
                self._begin(settings, replace=True)

        self.app.push_screen(ConfirmScreen(
            f"A model named {name!r} already exists.\nReplace it with the one you are about "
            "to train? Its saved files will be overwritten.", "Replace"), answered)

    def _begin(self, settings: Settings, *, replace: bool) -> None:
        """Build, claim the name and train, all on a thread (see _train)."""
        self.running, self.trainer, self._stop_request = True, None, None
        self.stopping = False
        self.run_name = settings.name
        self.last = self.val = self.finished = None
        # the model's training time before this run: elapsed, ETA and "over" all count
        # this run alone
        self._began = self.resume.state.seconds if self.resume is not None else 0.0
        self.query_one(GradientChart).clear()
        if self.resume is None:
            self.query_one(LossChart).set_history([], [])
        self.query_one("#train-sample", Static).update("")
        self.query_one("#train-error", Static).update("")
        self.query_one("#train-stats", Static).update(
            "preparing…" if torch_loader.ready() else torch_loader.LOADING)
        self._set_running(True)
        own = self.resume is not None and settings.name == self.resume_name
        self._train(settings, self.corpus, self.source, self.resume,
                    self.form.new_chars, own, replace)

    def _set_running(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running or not self.corpus
        self.query_one("#pause", Button).disabled = not running
        self.query_one("#pause", Button).label = "Pause"
        self.query_one("#stop", Button).disabled = not running
        self.query_one("#new-model", Button).disabled = running or self.resume is None
        self.form.freeze(running)

    def action_race(self) -> None:
        """Race cells/implementations on this corpus (screens/race_screen.py)."""
        if not torch_loader.ready():  # the race screen imports the training stack
            self.notify(f"{torch_loader.LOADING} try again in a moment", title="Race")
            return
        from charrnn_tui.screens.race_screen import RaceScreen

        if self.running:
            self.notify("stop the training first: a race needs the CPU to itself",
                        title="Race", severity="warning")
            return
        self.app.push_screen(RaceScreen(self.store, self.corpus, self.source))

    def action_pause(self) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        if trainer.paused:
            trainer.resume()
        else:
            trainer.pause()
        self.query_one("#pause", Button).label = "Resume" if trainer.paused else "Pause"
        self._show_stats()

    def action_stop(self) -> None:
        if self.stop_for_exit(final_eval=True):
            self.stopping = True
            self.query_one("#stop", Button).disabled = True
            self.query_one("#pause", Button).disabled = True
            self.query_one("#train-stats", Static).update(_STOPPING)
            self._show_stats()

    def stop_for_exit(self, final_eval: bool = False) -> bool:
        """Ask training to stop (it saves "last" as it ends); True if it was running.

        Quitting skips the closing pass over the validation split so the app exits fast.
        """
        self._stop_request = final_eval  # one assignment: the thread never sees half of it
        if self.trainer is not None:
            self.trainer.stop(final_eval=final_eval)
        return self.running

    def on_unmount(self) -> None:
        self.stop_for_exit()

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, settings: Settings, corpus: Corpus, source: str | None,
               resume: Checkpoint | None, new_chars: str, own: bool, replace: bool) -> None:
        """The training thread. It gets everything it needs as arguments, never reading the
        pane's fields that the UI may change meanwhile. The name is claimed only once the
        trainer could be built, so a replaced model is not deleted by a run that cannot start."""
        name = settings.name

        def post(events: list) -> None:
            self.post_message(TrainEvents(events))

        try:
            trainer, notice = make_trainer(corpus, source, settings.arch,
                                           settings.config, resume, new_chars)
            if own:
                self.store.claim(name)  # held until training ends
            else:
                self.store.create(name, force=replace)
            trainer.state.best_val = self.store.best_val(name)  # the best file's own loss
        except ValueError as e:  # corpus too small, new characters refused, name taken…
            self.post_message(TrainingEnded(name, error=str(e)))
            return
        if notice:
            post([Notice(notice, "warning")])
        self.trainer = trainer
        final_eval = self._stop_request
        if final_eval is not None:  # Stop came while the trainer was being built
            trainer.stop(final_eval=final_eval)
        try:
            finished, ckpt, model = run_training(trainer, post, store_saver(self.store, name))
        except Exception as e:  # reported in the pane; the app stays up
            self.post_message(TrainingEnded(name, error=error_text(e)))
        else:
            self.post_message(TrainingEnded(name, finished, ckpt, model))

    # --- what the trainer says ---------------------------------------------------------
    def on_train_events(self, event: TrainEvents) -> None:
        chart = self.query_one(LossChart)
        for e in event.events:
            if isinstance(e, Progress):
                self.last = e
                chart.add_train(e.step, e.train_loss)
            elif isinstance(e, Evaluated):
                self.val = e
                chart.add_val(e.step, e.val_loss)
            elif isinstance(e, GradientFlow):
                self.query_one(GradientChart).show(self.run_name or "this run", e.step, e.norms)
            elif isinstance(e, Sampled):
                self.query_one("#train-sample", Static).update(e.text.strip("\n"))
            elif isinstance(e, Notice):
                self.notify(e.message, title="Training", severity={
                    "warning": "warning", "error": "error"}.get(e.level, "information"))
        self._show_stats()

    def _show_stats(self) -> None:
        p, v = self.last, self.val
        if p is None:
            return
        self.query_one("#chunk-row").display = True
        self.query_one("#chunk-bar", ProgressBar).update(total=p.chunks, progress=p.chunk)
        self.query_one("#chunk-label", Label).update(
            f"chunk {p.chunk:,} of {p.chunks:,}, epoch {p.epoch + 1}")
        lines = Text()
        if self.trainer is not None and self.trainer.paused:
            lines.append("paused  ", "bold")
        lines.append(f"step {p.step:,}  ")
        lines.append("loss ", "dim").append(loss_text(p.train_loss))
        if v is not None:
            lines.append("  val ", "dim").append(loss_text(v.val_loss))
        if self.stopping:  # no ETA any more: the run ends after this step
            lines.append(f"\n{_STOPPING}", "bold")
            self.query_one("#train-stats", Static).update(lines)
            return
        lines.append(f"\n{count(p.chars_per_s)} chars/s  ")
        lines.append("elapsed ", "dim").append(duration(max(0.0, p.elapsed - self._began)))
        lines.append("  ETA ", "dim").append(duration(p.eta))
        lines.append(f"  {p.device} {p.precision}  ", "dim")
        lines.append("lr ", "dim").append(f"{p.lr:.1e}")
        self.query_one("#train-stats", Static).update(lines)

    def on_training_ended(self, event: TrainingEnded) -> None:
        """Back to idle; a finished model becomes the one Start continues. Bubbles to the app."""
        self.running, self.trainer, self.stopping = False, None, False
        self.store.release(event.name)
        if event.error:
            self._set_running(False)
            self.query_one("#train-stats", Static).update(Text(f"✗ {event.error}", "red"))
            self.notify(event.error, title="Training did not run", severity="error")
            self._describe()
            return
        self.finished = event.finished
        self.set_resume(event.name, event.ckpt)
        self._set_running(False)
        self._show_finished(event.name)

    def _show_finished(self, name: str) -> None:
        f = self.finished
        self.query_one("#train-stats", Static).update(Text.assemble(
            (f"{f.why or f.reason} · step {f.step:,}", "bold"),
            "  val ", loss_text(f.val_loss),
            f"  {count(f.chars_per_s)} chars/s over {duration(f.seconds)}\n",
            (f"saved as {name} · F6 continues · F4 plays", "dim")))
