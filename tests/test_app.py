"""The app driven like a user would, with Pilot, on the real engine and a tiny corpus.

Models are tiny (LSTM 1×32, batch 4, sequence 16) so training shows loss points in
well under a second. Presses while a thread trains take Pilot up to 2 s (it waits for
the CPU to go idle), so those tests use few of them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from helpers import kit
from helpers.app import (
    SIZE,
    TEXT,
    load_corpus,
    open_in_playground,
    saved_model,
    select_row,
    start_training,
    text_of,
)
from helpers.pilot import wait_for
from textual import events, messages
from textual.widgets import Input, Select, Switch, TabbedContent

from charrnn_tui.app import FIRST_RUN_HINT, CharRNNApp
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.panes.corpus.pane import CorpusPane
from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train import form as train_form
from charrnn_tui.panes.train import pane as train_pane
from charrnn_tui.panes.train.loss_chart import LossChart
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.screens.dialogs import ConfirmScreen, PromptScreen
from charrnn_tui.screens.file_picker import FilePickerScreen
from charrnn_tui.screens.help import HelpScreen
from charrnn_tui.session import session_path
from charrnn_tui.widgets.temperature import TemperatureControl

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")

# --- frame ---------------------------------------------------------------------------------

async def test_fresh_install_opens_on_corpus_with_builtins_first():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "corpus"
        assert app.sub_title == "no model loaded · cpu"
        ids = [o.id for o in app.query_one("#sources").options]
        assert ids[:3] == ["builtin:python-docs", "builtin:python-source",
                           "builtin:tinyshakespeare"]
        assert app.focused is app.query_one("#sources")


async def test_first_run_with_a_shipped_model_opens_the_playground(shipped):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).sampler is not None)
        assert app.query_one(TabbedContent).active == "playground"
        assert text_of(app, "#play-hint") == FIRST_RUN_HINT
        assert app.sub_title == "bard · cpu"
        assert app.focused is app.query_one("#seed")


async def test_help_lists_the_keys_of_every_pane():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(f"{k} {d}" for _, rows in app.screen.sections for k, d in rows)
        for pane in (CorpusPane, TrainPane, PlaygroundPane, ModelsPane, TemperatureControl):
            for binding in pane.BINDINGS:
                assert (binding.tooltip or binding.description) in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_the_main_actions():
    app = CharRNNApp()
    async with app.run_test(size=SIZE):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Start training", "Stop training", "Generate", "Save generated text",
                "Go to Models", "Open a corpus file or folder"} <= titles


async def test_fits_in_80x24():
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("f2", "f3", "f4", "f5"):
            await pilot.press(key)
        await pilot.press("f3")
        assert app.query_one("#start").region.right <= 80
        assert app.query_one("#loss-chart").region.height >= 5


# --- corpus --------------------------------------------------------------------------------

async def test_loading_a_file_shows_facts_and_remembers_it(corpus_file, data_home):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await load_corpus(pilot, corpus_file)
        facts = text_of(app, "#corpus-facts")
        assert f"{len(TEXT):,}" in facts and "utf-8" in facts and "␣" in facts
        assert "the cat sat" in text_of(app, "#corpus-preview")
        assert json.loads((data_home / "recent.json").read_text()) == [str(corpus_file)]
        recent = [o.id for o in app.query_one("#sources").options]
        assert str(corpus_file) in recent


async def test_tab_completes_paths(corpus_file, monkeypatch):
    monkeypatch.chdir(corpus_file.parent)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l", "t", "i")
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert app.query_one("#path", Input).value == "tiny.txt"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one(TrainPane).corpus is not None)


async def test_a_bad_file_is_an_inline_error_and_the_app_stays_up(tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(CorpusPane)
        pane.load(str(binary))
        await wait_for(pilot, lambda: "binary" in text_of(app, "#corpus-error"))
        pane.load(str(tmp_path / "missing.txt"))
        await wait_for(pilot, lambda: "no such file" in text_of(app, "#corpus-error"))
        assert app.query_one(TrainPane).corpus is None


async def test_browse_opens_a_file_picker(corpus_file, monkeypatch):
    monkeypatch.chdir(corpus_file.parent)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, FilePickerScreen)
        app.query_one("#path", Input).value = str(corpus_file)
        await pilot.press("ctrl+o")
        app.screen.dismiss(str(corpus_file))
        await wait_for(pilot, lambda: app.query_one(TrainPane).corpus is not None)


async def test_an_encoding_can_be_given(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème brûlée. ".encode("latin-1") * 50)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(CorpusPane).load(str(latin))
        await wait_for(pilot, lambda: "not valid UTF-8" in text_of(app, "#corpus-error"))
        app.query_one("#encoding", Input).value = "latin-1"
        app.query_one(CorpusPane).load(str(latin))
        await wait_for(pilot, lambda: app.query_one(TrainPane).corpus is not None)
        assert "latin-1" in text_of(app, "#corpus-facts")


async def test_tinyshakespeare_offline_says_why():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(CorpusPane).load("builtin:tinyshakespeare")
        await wait_for(pilot, lambda: "could not download" in text_of(app, "#corpus-error"))


# --- train ---------------------------------------------------------------------------------

async def test_train_shows_loss_then_pause_resume_stop_saves(corpus_file, data_home):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "tiny")
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: len(chart.train) >= 3 and chart.val)
        assert "chars/s" in text_of(app, "#train-stats")
        assert "chunk" in str(app.query_one("#chunk-label").render())
        await wait_for(pilot, lambda: text_of(app, "#train-sample"))

        await pilot.press("f7")
        assert pane.trainer.paused
        await pilot.pause(0.3)
        step = pane.trainer.state.step
        await pilot.pause(0.5)
        assert pane.trainer.state.step == step, "paused training went on"
        assert "paused" in text_of(app, "#train-stats")
        await pilot.press("f7")
        assert not pane.trainer.paused

        await pilot.press("f8")
        await wait_for(pilot, lambda: not pane.running)
        assert "stopped" in text_of(app, "#train-stats")
        assert (data_home / "models" / "tiny" / "last.safetensors").exists()
        play = app.query_one(PlaygroundPane)
        assert play.model_name == "tiny" and play.sampler is not None
        assert pane.resume is not None and pane.resume_name == "tiny"
        assert app.query_one("#layers").disabled, "a resumed model's shape is fixed"


async def test_name_clash_asks_before_replacing(corpus_file, data_home):
    saved_model(data_home, "taken")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await start_training(pilot, corpus_file, "taken", "max_steps", "5")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert not app.query_one(TrainPane).running
        await pilot.press("f6")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).model_name == "taken")
        assert ModelStore(data_home / "models").load("taken").state.step == 5


async def test_settings_are_checked_field_by_field(corpus_file):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await load_corpus(pilot, corpus_file)
        await pilot.press("f3")
        app.query_one("#layers", Input).value = "0"
        await pilot.pause()
        assert "Layers" in text_of(app, "#train-error")
        assert app.query_one("#start").disabled
        app.query_one("#layers", Input).value = "1"
        app.query_one("#impl", Select).value = "numpy"
        await pilot.pause()
        assert app.query_one("#cell", Select).value == "rnn", "numpy has only the rnn cell"
        assert text_of(app, "#train-error") == ""
        app.query_one("#name", Input).value = "bad name!"
        await pilot.pause()
        assert "Save as" in text_of(app, "#train-error")


async def test_a_corpus_too_small_for_the_batch_is_reported(tmp_path):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await start_training(pilot, kit.write_text(tmp_path / "short.txt", "abcabc" * 10),
                             None, "max_steps", "5", batch="64")
        await wait_for(pilot, lambda: not app.query_one(TrainPane).running)
        assert "needs at least" in text_of(app, "#train-stats")


async def test_gpu_switch_is_disabled_with_the_reason():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        assert app.query_one("#gpu", Switch).disabled
        assert "no CUDA or MPS device found" in text_of(app, "#gpu-reason")


async def test_gpu_switch_moves_a_running_training(monkeypatch, corpus_file):
    monkeypatch.setattr(train_form, "accelerator_available", lambda: ("cuda", "Fake GPU"))
    requests = []
    monkeypatch.setattr(Trainer, "request_device", lambda self, device: requests.append(device))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file)
        await wait_for(pilot, lambda: pane.trainer is not None)
        switch = app.query_one("#gpu", Switch)
        assert not switch.disabled and app.query_one("#batch").disabled
        switch.toggle()
        await wait_for(pilot, lambda: requests == ["cuda"])
        switch.toggle()
        await wait_for(pilot, lambda: requests == ["cuda", "cpu"])
        await pilot.press("f8")
        await wait_for(pilot, lambda: not pane.running)


async def test_quit_while_training_stops_and_saves(corpus_file, data_home):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "quitter")
        await wait_for(pilot, lambda: pane.trainer is not None and pane.trainer.state.step > 3)
        started = time.monotonic()
        await app.action_quit()
        # not a speed assertion: a quit that waited for the 600 s budget would fail it
        assert time.monotonic() - started < 60
    assert (data_home / "models" / "quitter" / "last.safetensors").exists()


async def test_the_training_thread_never_reads_the_panes_corpus(corpus_file, data_home,
                                                                monkeypatch):
    """The UI may load another corpus at any moment: the thread gets what Start saw, as
    arguments, and never reads the pane's `corpus` or `source` itself."""
    off_thread: list[str] = []

    def watched(field: str) -> property:
        def get(self):
            if threading.current_thread() is not threading.main_thread():
                off_thread.append(field)
            return self.__dict__.get(f"_watched_{field}")

        def put(self, value) -> None:
            self.__dict__[f"_watched_{field}"] = value

        return property(get, put)

    monkeypatch.setattr(TrainPane, "corpus", watched("corpus"), raising=False)
    monkeypatch.setattr(TrainPane, "source", watched("source"), raising=False)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "args-only")  # trains until stopped
        await wait_for(pilot, lambda: pane.trainer is not None)  # built from what it got
        pane.stop_for_exit()
        await wait_for(pilot, lambda: not pane.running)
    assert off_thread == []


