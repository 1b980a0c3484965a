"""Driving the app in Pilot tests: a saved model to open, the corpus and Train steps a user
takes, and reading what a widget shows."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select, Static

from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.panes.train.pane import TrainPane
from helpers import kit
from helpers.pilot import wait_for

SIZE = (100, 32)
TEXT = kit.TEXT * 3  # ~3.5k characters


def saved_model(home: Path, name: str, text: str = TEXT, steps: int = 0) -> Path:
    """A tiny torch LSTM under `name` in the store at `home`, trained `steps` steps."""
    trainer = kit.trainer("torch-lstm", text, max_steps=steps or 1)
    if steps:
        trainer.run()
    return kit.store_model(home, name, trainer.checkpoint())


async def pane_of(app, tab: str):
    """The tab's pane, built now if it is not yet (the app builds one when first shown)."""
    return await app.panes.build(tab)


def text_of(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def select_row(app, name: str) -> None:
    table = app.query_one("#models-table")
    table.move_cursor(row=table.get_row_index(name))


async def load_corpus(pilot, path: Path) -> None:
    app = pilot.app
    await pilot.press("f2")
    app.query_one("#path", Input).value = str(path)
    app.query_one("#path", Input).focus()
    await pilot.press("enter")
    train = await pane_of(app, "train")
    await wait_for(pilot, lambda: train.corpus is not None)


def tiny_training(app, stop_unit: str = "", stop_value: str = "", **over: str) -> None:
    values = {"layers": "1", "hidden": "32", "embed": "8", "dropout": "0", "batch": "4",
              "seq": "16", "eval_every": "1", "sample_every": "0.5", "lr": "0.01"} | over
    for fid, value in values.items():
        app.query_one(f"#{fid}", Input).value = value
    app.query_one("#stop_unit", Select).value = stop_unit
    app.query_one("#stop_value", Input).value = stop_value


async def open_in_playground(pilot) -> PlaygroundPane:
    """Play the selected saved model (Models tab, Enter); the Playground once it is ready."""
    await pilot.press("f5")
    await pilot.press("enter")
    play = pilot.app.query_one(PlaygroundPane)
    await wait_for(pilot, lambda: play.sampler is not None)
    return play


async def start_training(pilot, corpus: Path, name: str | None = None, stop_unit: str = "",
                         stop_value: str = "", **over: str) -> TrainPane:
    """Load `corpus`, set up tiny_training (under `name`), press Start; the Train pane."""
    app = pilot.app
    await load_corpus(pilot, corpus)
    await pilot.press("f3")
    tiny_training(app, stop_unit, stop_value, **over)
    if name is not None:
        app.query_one("#name", Input).value = name
    await pilot.press("f6")
    return app.query_one(TrainPane)
