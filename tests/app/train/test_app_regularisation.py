"""The Train tab's regularisation rows: they reach the model file, and bad values are named."""

from __future__ import annotations

import pytest
from helpers import kit
from helpers.app import SIZE, TEXT, load_corpus, start_training, text_of
from helpers.pilot import wait_for
from textual.widgets import Input, Select

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.presets import IMPL_DEFAULTS

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


async def test_regularisers_set_in_the_form_are_trained_with_and_saved(tmp_path, data_home):
    corpus = kit.write_text(tmp_path / "tiny.txt", TEXT)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus, "reg", "max_steps", "5",
                                    weight_dropout="0.3", locked_dropout="0.2",
                                    embed_dropout="0.1", ema="0.9", warmup_steps="3")
        done = data_home / "models" / "reg" / "last.safetensors"
        await wait_for(pilot, lambda: done.exists() and not pane.running, timeout=60)
    ckpt = ModelStore(data_home / "models").load("reg")
    assert (ckpt.spec.embed_dropout, ckpt.spec.locked_dropout, ckpt.spec.weight_dropout) \
        == (0.1, 0.2, 0.3)
    assert ckpt.config["ema"] == 0.9 and ckpt.config["warmup_steps"] == 3


async def test_bad_values_are_named_and_numpy_takes_its_own_defaults(tmp_path):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await load_corpus(pilot, kit.write_text(tmp_path / "tiny.txt", TEXT))
        await pilot.press("f3")
        app.query_one("#weight_dropout", Input).value = "1.5"
        await pilot.pause()
        assert "Weight drop" in text_of(app, "#train-error")
        app.query_one("#weight_dropout", Input).value = "0.2"
        app.query_one("#impl", Select).value = "numpy"
        await pilot.pause()
        defaults = IMPL_DEFAULTS["numpy"]
        assert app.query_one("#weight_dropout", Input).value == "0"  # torch only
        for key in ("hidden", "batch", "seq"):
            value = defaults.model.get(key, defaults.train.get(key))
            assert app.query_one(f"#{key}", Input).value == str(value)
        assert text_of(app, "#train-error") == ""
