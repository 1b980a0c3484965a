"""Panes built when their tab is first shown: the first screen composes only what it shows
(and the panes that hold the model), and what the app told a pane before it existed
reaches it once it does."""

from __future__ import annotations

import pytest
from helpers.app import SIZE, load_corpus, pane_of, saved_model, text_of
from helpers.pilot import wait_for
from textual.widgets import Input, TabbedContent

from charrnn_tui import torch_loader
from charrnn_tui.app import CharRNNApp
from charrnn_tui.session import Session, load_session, save_session

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


async def test_the_first_screen_builds_only_its_own_pane_and_those_holding_the_model():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        built = {tab for tab in ("corpus", "train", "playground", "models", "insight")
                 if app.panes.built(tab) is not None}
        assert built == {"corpus", "playground", "models"}
        assert not app.query("TrainForm") and not app.query("InsightPane")
        await pilot.press("f3")
        assert app.query_one(TabbedContent).active == "train"
        assert app.focused is app.query_one("#preset"), "focus goes into the new pane"


async def test_what_happened_before_train_was_shown_is_there_when_it_is(tmp_path,
                                                                      monkeypatch):
    """PyTorch loaded and a corpus loaded while Train did not exist yet."""
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    held = []
    monkeypatch.setattr(torch_loader, "load", held.append)  # the test says when it is done
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: held)
        held[0](None)  # torch is loaded (it is, in this process)
        await pilot.pause()
        await pilot.press("f2")
        app.query_one("#path", Input).value = str(corpus)
        app.query_one("#path", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one("CorpusPane").corpus is not None)
        assert app.panes.built("train") is None
        await pilot.press("f3")
        train = app.panes.built("train")
        assert train.corpus is not None and train.source == str(corpus)
        assert "loading" not in text_of(app, "#gpu-reason"), "torch had loaded before"
        assert "No corpus" not in text_of(app, "#train-error")


async def test_a_pane_never_shown_keeps_last_sessions_settings(data_home, tmp_path):
    saved_model(data_home, "mine")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    save_session(Session("playground", "mine", str(corpus), {}, {"hidden": "48"},
                         resume="mine", insight={"ins-seed": "KING:"}))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.playground.model_name == "mine")
        assert app.panes.built("train") is None and app.panes.built("insight") is None
        await app.action_quit()
    again = load_session()[0]
    assert (again.corpus, again.train, again.resume) == (str(corpus), {"hidden": "48"}, "mine")
    assert again.insight == {"ins-seed": "KING:"}

    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.playground.model_name == "mine")
        train = await pane_of(app, "train")
        await wait_for(pilot, lambda: train.corpus is not None and train.resume_name == "mine")
        await pilot.press("f9")
        assert app.query_one("#ins-seed", Input).value == "KING:"


async def test_the_palette_builds_the_pane_its_command_needs(corpus_file):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await load_corpus(pilot, corpus_file)
        await pilot.press("f4")
        await pilot.press("ctrl+p")
        await pilot.press(*"Insight: find cells")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "insight"
                       and app.focused is app.query_one("#ins-regex"))
        await pilot.pause()
        assert app.focused is app.query_one("#ins-regex"), "and it stays there"
