"""The Corpus tab driven with Pilot: loading a file, a folder, an encoding, a built-in,
and what a bad one says."""

from __future__ import annotations

import json

import pytest
from helpers.app import SIZE, TEXT, load_corpus, pane_of, text_of
from helpers.pilot import wait_for
from textual.widgets import Input

from charrnn_tui.app import CharRNNApp
from charrnn_tui.screens.file_picker import FilePickerScreen

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


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
        train = await pane_of(app, "train")
        await pilot.press("ctrl+l", "t", "i")
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert app.query_one("#path", Input).value == "tiny.txt"
        await pilot.press("enter")
        await wait_for(pilot, lambda: train.corpus is not None)


async def test_a_bad_file_is_an_inline_error_and_the_app_stays_up(tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        pane = await pane_of(app, "corpus")
        pane.load(str(binary))
        await wait_for(pilot, lambda: "binary" in text_of(app, "#corpus-error"))
        pane.load(str(tmp_path / "missing.txt"))
        await wait_for(pilot, lambda: "no such file" in text_of(app, "#corpus-error"))
        assert train.corpus is None


async def test_browse_opens_a_file_picker(corpus_file, monkeypatch):
    monkeypatch.chdir(corpus_file.parent)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, FilePickerScreen)
        app.query_one("#path", Input).value = str(corpus_file)
        await pilot.press("ctrl+o")
        app.screen.dismiss(str(corpus_file))
        await wait_for(pilot, lambda: train.corpus is not None)


async def test_an_encoding_can_be_given(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème brûlée. ".encode("latin-1") * 50)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        corpus = await pane_of(app, "corpus")
        corpus.load(str(latin))
        await wait_for(pilot, lambda: "not valid UTF-8" in text_of(app, "#corpus-error"))
        app.query_one("#encoding", Input).value = "latin-1"
        corpus.load(str(latin))
        await wait_for(pilot, lambda: train.corpus is not None)
        assert "latin-1" in text_of(app, "#corpus-facts")


async def test_tinyshakespeare_offline_says_why():
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        corpus = await pane_of(app, "corpus")
        corpus.load("builtin:tinyshakespeare")
        await wait_for(pilot, lambda: "could not download" in text_of(app, "#corpus-error"))
