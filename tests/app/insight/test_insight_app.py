"""The Insight tab driven with Pilot: what it shows is checked against the engine's insight module.

Models are tiny and untrained (their colours are as real as a trained model's), saved
in the test's data home and loaded the way a user would, through the Models pane.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import kit
from helpers.pilot import wait_for
from textual.widgets import DataTable, Input, Select, Static

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.generation.insight import colours, rank_units, regex_mask, trace
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
from charrnn_tui.engine.models import restore_model
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.panes.insight.pane import InsightPane
from charrnn_tui.panes.insight.text import InsightText
from charrnn_tui.panes.insight.trace import Lens
from charrnn_tui.panes.insight.work import CORPUS_SLICE, Tracer
from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.screens.help import HelpScreen

SIZE = (100, 32)
CORPUS = 'he said "stop" and (then) left.\n"go" she said (quietly).\n' * 20
SAMPLE = 'he said "go" (then) left.\nshe said "stop".'

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


def save(home: Path, name: str, kind: str = "torch-lstm", seed: int = 0,
         corpus_file: Path | None = None) -> Checkpoint:
    """An untrained model of `kind` on CORPUS's characters, saved under `name`."""
    ckpt = kit.trainer(kind, CORPUS, seed=seed).checkpoint()
    if corpus_file is not None:
        ckpt.corpus = {"name": corpus_file.name, "source": str(corpus_file)}
    kit.store_model(home, name, ckpt)
    return ModelStore(home / "models").load(name)


async def open_insight(pilot, name: str) -> InsightPane:
    app = pilot.app
    app.query_one(ModelsPane).open_model(name, "play")
    await wait_for(pilot, lambda: app.playground.model_name == name)
    await pilot.press("f9")
    pane = app.query_one(InsightPane)
    assert pane.model_name == name
    return pane


async def run(pilot, pane: InsightPane, key: str, seed: str, **boxes: str) -> None:
    """Type `seed` (and any other boxes by id), press `key`, wait until all is shown."""
    pane.query_one("#ins-seed", Input).value = seed.replace("\n", "\\n")
    for box, value in boxes.items():
        pane.query_one(f"#ins-{box}", Input).value = value
    pane.query_one("#ins-seed", Input).focus()
    stream = pane.stream.stream_id
    await pilot.press(key)
    await wait_for(pilot, lambda: pane.stream.stream_id > stream and not pane.stream.producing
                   and not any(len(b) for b in pane.stream.buffers))


def shown(view: InsightText) -> tuple[str, list[str]]:
    """The characters and background colours the view draws, line by line from the top."""
    view.scroll_home(animate=False, immediate=True)
    chars, bgs = [], []
    for y, (start, end) in enumerate(view._lines):
        for seg in list(view.render_line(y))[:end - start]:
            chars.append("\n" if seg.text == "↵" else seg.text)
            bgs.append(seg.style.bgcolor.triplet.hex)
    return "".join(chars), bgs


def panel(app) -> str:
    return str(app.query_one("#ins-cursor", Static).render())


@pytest.mark.parametrize("kind", ["torch-lstm", "scratch-gru", "numpy"])
async def test_confidence_colours_and_candidates_match_the_engine(kind, data_home):
    ckpt = save(data_home, "m", kind)
    model = restore_model(ckpt)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        view = pane.text_view

        await run(pilot, pane, "f7", SAMPLE)  # colour the typed text itself
        ref = trace(model, ckpt.spec.vocab, SAMPLE)
        assert shown(view) == (SAMPLE, colours(ref))
        view.focus()
        await pilot.press("home", "right", "right")
        for _, p in ref.candidates(1):  # what it guessed for the third character
            assert f"{p:6.1%}" in panel(app)
        assert f"confidence {ref.probs[2]:.3f}" in panel(app)
        await pilot.click("#ins-text", offset=(1 + 5, 1))  # inside the border: line 0, cell 5
        assert view.cursor == 5 and app.focused is view

        await run(pilot, pane, "f6", "he ", length="40", rng="3")  # and a generated text
        text = view.record.text
        assert text.startswith("he ") and len(text) == 43
        ref = trace(model, ckpt.spec.vocab, text)
        assert shown(view) == (text, colours(ref))
        assert "rng seed 3" in str(app.query_one("#ins-status", Static).render())


