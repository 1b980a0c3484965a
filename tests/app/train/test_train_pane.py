"""The Train tab driven with Pilot on a tiny corpus: the loss as it trains, pause, stop,
the settings checked field by field, the GPU switch, and quitting while it trains.

Models are tiny (LSTM 1×32, batch 4, sequence 16) so training shows loss points in
well under a second. Presses while a thread trains take Pilot up to 2 s (it waits for
the CPU to go idle), so those tests use few of them.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from helpers import kit
from helpers.app import SIZE, TEXT, load_corpus, pane_of, saved_model, start_training, text_of
from helpers.pilot import wait_for
from textual import messages
from textual.widgets import Input, Select, Switch, TabbedContent

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train import form as train_form
from charrnn_tui.panes.train import pane as train_pane
from charrnn_tui.panes.train.loss_chart import LossChart
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.screens.dialogs import ConfirmScreen
from charrnn_tui.session import session_path

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


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
        train = await pane_of(app, "train")
        await start_training(pilot, corpus_file, "taken", "max_steps", "5")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert not train.running
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
        train = await pane_of(app, "train")
        await start_training(pilot, kit.write_text(tmp_path / "short.txt", "abcabc" * 10),
                             None, "max_steps", "5", batch="64")
        await wait_for(pilot, lambda: not train.running)
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
        train = await pane_of(app, "train")
        await pilot.press("f5")
        await pilot.press("r")
        await wait_for(pilot, lambda: train.resume is not None)
        assert app.query_one(TabbedContent).active == "train"
        await start_training(pilot, kit.write_text(tmp_path / "new.txt", TEXT + "XYZ"), None,
                             "max_steps", "3")
        await wait_for(pilot, lambda: not train.running)
        error = text_of(app, "#train-stats")
        assert "never saw" in error and "'X'" in error



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
