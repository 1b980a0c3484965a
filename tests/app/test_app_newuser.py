"""Issue 15: the rough edges a new user hit, each driven through the app as they found it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import kit
from helpers.app import (
    SIZE,
    load_corpus,
    open_in_playground,
    pane_of,
    saved_model,
    start_training,
    text_of,
)
from helpers.pilot import wait_for
from textual.widgets import DirectoryTree, Input, Select, Static, TabbedContent

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.training.events import Progress
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.screens.dialogs import ConfirmScreen
from charrnn_tui.screens.file_picker import FilePickerScreen

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


async def _trained(pilot, corpus) -> TrainPane:
    pane = await start_training(pilot, corpus, "tiny", "max_steps", "3")
    await wait_for(pilot, lambda: not pane.running and pane.resume is not None)
    return pane


async def test_a_preset_after_a_run_offers_a_new_model_instead_of_mixing_two(corpus_file,
                                                                              data_home):
    """Item 2: picking `quick` after training kept 1×32 and "Resume tiny" in the header."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await _trained(pilot, corpus_file)
        assert text_of(app, "#train-stats")
        app.query_one("#preset", Select).value = "balanced"
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # keep the loaded model: nothing of the preset applies
        await pilot.pause()
        assert app.query_one("#preset", Select).value == "auto"  # the default
        assert app.query_one("#hidden", Input).value == "32" and pane.resume is not None

        app.query_one("#preset", Select).value = "balanced"
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: pane.resume is None)
        assert app.query_one("#hidden", Input).value == "512"
        assert not app.query_one("#layers", Input).disabled
        assert "Resume" not in text_of(app, "#train-target")
        assert "2×512" in text_of(app, "#train-target")
        assert text_of(app, "#train-stats") == "" and text_of(app, "#train-sample") == ""


async def test_stop_says_stopping_until_the_run_has_ended(corpus_file, data_home):
    """Item 6: a progress line with an ETA overwrote "stopping: a last evaluation…"."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "tiny")
        await wait_for(pilot, lambda: pane.last is not None)
        await pilot.press("f8")
        late = Progress(step=99, epoch=0, chunk=1, chunks=9, train_loss=2.0, lr=0.01,
                        chars_per_s=1000.0, elapsed=1.0, eta=5.0, device="cpu",
                        precision="fp32")
        if pane.running:  # a progress event that arrives after Stop
            pane.last = late
            pane._show_stats()
            assert "stopping" in text_of(app, "#train-stats")
            assert "ETA" not in text_of(app, "#train-stats")
        await wait_for(pilot, lambda: not pane.running)
        stats = text_of(app, "#train-stats")
        assert "stopped by you · step" in stats and "saved as tiny" in stats
        assert all(len(line) <= 80 for line in stats.splitlines())


async def test_start_without_a_corpus_says_what_to_do():
    """Item 11: F6 before a corpus was chosen did nothing and said nothing."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        await pilot.press("f3")
        await pilot.press("f6")
        await pilot.pause()
        assert "No corpus yet" in text_of(app, "#train-error")
        assert not train.running


