"""The Models tab driven with Pilot: save as, rename, delete, and the read-only built-ins."""

from __future__ import annotations

import pytest
from helpers.app import SIZE, saved_model, select_row, text_of
from helpers.pilot import wait_for
from textual.widgets import Input, TabbedContent

from charrnn_tui.app import CharRNNApp
from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.screens.dialogs import ConfirmScreen, PromptScreen

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


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
