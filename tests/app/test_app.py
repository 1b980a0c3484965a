"""The app as a whole driven with Pilot: where it opens, help, the command palette, 80×24,
quitting. Each tab's own tests are in the folder named after it."""

from __future__ import annotations

import asyncio

import pytest
from helpers.app import SIZE, text_of
from helpers.pilot import wait_for
from textual.widgets import TabbedContent

from charrnn_tui.app import FIRST_RUN_HINT, CharRNNApp
from charrnn_tui.panes.corpus.pane import CorpusPane
from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.screens.help import HelpScreen
from charrnn_tui.widgets.temperature import TemperatureControl

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


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



async def test_quit_returns_without_a_traceback():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await asyncio.sleep(0)
    assert app.return_code in (0, None)
