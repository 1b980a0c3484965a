"""Session restore: the app reopens where the user left off, and a bad session file is
ignored with a notice, never a crash."""

from __future__ import annotations

import json
import os

import pytest
from helpers.app import SIZE, load_corpus, pane_of, saved_model, text_of
from helpers.pilot import wait_for
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Select, Switch, TabbedContent

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.training.presets import PRESETS
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.session import ENV_CONFIG, Session, load_session, save_session, session_path
from charrnn_tui.widgets.temperature import TemperatureControl

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


async def test_quit_and_reopen_lands_where_the_user_left_off(data_home, tmp_path):
    saved_model(data_home, "mine")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await load_corpus(pilot, corpus)
        app.query_one("#preset", Select).value = "tiny"
        await pilot.pause()
        app.query_one("#hidden", Input).value = "48"
        app.query_one("ModelsPane").open_model("mine", "play")
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).sampler is not None)
        # the load ends by showing the Playground: wait for that too, or it lands after
        # the switch to Insight below and the session keeps the Playground
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "playground")
        app.query_one("#temperature", TemperatureControl).value = 1.35
        app.query_one("#top_k", Input).value = "7"
        app.query_one("#argmax", Switch).value = True
        app.query_one("#speed", Select).value = 0
        app.query_one("#seed", Input).value = "ROMEO:"
        await app.action_show_tab("insight")
        app.query_one("#ins-seed", Input).value = "KING:"
        app.query_one("InsightPane").action_toggle_view()
        app.query_one("InsightPane").action_unit(3)
        await pilot.pause()
        await app.action_quit()
    assert session_path().is_file()

    again = CharRNNApp()
    async with again.run_test(size=SIZE) as pilot:
        train_again = await pane_of(again, "train")
        await wait_for(pilot, lambda: again.query_one(PlaygroundPane).sampler is not None)
        await wait_for(pilot, lambda: train_again.corpus is not None)
        assert again.query_one(TabbedContent).active == "insight"
        assert again.query_one(PlaygroundPane).model_name == "mine"
        assert again.sub_title == "mine · cpu"
        assert again.query_one("#temperature", TemperatureControl).value == 1.35
        assert again.query_one(PlaygroundPane).params.temperature == 1.35
        assert again.query_one("#top_k", Input).value == "7"
        assert again.query_one("#argmax", Switch).value is True
        assert again.query_one("#speed", Select).value == 0
        assert again.query_one("#seed", Input).value == "ROMEO:"
        assert again.query_one("#preset", Select).value == "tiny"
        assert again.query_one("#hidden", Input).value == "48"  # not the preset's 128
        assert text_of(again, "#preset-hint") == PRESETS["tiny"].description
        assert train_again.source == str(corpus)
        insight = again.query_one("InsightPane")
        assert again.query_one("#ins-seed", Input).value == "KING:"
        assert (insight.lens.view, insight.lens.unit) == ("neuron", 3)
        assert again.query_one("#ins-view", Select).value == "neuron"


@pytest.mark.parametrize("played", ["mine", "other"])
async def test_reopening_offers_to_resume_the_model_train_was_set_to_continue(data_home,
                                                                              played):
    saved_model(data_home, "mine")
    saved_model(data_home, "other")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        app.query_one("ModelsPane").open_model(played, "play")
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).sampler is not None)
        app.query_one("ModelsPane").open_model("mine", "resume")
        await wait_for(pilot, lambda: train.resume_name == "mine")
        await app.action_show_tab("playground")
        await app.action_quit()

    again = CharRNNApp()
    async with again.run_test(size=SIZE) as pilot:
        train = await pane_of(again, "train")
        await wait_for(pilot, lambda: train.resume_name == "mine")
        assert train.resume is not None and again.query_one(PlaygroundPane).model_name == played
        assert "Resume mine" in text_of(again, "#train-target")
        assert again.query_one(TabbedContent).active == "playground", "the tab stays"


async def test_fresh_ignores_the_saved_session(data_home):
    saved_model(data_home, "mine")
    save_session(Session("models", "mine", None, {}, {}))
    app = CharRNNApp(fresh=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "corpus"
        assert app.query_one(PlaygroundPane).model_name is None
        await app.action_quit()
    assert load_session()[0].tab == "models", "--fresh affects only its own launch"


async def test_fresh_looks_like_a_first_run_even_with_models_of_ones_own(data_home, request):
    request.getfixturevalue("shipped")  # after the module's no_shipped_models
    saved_model(data_home, "mine")
    app = CharRNNApp(fresh=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one(PlaygroundPane).model_name == "bard")
        assert app.query_one(TabbedContent).active == "playground"


async def test_a_model_deleted_since_is_said_not_fatal():
    save_session(Session("playground", "gone", None, {"top_k": "3"}, {}))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "playground"
        assert app.query_one("#top_k", Input).value == "3"
        assert any("'gone'" in n.message for n in app._notifications)
        assert "no model loaded" in app.sub_title
        assert text_of(app, "#play-model").startswith("No model yet")


@pytest.mark.parametrize("content", [
    b"{not json", b"[]", json.dumps({"version": 99, "tab": "corpus"}).encode(),
    json.dumps({"version": 1, "tab": "[/]"}).encode(),
    json.dumps({"version": 1, "tab": "corpus", "model": ["x"]}).encode(),
    json.dumps({"version": 1, "tab": "corpus", "playground": {"seed": 3}}).encode(),
    b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b" " * (70 * 1024),
])
async def test_a_bad_session_file_starts_fresh_with_a_notice(content):
    path = session_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    session, notice = load_session()
    assert session is None and "Starting fresh" in notice
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "corpus"
        assert any("Starting fresh" in n.message for n in app._notifications)


def test_a_folder_or_fifo_in_place_of_the_session_file_is_refused(monkeypatch, tmp_path):
    """A folder, a FIFO or a symlink where the file should be is refused in one line."""
    config = tmp_path / "odd"
    monkeypatch.setenv(ENV_CONFIG, str(config))
    (config / "session.json").mkdir(parents=True)
    assert "not a regular file" in load_session()[1]
    (config / "session.json").rmdir()
    os.mkfifo(config / "session.json")
    assert "not a regular file" in load_session()[1]  # and it did not block on the FIFO


def _hits(palette: CommandPalette) -> str:
    """The palette's listed commands, lower case ('' while it is not showing)."""
    if not isinstance(palette, CommandPalette):
        return ""
    options = palette.query_one(CommandList).options
    return " ".join(str(o.prompt) for o in options).lower()


async def test_the_theme_picked_in_the_palette_is_kept():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        default = app.theme
        await pilot.press("ctrl+p")
        for query in ("theme", "dracula"):  # "Theme" opens the list of themes
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*query)
            await wait_for(pilot, lambda q=query: q in _hits(app.screen))
            await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "dracula")
        await app.action_quit()
    assert default != "dracula"
    assert load_session()[0].theme == "dracula"

    again = CharRNNApp()
    async with again.run_test(size=SIZE):
        assert again.theme == "dracula"


async def test_a_theme_that_no_longer_exists_leaves_the_default():
    save_session(Session("corpus", theme="no-such-theme"))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == CharRNNApp().theme
