"""The app: five panes in tabs, and the routing of messages between them."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING

from textual import messages
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState

from charrnn_tui import torch_loader
from charrnn_tui.commands import TABS, help_sections, palette
from charrnn_tui.confine import readable_source
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.storage.store import StoreError
from charrnn_tui.engine.training.events import Progress
from charrnn_tui.messages import (
    CorpusLoaded,
    ModelReady,
    ModelRenamed,
    ModelSavedAs,
    TorchLoaded,
    TrainEvents,
    TrainingEnded,
)
from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.resources import open_store
from charrnn_tui.screens.help import HelpScreen
from charrnn_tui.session import Session, load_session, read_controls, save_session, write_controls
from charrnn_tui.tab_panes import SteadyTabs, TabPanes

if TYPE_CHECKING:
    from charrnn_tui.panes.insight.pane import InsightPane
    from charrnn_tui.panes.train.pane import TrainPane

FIRST_RUN_HINT = ("Type a seed, press Enter, change the temperature with [ ]; "
                  "or train your own in Corpus (F2).")
SESSION_SKIP = ("name", "new_chars", "gpu")  # per run, not settings to carry over
INSIGHT_SKIP = ("ins-compare",)  # a second model to load: the user picks it again
EXIT_WAIT = 2.0  # seconds to let training stop and save before the app closes anyway
LOAD_TORCH_AFTER = 3.0  # seconds after start at the latest, if the first model is slow
EAGER_PANES = ("playground", "models")  # they hold and load the model: built at start
PANE_NEEDS = {"train": ("corpus",)}  # Train trains on what Corpus loads


class CharRNNApp(App[None]):
    """Corpus → Train → Playground, with saved Models alongside and Insight into the model."""

    CSS_PATH = "app.tcss"
    TITLE = "charrnn-tui"
    AUTO_FOCUS = None  # focus goes into the active pane (see _focus_active_pane), not the tabs
    # Screen classes for small terminals (80×24): narrower form, fewer blank rows (app.tcss)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help"),
        Binding("escape", "leave_field", "Leave the field", show=False,
                tooltip="Leave the field: the pane's keys work again"),
        *(Binding(key.lower(), f"show_tab('{tab}')", title, show=False)
          for tab, title, key in TABS),
    ]

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Always plain text: messages carry file, corpus and model names, and a '[' in one
        must show as itself, not raise MarkupError (widgets' notify calls end up here)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def __init__(self, home: str | None = None, *, fresh: bool = False) -> None:
        super().__init__()
        self.home = home
        self.store = open_store(home)
        self.device = "cpu"
        self.fresh = fresh  # a first run's look for this launch only: the session stays
        self.session, self._session_notice = (None, None) if fresh else load_session()
        self.first_model = None if self.session else self._shipped_model_for_first_run()
        # the first model loaded (first run, or last session's) keeps the tab where it is
        self._first_load_pending = bool(self.first_model or self.session and self.session.model)
        self._resume_pending: str | None = None  # last session's model for Train, loading
        self.saving_on_exit: str | None = None  # a model still being saved as the app closes
        self.session_error: str | None = None  # why the session could not be saved, if so
        self._leaving = False  # Quit (or exit) has begun: an ExitApp may go through
        self._torch_loading = False
        self._resume_name: str | None = None  # what Train continues while it is not built
        self.panes: TabPanes  # on mount
        self._lazy: dict[str, Callable[[], Widget]] = {}  # panes built when first shown

    def _shipped_model_for_first_run(self) -> str | None:
        """A shipped model to open with, when the user has none of their own yet (or asked
        for a first run's look with --fresh)."""
        infos = self.store.list()
        if not self.fresh and any(not i.read_only for i in infos):
            return None
        return next((i.name for i in infos if i.read_only and not i.error), None)

    def _pane_factories(self) -> dict[str, Callable[[], Widget]]:
        """Each tab's pane. The modules of the panes built later are imported then too:
        Corpus, Train and Insight cost about 0.1 s of imports before the first screen."""

        def corpus() -> Widget:
            from charrnn_tui.panes.corpus.pane import CorpusPane

            return CorpusPane(self.home, id="corpus-pane")

        def train() -> Widget:
            from charrnn_tui.panes.train.pane import TrainPane

            return TrainPane(self.store, id="train-pane")

        def insight() -> Widget:
            from charrnn_tui.panes.insight.pane import InsightPane

            return InsightPane(self.home, self.store, readable_source, id="insight-pane")

        return {"corpus": corpus, "train": train, "insight": insight,
                "playground": lambda: PlaygroundPane(self.home, id="playground-pane"),
                "models": lambda: ModelsPane(self.store, self._playground_model,
                                             self._training_name, id="models-pane")}

    def compose(self) -> ComposeResult:
        """The panes of the first tab shown, the Playground and Models (they hold and load
        the model); the others when first shown (tab_panes.py)."""
        yield Header()
        initial = (self.session.tab if self.session
                   else "playground" if self.first_model else "corpus")
        factories = self._pane_factories()
        eager = {initial, *EAGER_PANES}
        self._lazy = {tab: make for tab, make in factories.items() if tab not in eager}
        with SteadyTabs(initial=initial, id="tabs"):
            for tab, title, _ in TABS:
                with TabPane(title, id=tab):
                    if tab in eager:
                        yield factories[tab]()
        yield Footer()

    async def on_mount(self) -> None:
        self.panes = TabPanes(self.query_one(TabbedContent), self._lazy, PANE_NEEDS)
        self._quit_on_signals()
        # Tab cycles through the pane alone: on the tab bar, the pane's keys would not work
        # (F2–F9 and clicks switch tabs)
        self.query_one(Tabs).can_focus = False
        self._update_subtitle()
        self.call_after_refresh(self._focus_active_pane)
        if self._first_load_pending:
            self.set_timer(LOAD_TORCH_AFTER, self._load_torch)
        else:
            self.call_after_refresh(self._load_torch)
        self.watch(self.screen, "focused", self._focus_changed, init=False)
        if self._session_notice:
            self.notify(self._session_notice, severity="warning", timeout=8)
        if self.session:
            await self._restore(self.session)
        elif self.first_model:
            self.playground.show_hint(FIRST_RUN_HINT)
            self.query_one(ModelsPane).open_model(self.first_model, "play")

    async def _restore(self, session: Session) -> None:
        """Reopen where the user left off; what is gone since is said, not fatal."""
        if session.theme in self.available_themes:  # one removed since: the default
            self.theme = session.theme
        write_controls(self.playground, session.playground)

        def train(pane: TrainPane) -> None:
            write_controls(pane.form, session.train, skip=SESSION_SKIP)
            pane.preset_restored()

        def insight(pane: InsightPane) -> None:
            write_controls(pane, session.insight, skip=INSIGHT_SKIP)
            pane.lens_restored()

        await self.panes.tell("train", train)
        await self.panes.tell("insight", insight)
        if session.corpus:
            await self.panes.tell("corpus", lambda pane: pane.load(session.corpus))
        infos = self.store.list()
        # Train continues the model it was set to continue (once the Playground's model is
        # loaded: one load at a time, and often it is the same model)
        own = {i.name for i in infos if not i.read_only}
        self._resume_pending = session.resume if session.resume in own else None
        self._resume_name = self._resume_pending
        if session.model and session.model in {i.name for i in infos}:
            self.query_one(ModelsPane).open_model(session.model, "play")
        else:
            if session.model:
                self._first_load_pending = False
                self.notify(f"The model {session.model!r} you had open last time is gone.",
                            severity="warning")
            await self._load_pending_resume()

    async def _load_pending_resume(self, ready: ModelReady | None = None) -> None:
        if self._resume_pending is None:
            return
        if ready is not None and ready.name == self._resume_pending:
            self._resume_pending = None
            await self.panes.tell("train", lambda pane: pane.set_resume(ready.name, ready.ckpt))
        else:
            self.query_one(ModelsPane).open_model(self._resume_pending, "resume")

    def _session(self) -> Session:
        """What to reopen next time; a pane never shown keeps what the last session had."""
        last = self.session or Session()
        corpus, train, insight = (self.panes.built(t) for t in ("corpus", "train", "insight"))
        if train is None:
            resume = self._resume_name
        else:
            resume = train.run_name if train.running else train.resume_name
        return Session(self.query_one(TabbedContent).active, self.playground.model_name,
                       corpus.source if corpus else last.corpus,
                       read_controls(self.playground),
                       read_controls(train.form, skip=SESSION_SKIP)
                       if train else last.train,
                       resume=resume,
                       insight=read_controls(insight, skip=INSIGHT_SKIP)
                       if insight else last.insight,
                       theme=self.theme)

    # --- panes ---------------------------------------------------------------------------
    @property
    def playground(self) -> PlaygroundPane:
        return self.query_one(PlaygroundPane)

    def _playground_model(self) -> tuple[str, Checkpoint] | None:
        pane = self.playground
        return (pane.model_name, pane.ckpt) if pane.model_name and pane.ckpt else None

    def _training_name(self) -> str | None:
        train = self.panes.built("train")
        return train.run_name if train and train.running else None

    def _focus_changed(self, focused) -> None:
        """A pane's keys only work with focus inside it: never leave focus nowhere.

        Focus is lost when the focused control gets disabled (Start while training runs,
        Compare while it compares). The main screen gets its focus back even while a dialog
        is up, so that closing the dialog returns to the pane's first field.
        """
        if focused is None:
            self.call_after_refresh(self._focus_active_pane)

    def _active_pane(self) -> Widget | None:
        """The shown tab's pane; None while it is being built (focus goes in after)."""
        return self.panes.built(self.query_one(TabbedContent).active)

    def _focus_active_pane(self) -> None:
        if self.screen_stack[0].focused is None and (pane := self._active_pane()):
            pane.focus_default()

    def action_leave_field(self) -> None:
        """Escape in a field: focus the pane's text (or its first control), never nowhere."""
        pane = self._active_pane()
        if pane is not None:
            getattr(pane, "leave_field", pane.focus_default)()

    async def _build_shown(self, tab: str) -> Widget:
        """The pane of a tab being shown, built first if it is not yet.

        While it is built, the field focused in the tab left stays focused, and a focused
        field in a hidden tab makes TabbedContent show that tab again: focus leaves it
        first; the caller puts it into the new pane.
        """
        if self.panes.built(tab) is None and self.screen_stack:  # none as the app closes
            self.screen_stack[0].set_focus(None)
        return await self.panes.build(tab)

    async def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        (await self._build_shown(tab)).focus_default()

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Focus moves into the pane, so its keys work and show in the footer at once.

        Not for a tab already left: the message comes after the switch (and the pane's
        build), and focusing a widget in a hidden tab makes TabbedContent show that tab
        again.
        """
        tab = event.pane.id
        pane = await self._build_shown(tab)
        if tab != self.query_one(TabbedContent).active:
            return
        if tab in ("models", "insight"):
            pane.refresh_models()
        # after the focus calls already made (a widget's focus() is deferred): a command
        # may have put the focus into the pane already
        self.call_after_refresh(self._focus_into, pane)

    def _focus_into(self, pane: Widget) -> None:
        if pane.parent.id != self.query_one(TabbedContent).active:
            return  # another tab was shown since
        focused = self.focused
        if not isinstance(focused, Tabs) and not (focused and pane in focused.ancestors):
            pane.focus_default()

    def _update_subtitle(self) -> None:
        model = self.playground.model_name or "no model loaded"
        self.sub_title = f"{model} · {self.device}"

    # --- routing -------------------------------------------------------------------------
    def _load_torch(self) -> None:
        """Start importing torch, once: after the first model is in the Playground (the
        import would compete with loading it for the GIL), or after the first paint when
        there is none. Until it is done, what needs torch says so (torch_loader.LOADING)."""
        if not self._torch_loading:
            self._torch_loading = True
            torch_loader.load(lambda error: self.post_message(TorchLoaded(error)))

    async def on_torch_loaded(self, event: TorchLoaded) -> None:
        if not self._leaving:
            await self.panes.tell(
                "train", lambda pane: pane.form.torch_loaded(event.error))

    async def on_corpus_loaded(self, event: CorpusLoaded) -> None:
        await self.panes.tell("train", lambda pane: pane.set_corpus(event.corpus, event.source))

    def on_train_events(self, event: TrainEvents) -> None:
        last = next((e for e in reversed(event.events) if isinstance(e, Progress)), None)
        if last is not None and last.device != self.device:
            self.device = last.device
            self._update_subtitle()

    async def on_training_ended(self, event: TrainingEnded) -> None:
        self.device = "cpu"
        if event.ckpt is not None:
            try:
                playground = self.playground
            except NoMatches:  # training ended as the app closed: the panes are gone
                return
            await playground.set_model(event.name, event.ckpt, event.model)
            await self.panes.tell("insight", lambda pane: pane.set_model(event.name, event.ckpt))
            self.playground.show_hint("")
            self.query_one(ModelsPane).refresh_models()
        self._update_subtitle()

    async def on_model_ready(self, event: ModelReady) -> None:
        if event.purpose == "play":
            first = self._first_load_pending  # the first-run model: stay, with the hint
            if not first:  # before the awaits: a tab the user picks meanwhile stays picked
                self.playground.show_hint("")
                await self.action_show_tab("playground")  # built: no wait
            await self.playground.set_model(event.name, event.ckpt, event.model)
            await self.panes.tell("insight", lambda pane: pane.set_model(event.name, event.ckpt))
            self._update_subtitle()
            if first:
                self._first_load_pending = False
                self.call_after_refresh(self._load_torch)
                await self._load_pending_resume(event)
            return
        if event.name == self._resume_pending:  # last session's: Train is as it was
            self._resume_pending = None

            def resume(pane: TrainPane) -> None:
                if not pane.running:
                    pane.set_resume(event.name, event.ckpt)

            await self.panes.tell("train", resume)
            return
        train = await self.panes.build("train")
        if train.running:
            self.notify("Training is running: stop it before resuming another model.",
                        severity="warning")
            return
        train.set_resume(event.name, event.ckpt, copy_of=event.copy_of)
        source = readable_source(event.ckpt.corpus)
        if train.corpus is None and source:
            self.query_one("#corpus-pane").load(source)  # built with Train
        elif train.corpus is None:
            self.notify("Load a corpus to continue training on in the Corpus tab (F2).",
                        title="Resume")
        await self.action_show_tab("train")

    async def on_model_renamed(self, event: ModelRenamed) -> None:
        """Names shown elsewhere follow a rename; a deleted model can no longer continue."""
        if self._resume_name == event.old:
            self._resume_name = event.new
        await self.panes.tell("train", lambda pane: pane.model_renamed(event.old, event.new))
        if self.playground.model_name != event.old:
            return
        if event.new:
            await self.on_model_saved_as(ModelSavedAs(event.old, event.new))
            return
        self.playground.rename(event.old, note="deleted: only in memory now")
        self.notify(f"{event.old} is deleted, but the Playground still holds it until another "
                    "model loads. Save current as… (s in Models) keeps it.",
                    title="Deleted the model in use", severity="warning", timeout=8)

    async def on_model_saved_as(self, event: ModelSavedAs) -> None:
        """The Playground's model goes by its new name (after a rename or Save as…)."""
        self.playground.rename(event.new)
        await self.panes.tell("insight", lambda pane: pane.rename(event.new))
        self._update_subtitle()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Last line of defence: a worker that raised anyway is reported, not fatal."""
        if event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), title="Something went wrong",
                        severity="error")

    # --- help and commands (charrnn_tui/commands.py) -----------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(
                "Mouse works too: click tabs, buttons and the temperature bar; scroll over it.",
                help_sections(self)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette(self)

    # --- leaving -------------------------------------------------------------------------
    def _quit_on_signals(self) -> None:
        """SIGTERM and SIGHUP (a closed terminal, a shutdown) leave as Quit does, where
        they would kill the app mid-save; Textual's web driver sends SIGINT and SIGTERM here
        already, as ExitApp. Not under tests (headless) nor where asyncio has no signals."""
        if self.is_headless:
            return
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                with suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(getattr(signal, name),
                                            lambda: self.post_message(messages.ExitApp()))

    def exit(self, *args, **kwargs) -> None:
        self._leaving = True
        super().exit(*args, **kwargs)

    def on_exit_app(self, event: messages.ExitApp) -> None:
        """An exit asked from outside (a signal, a closed browser tab, Ctrl-C on `serve`)
        goes the way Quit does, so a running training saves as Stop would."""
        if not self._leaving:
            event.prevent_default()
            self._leaving = True
            self.call_later(self.action_quit)

    async def action_quit(self) -> None:
        """Stop sampling and training first; training saves its model as it ends."""
        self._leaving = True
        self.playground.stop_for_exit()
        if insight := self.panes.built("insight"):
            insight.stop_for_exit()
        train = self.panes.built("train")
        if train is not None and train.stop_for_exit():
            self.notify("Stopping training and saving the model…", timeout=EXIT_WAIT)
            deadline = time.monotonic() + EXIT_WAIT
            while train.running and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if train.running:  # the thread goes on evaluating and saving; Python waits for it
                self.saving_on_exit = train.run_name
        try:
            if not self.fresh:
                save_session(self._session())
        except OSError as e:
            self.session_error = str(e)
        self.exit()


def run_app(home: str | None = None, *, fresh: bool = False) -> None:
    """Open the app on the data home `home` ($CHARRNN_TUI_HOME or the user data dir);
    where the last session left off unless `fresh`."""
    try:
        app = CharRNNApp(home, fresh=fresh)
    except (OSError, StoreError) as e:
        print(f"charrnn-tui: cannot use the data folder: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    app.run()
    if app.session_error:
        print(f"charrnn-tui: could not remember this session: {app.session_error}",
              file=sys.stderr)
    if app.saving_on_exit:
        print(f"charrnn-tui: finishing the save of "
              f"{app.saving_on_exit}…", file=sys.stderr)