async def test_a_quit_while_the_trainer_is_built_skips_the_closing_evaluation(
        corpus_file, data_home, monkeypatch):
    """A quit that comes before the thread has a trainer reaches it whole: stop, and no
    pass over the validation split (the stop and its final_eval are one request)."""
    building, go_on = threading.Event(), threading.Event()
    make_trainer = train_pane.make_trainer

    def slow_make_trainer(*args, **kwargs):
        building.set()
        go_on.wait(10)
        return make_trainer(*args, **kwargs)

    monkeypatch.setattr(train_pane, "make_trainer", slow_make_trainer)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "quick-quit")
        await wait_for(pilot, building.is_set)
        assert pane.trainer is None and pane.stop_for_exit()
        go_on.set()
        await wait_for(pilot, lambda: not pane.running)
    state = ModelStore(data_home / "models").load("quick-quit").state
    assert state.step == 0 and state.last_val is None, "the closing evaluation ran"


async def test_resume_refuses_a_corpus_with_new_characters(tmp_path, data_home):
    saved_model(data_home, "small")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.query_one(TrainPane).resume is not None)
        assert app.query_one(TabbedContent).active == "train"
        await start_training(pilot, kit.write_text(tmp_path / "new.txt", TEXT + "XYZ"), None,
                             "max_steps", "3")
        await wait_for(pilot, lambda: not app.query_one(TrainPane).running)
        error = text_of(app, "#train-stats")
        assert "never saw" in error and "'X'" in error