async def test_a_neuron_view_shows_that_units_colours(data_home):
    ckpt = save(data_home, "m")
    ref = trace(restore_model(ckpt), ckpt.spec.vocab, SAMPLE)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        await run(pilot, pane, "f7", SAMPLE)
        pane.query_one("#ins-view", Select).value = "neuron"
        pane.query_one("#ins-kind", Select).value = "cell"
        pane.query_one("#ins-layer", Input).value = "1"
        pane.query_one("#ins-unit", Input).value = "5"
        await pilot.pause()
        assert pane.lens == Lens("neuron", "cell", 1, 5)
        assert shown(pane.text_view)[1] == colours(ref, "neuron", "cell", 1, 5)
        pane.text_view.focus()
        await pilot.press("right_square_bracket")
        assert pane.query_one("#ins-unit", Input).value == "6"
        assert shown(pane.text_view)[1] == colours(ref, "neuron", "cell", 1, 6)
        await pilot.press("end")
        value = ref.unit("cell", 1, 6)[-1]
        assert f"cell 1:6 {value:+.3f}" in panel(app)
        await pilot.press("v")
        assert shown(pane.text_view)[1] == colours(ref)


async def test_find_cells_ranks_units_and_a_row_switches_the_view(data_home):
    ckpt = save(data_home, "m")
    pattern = r'"[^"]*"'
    ref = trace(restore_model(ckpt), ckpt.spec.vocab, SAMPLE)
    best = rank_units(ref, regex_mask(SAMPLE, pattern))
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        await run(pilot, pane, "f7", SAMPLE)
        await pilot.press("ctrl+f")
        assert app.focused is pane.query_one("#ins-regex")
        pane.query_one("#ins-regex", Input).value = pattern
        await pilot.press("enter")
        table = pane.query_one("#ins-cells-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == len(best))
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert rows == [[f"{s.kind} {s.layer}:{s.unit}", f"{s.correlation:+.2f}"] for s in best]
        first = best[0]
        assert pane.lens == Lens("neuron", first.kind, first.layer, first.unit)
        await pilot.pause()
        await pilot.click("#ins-cells-table", offset=(2, 2))  # below the header: row 2
        second = best[1]
        assert pane.lens == Lens("neuron", second.kind, second.layer, second.unit)
        await pilot.press("down", "enter")
        third = best[2]
        assert pane.lens == Lens("neuron", third.kind, third.layer, third.unit)
        assert shown(pane.text_view)[1] == colours(ref, "neuron", third.kind, third.layer,
                                                    third.unit)


async def test_a_bad_regex_is_an_inline_error_and_the_app_stays_up(data_home):
    save(data_home, "m")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        error = pane.query_one("#ins-cells-error", Static)
        await run(pilot, pane, "f7", SAMPLE)
        pane.query_one("#ins-regex", Input).focus()
        await pilot.press("(", "enter")
        assert "bad regular expression" in str(error.render())
        await pilot.press("backspace", *"zzz", "enter")
        await wait_for(pilot, lambda: "everywhere or nowhere" in str(error.render()))
        pane.query_one("#ins-source", Select).value = "corpus"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not available" in str(error.render()))
        assert app.is_running and pane.query_one("#ins-cells-table").display is False


async def test_find_cells_on_a_slice_of_the_models_corpus(data_home, tmp_path):
    corpus = kit.write_text(tmp_path / "said.txt", CORPUS)
    save(data_home, "m", corpus_file=corpus)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        pane.query_one("#ins-source", Select).value = "corpus"
        pane.query_one("#ins-regex", Input).value = r"\([^)]*\)"
        pane.query_one("#ins-regex", Input).focus()
        await pilot.press("enter")
        table = pane.query_one("#ins-cells-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        assert "of the model's corpus" in str(pane.query_one("#ins-cells-note").render())
        # the held-out tenth is shorter than a slice: the corpus's end is used instead
        assert pane.text_view.record.text == CORPUS[-CORPUS_SLICE:], "an empty view shows it"


async def test_compare_runs_two_models_on_one_seed(data_home):
    a, b = save(data_home, "a", seed=0), save(data_home, "b", seed=1)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "a")
        pane.query_one("#ins-compare", Select).value = "b"
        await wait_for(pilot, lambda: pane.other is not None)
        assert pane.other_view.display and pane.other_view.border_title == "b"
        await run(pilot, pane, "f6", "he ", length="30", rng="7", temp="1.2")
        texts = []
        for ckpt, view in ((a, pane.text_view), (b, pane.other_view)):
            sampler = Sampler(restore_model(ckpt), ckpt.spec.vocab, rng_seed=7)
            sampler.params.temperature = 1.2
            sampler.prime("\nhe ")
            texts.append("he " + "".join(sampler.stream(30)))
            assert view.record.text == texts[-1]
        assert texts[0] != texts[1]
        pane.query_one("#ins-compare", Select).clear()
        await pilot.pause()
        assert pane.other is None and not pane.other_view.display


async def test_export_writes_html_and_svg_into_the_data_home(data_home):
    save(data_home, "m")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_insight(pilot, "m")
        await run(pilot, pane, "f7", SAMPLE)
        pane.set_lens(Lens("neuron", "hidden", 0, 2))
        pane.text_view.focus()
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        default = Path(app.screen.query_one(Input).value)
        assert default.parent == data_home / "exports" and "hidden-0-2" in default.name
        await pilot.press("enter")
        html, svg = (default.with_name(default.name + ext) for ext in (".html", ".svg"))
        page = html.read_text(encoding="utf-8")
        assert page.count("<span") == len(SAMPLE) and "hidden layer 0 unit 2" in page
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg")
        assert any(str(html) in n.message for n in app._notifications)


async def test_keys_are_in_help_and_the_palette_and_it_fits_80x24(data_home):
    save(data_home, "m")
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_insight(pilot, "m")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Go to Insight", "Insight: find cells", "Insight: export coloured text",
                "Insight: colour the Playground text"} <= titles
        for widget in pane.query("*"):
            if widget.display and widget.region.width:
                assert widget.region.right <= 80, widget
        assert pane.text_view.region.height >= 5
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(f"{k} {d}" for _, rows in app.screen.sections for k, d in rows)
        for binding in InsightPane.BINDINGS + InsightText.BINDINGS:
            assert (binding.tooltip or binding.description).lower() in text.lower()
        await pilot.press("escape")

        app.query_one(PlaygroundPane)._transcript.append(SAMPLE)
        command = next(c for c in app.get_system_commands(app.screen)
                       if c.title == "Insight: colour the Playground text")
        await command.callback()
        await wait_for(pilot, lambda: pane.text_view.record.text == SAMPLE)


