"""The Playground driven with Pilot: a stream changed while it runs, stopped, continued,
cleared and saved; the temperature control; a thread that outlives Stop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from helpers.app import SIZE, open_in_playground, saved_model
from helpers.pilot import wait_for
from textual import events
from textual.widgets import Input, Select, TabbedContent

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.widgets.temperature import TemperatureControl

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


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