# --- playground ----------------------------------------------------------------------------

async def test_stream_change_temperature_stop_continue_clear_save(data_home, tmp_path):
    saved_model(data_home, "cat", steps=30)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        assert app.query_one(TabbedContent).active == "playground"
        app.query_one("#speed", Select).value = 40  # slow, to act mid-stream
        app.query_one("#length", Input).value = "400"
        app.query_one("#seed", Input).value = "the "
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(play.text) > 10)
        assert play.text.startswith("the ")
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert play.sampler.params.temperature == pytest.approx(0.9)
        assert "0.90" in str(app.query_one(TemperatureControl).render())
        assert play.stream.producing, "the stream should still be running"

        await pilot.press("f8")
        stopped = play.text
        await pilot.pause(0.3)
        assert play.text == stopped, "nothing arrives after Stop"
        app.query_one("#speed", Select).value = 0
        app.query_one("#length", Input).value = "50"
        await pilot.press("f6")
        await wait_for(pilot, lambda: len(play.text) == len(stopped) + 50)
        assert play.text.startswith(stopped), "Continue appends to the same text"

        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        target = tmp_path / "out.txt"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        assert target.read_text(encoding="utf-8") == play.text

        await pilot.press("ctrl+l")
        assert play.text == ""


async def test_temperature_control_clamps_and_follows_the_mouse():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        control = app.query_one(TemperatureControl)
        control.focus()
        await pilot.press("home")
        assert control.value == 0.05
        await pilot.press("left_square_bracket")
        assert control.value == 0.05
        await pilot.press("end", "right")
        assert control.value == 2.0
        await pilot.click(TemperatureControl, offset=(control.size.width - 2, 0))
        assert control.value == 2.0
        start, _ = control._bar_span()
        await pilot.click(TemperatureControl, offset=(start, 0))
        assert control.value == 0.05
        control.post_message(events.MouseScrollUp(control, 30, 0, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert control.value == 0.1
        assert app.query_one(PlaygroundPane).params.temperature == 0.1


# --- models --------------------------------------------------------------------------------


async def test_models_save_rename_delete(data_home):
    saved_model(data_home, "alpha")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        pane = app.query_one(ModelsPane)
        assert list(pane.infos) == ["alpha"]
        await pilot.press("enter")
        play = app.query_one(PlaygroundPane)
        await wait_for(pilot, lambda: play.model_name == "alpha")

        await pilot.press("f5", "s")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "beta"
        await pilot.press("enter")
        assert list(pane.infos) == ["alpha", "beta"]
        assert play.model_name == "beta" and app.sub_title.startswith("beta"), \
            "after Save as… the Playground plays the copy, under its name"

        select_row(app, "beta")
        await pilot.press("n")
        app.screen.query_one(Input).value = "alpha"
        await pilot.press("enter")
        assert "exists" in str(app.screen.query_one("#prompt-error").render())
        app.screen.query_one(Input).value = "gamma"
        await pilot.press("enter")
        assert list(pane.infos) == ["alpha", "gamma"]
        assert play.model_name == "gamma" and app.sub_title.startswith("gamma"), \
            "the Playground follows a rename"

        select_row(app, "alpha")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert list(pane.infos) == ["alpha", "gamma"]
        await pilot.press("d", "y")
        assert list(pane.infos) == ["gamma"]
        assert not (data_home / "models" / "alpha").exists()


async def test_built_in_models_are_read_only(shipped, data_home):
    saved_model(data_home, "mine")  # the user has a model: no first-run Playground
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one(TabbedContent).active == "corpus"
        await pilot.press("f5")
        assert "(built-in)" in str(app.query_one("#models-table").get_row("bard")[0])
        await pilot.press("d")
        assert "cannot be deleted" in text_of(app, "#models-status")
        await pilot.press("r")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "bard-own"
        await pilot.press("enter")
        train = app.query_one(TrainPane)
        await wait_for(pilot, lambda: train.resume is not None)
        assert train.resume_name is None and app.query_one("#name", Input).value == "bard-own"


async def test_quit_returns_without_a_traceback():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await asyncio.sleep(0)
    assert app.return_code in (0, None)


async def test_no_new_stream_beside_a_thread_that_outlived_stop(data_home, monkeypatch):
    """A sampling thread deaf to Stop past the 2 s wait must not share the sampler (or its
    buffer) with a new stream: Enter is refused until that thread has ended."""
    saved_model(data_home, "cat", steps=5)
    lock, release = threading.Lock(), threading.Event()
    inside, most = [0], [0]
    next_char = Sampler.next_char

    def slow_next_char(self):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            release.wait(10)  # like one model call that takes very long
            return next_char(self)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(Sampler, "next_char", slow_next_char)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: inside[0] == 1)
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")  # halts, waits 2 s in vain, then must not start another
        await pilot.pause(2.5)
        assert most[0] == 1, "two threads sampled at once"
        release.set()
        await wait_for(pilot, lambda: not play.stream.busy)
    assert most[0] == 1


async def test_quit_while_generating_returns_within_2s(data_home):
    saved_model(data_home, "cat", steps=5)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        app.query_one("#speed", Select).value = 0  # as fast as it generates
        app.query_one("#length", Input).value = "1000000"
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(play.text) > 50)
        worker = play.stream.worker
        started = time.monotonic()
        await app.action_quit()
        # not a speed assertion: a quit that waited for a million characters would fail it
        assert time.monotonic() - started < 60
    while not worker.is_finished and time.monotonic() - started < 60:
        await asyncio.sleep(0.05)
    assert worker.is_finished, "the sampling thread outlived the app"


async def test_an_exit_from_outside_saves_a_running_training_as_quit_does(corpus_file,
                                                                          data_home):
    """SIGTERM, SIGHUP, a closed browser tab and Ctrl-C on `serve` all reach the app as an
    ExitApp message: it must stop and save the training, as Quit does, not just end."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "hungup")
        await wait_for(pilot, lambda: pane.trainer is not None and pane.trainer.state.step > 3)
        app.post_message(messages.ExitApp())
        deadline = time.monotonic() + 20
        while not session_path().is_file() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert session_path().is_file()  # the Quit path ran
    assert (data_home / "models" / "hungup" / "last.safetensors").exists()