def test_the_shown_probabilities_are_the_models_own():
    """A generated step keeps the model's probability, not the temperature-scaled one."""
    ckpt = kit.trainer("torch-lstm", CORPUS).checkpoint()
    tracer = Tracer(ckpt, SamplingParams(temperature=0.3), rng_seed=1)
    before = tracer._probs.copy()
    step = tracer.sample()
    assert step.prob == pytest.approx(before[ckpt.spec.vocab.index(step.char)])
    assert np.isclose(step.next_probs.sum(), 1, atol=1e-5)


def test_the_side_panel_describes_one_character_only():
    """Issue 15, item 4: "confidence" was the selected character's, while "expected next"
    was the distribution for the character after it."""
    import math

    from charrnn_tui.engine.models import ModelSpec
    from charrnn_tui.panes.insight.cursor import cursor_info
    from charrnn_tui.panes.insight.trace import Lens, Step, TraceLog

    vocab = ["a", "b", "z"]
    spec = ModelSpec(impl="torch", cell="rnn", layers=1, hidden=2, embed=2, vocab=vocab)
    log = TraceLog(spec)
    acts = {"hidden": np.zeros((1, 2), np.float32)}
    log.extend([Step("a", math.nan, np.array([0.1, 0.7, 0.2], np.float32), acts),
                Step("b", 0.7, np.array([0.05, 0.05, 0.9], np.float32), acts)])
    info = cursor_info(log, 1, Lens()).plain
    assert "confidence 0.700" in info
    assert "b  70.0% ██████ ◀" in info and info.count("◀") == 2  # the heading has one too
    assert "90.0%" not in info, "the next character's guesses belong to the next character"
    assert "nothing came before" in cursor_info(log, 0, Lens()).plain