async def test_a_bad_number_is_marked_on_its_row_and_explained_without_moving_a_field(
        corpus_file):
    """Item 5 (Train): the error is marked on the field's own row and said in words on the
    error line; nothing below moves (an error line under the field pushed Optimizer down, and
    the next click landed on it)."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        optimizer_at = app.query_one("#optimizer").region
        app.query_one("#layers", Input).value = "0"
        app.query_one("#batch", Input).value = "lots"
        await pilot.pause()
        layers, batch = app.query_one("#layers-error", Static), app.query_one("#batch-error")
        assert layers.display and batch.display
        assert layers.parent.has_class("-invalid") and not app.query_one("#seq-error").display
        line = text_of(app, "#train-error")
        assert "Layers:" in line and "Batch:" in line, line
        assert app.query_one("#layers", Input).tooltip.startswith(
            app.query_one("#layers", Input).validate("0").failure_descriptions[0])
        assert app.query_one("#optimizer").region == optimizer_at
        assert app.query_one("#start").disabled
        app.query_one("#layers", Input).value = "2"
        app.query_one("#batch", Input).value = "8"
        await pilot.pause()
        assert not layers.display and not batch.display
        assert not layers.parent.has_class("-invalid")
        assert "Layers" not in text_of(app, "#train-error")


# --- Models --------------------------------------------------------------------------------

async def test_a_click_on_the_highlighted_row_does_not_load_it(data_home):
    """Item 3: a second click loaded the model and sent the next key to the seed box."""
    for name in ("alpha", "beta"):
        saved_model(data_home, name)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        table = app.query_one("#models-table")
        await pilot.click("#models-table", offset=(4, 2))  # beta's row
        await pilot.click("#models-table", offset=(4, 2))  # again, later: still only there
        await pilot.pause(0.3)
        assert table.cursor_row == 1
        assert app.query_one(TabbedContent).active == "models"
        assert "beta" in text_of(app, "#models-detail")
        await pilot.click("#models-table", offset=(4, 2), times=2)  # a double click loads
        play = app.query_one(PlaygroundPane)
        await wait_for(pilot, lambda: play.model_name == "beta")
        assert app.query_one(TabbedContent).active == "playground"


async def test_deleting_the_loaded_model_says_it_is_only_in_memory_now(data_home):
    """Item 11: the deleted model stayed loaded with no notice."""
    saved_model(data_home, "alpha")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        await pilot.press("f5", "d", "y")
        await pilot.pause()
        assert "deleted" in text_of(app, "#play-model")
        assert any("Save current as" in str(n.message) for n in app._notifications)
        await pilot.press("s")  # and the copy in memory can still be kept
        app.screen.query_one(Input).value = "kept"
        await pilot.press("enter")
        assert play.model_name == "kept" and "deleted" not in text_of(app, "#play-model")


async def test_models_fit_80_columns(data_home):
    """Item 12: at 80×24 the table hid Val, Steps and Updated and a button was cut."""
    saved_model(data_home, "a-rather-long-model-name-for-the-table")
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        table = app.query_one("#models-table")
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels[-3:] == ["Val nats", "Steps", "Updated"]
        assert sum(c.get_render_width(table) for c in table.ordered_columns) <= 78
        for button in app.query("#models-buttons Button"):
            assert button.region.right <= 80, button.id
        assert "a-rather-long-model-name-for-the-table" in text_of(app, "#models-detail")


# --- Corpus --------------------------------------------------------------------------------

async def test_offline_tinyshakespeare_takes_the_details_and_suggests_a_local_copy(corpus_file):
    """Item 8: the failure sat in a 2-line slot while the header named the previous corpus."""
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        corpus = await pane_of(app, "corpus")
        await load_corpus(pilot, corpus_file)
        corpus.load("builtin:tinyshakespeare")
        await wait_for(pilot, lambda: "Could not load" in text_of(app, "#corpus-title"))
        assert "Tiny Shakespeare" in text_of(app, "#corpus-title")
        facts = text_of(app, "#corpus-facts")
        assert "could not download" in facts and "ctrl+o" in facts
        assert "Training still uses tiny.txt" in facts
        assert text_of(app, "#corpus-preview") == ""


async def test_a_folder_corpus_says_how_many_files_it_read(tmp_path):
    """Item 9: a folder corpus showed no file count (and read .git: see test_corpus)."""
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text(kit.TEXT)
    (folder / "sub" / "two.txt").write_text(kit.TEXT)
    (folder / "bad.bin").write_bytes(b"\xff\xfe\x00" * 10 + bytes(range(256)))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        await load_corpus(pilot, folder)
        assert train.corpus.files == 2
        assert "2 read, 1 skipped" in text_of(app, "#corpus-facts")


async def test_browse_climbs_to_the_parent_folder(tmp_path, monkeypatch):
    """Item 10: Browse (ctrl+o) could not go above the folder it opened in."""
    (tmp_path / "deep" / "er").mkdir(parents=True)
    kit.write_text(tmp_path / "deep" / "a.txt", kit.TEXT * 3)
    kit.write_text(tmp_path / "deep" / "b.txt", kit.TEXT * 3)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        train = await pane_of(app, "train")
        await pilot.press("f2", "ctrl+o")
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.press("backspace")
        tree = app.screen.query_one(DirectoryTree)
        assert Path(tree.path) == tmp_path / "deep"
        await pilot.click("#up")
        assert Path(tree.path) == tmp_path
        await pilot.click("#use-folder")
        await wait_for(pilot, lambda: train.corpus is not None)
        assert train.corpus.files == 2
