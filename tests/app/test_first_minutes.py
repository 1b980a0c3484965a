"""A newcomer's first minutes: where the keyboard goes, what state is on, what comes back.

Each test drives the app as a person would (keys, not method calls) on a tiny saved model.
"""

from __future__ import annotations

import json

import pytest
from helpers.app import SIZE, open_in_playground, pane_of, saved_model
from helpers.pilot import wait_for
from textual.widgets import Input, Log, Tabs

from charrnn_tui.app import CharRNNApp
from charrnn_tui.panes.playground.candidates import CompareCandidatesScreen

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


async def test_slash_goes_to_the_seed_and_never_types_into_another_field(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        seed, ban = app.query_one("#seed", Input), app.query_one("#ban", Input)
        seed.value = "ROMEO:"
        await pilot.press("ctrl+t")
        ban.value = "z"
        ban.focus()
        await pilot.press("/")
        assert ban.value == "z" and app.focused is seed, "/ in another field goes to the seed"
        assert seed.value == "ROMEO:"
        seed.cursor_position = len(seed.value)
        await pilot.press("/")
        assert seed.value == "ROMEO:/", "in the seed box itself, / is a slash"


async def test_escape_leaves_a_field_and_the_keys_work_again(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        assert app.focused is app.query_one("#seed")
        await pilot.press("escape")
        assert app.focused is app.query_one("#output", Log)
        await pilot.press("/")
        assert app.focused is app.query_one("#seed"), "/ from the text goes back to the seed"


async def test_tab_stays_in_the_pane_so_its_keys_keep_working(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        stops = sum(1 for w in play.query("*") if w.focusable)
        for _ in range(stops + 2):  # once round the pane's stops, and on past the first
            await pilot.press("tab")
            assert not isinstance(app.focused, Tabs), "the tab bar took the focus"
            assert play in app.focused.ancestors, f"focus left the pane: {app.focused}"


async def test_closing_compare_gives_focus_back_to_where_the_user_was(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        app.query_one("#length", Input).value = "5"
        await pilot.press("ctrl+t")
        app.query_one("#ban", Input).focus()
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareCandidatesScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#ban")
        # the Compare button is disabled while it compares: its focus goes to the seed box,
        # not nowhere (where a later Enter or key did nothing, or something unexpected)
        await pilot.click("#compare")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareCandidatesScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#seed")


async def test_the_collapsed_more_line_names_what_is_on_and_the_status_why_text_ended(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        more = app.query_one("#more")
        assert str(more.title) == "More: stop, ban, bias, repetition, N, beam (ctrl+t)"
        for fid, value in {"stop_at": "\\n\\n", "ban": "z", "bias": "e=-2", "beam": "4"}.items():
            app.query_one(f"#{fid}", Input).value = value
        await pilot.pause()
        assert more.collapsed
        assert str(more.title) == "More: stop \\n\\n · ban z · bias e=-2 · beam 4 (ctrl+t)"

        app.query_one("#beam", Input).value = "0"
        app.query_one("#stop_at", Input).value = "\\s"  # a space: the commonest character
        app.query_one("#rng", Input).value = "1"
        app.query_one("#speed").value = 0
        app.query_one("#seed", Input).value = "th"
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not play.stream.producing and "characters" in play.status)
        assert play.text.endswith(" ")
        assert play.status.endswith("characters, at stop ␣; F6 continues")


async def test_the_loss_chart_at_80x24_has_room_for_the_curve_a_legend_and_whole_ticks():
    import plotext

    from charrnn_tui.panes.train.loss_chart import LossChart
    from charrnn_tui.widgets.gradient_chart import GradientChart

    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        chart = app.query_one(LossChart)
        chart.set_history([[s, 4.0 - s / 1000] for s in range(3, 2333, 7)], [[1000, 3.1]])
        chart.set_references([("unigram", 3.25), ("bigram", 2.45)])
        chart._redraw()
        await pilot.pause()
        assert not app.query_one(GradientChart).display, "below 100 columns it folds away"
        plot_rows = chart.region.height - 4  # legend, frame top and bottom, ticks
        assert plot_rows >= 4, f"{plot_rows} rows for the curves"
        legend = str(chart.border_title)
        assert "train" in legend and "validation" in legend and "unigram 3.25" in legend
        drawn = plotext.uncolorize(chart.plt.build()).splitlines()
        ticks = drawn[-1].split()
        assert ticks[0] == "3" and all(t.replace(",", "").isdigit() for t in ticks), ticks


@pytest.mark.parametrize("size", [(80, 24), SIZE])
async def test_train_form_labels_show_whole_with_a_gap_before_their_value(size):
    from textual.widgets import Label

    app = CharRNNApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        for row in app.query("#train-form .field"):
            label = row.query_one(Label)
            text = str(label.render())
            if not text or not row.display:
                continue
            assert label.content_region.width >= len(text), f"{text!r} is cut"
            value = row.children[1]  # "Save as": its error, shown only when there is one
            assert not value.display or label.content_region.right < value.region.x, \
                f"{text!r} touches"


async def test_after_a_rename_train_and_the_models_highlight_follow_the_new_name(
        data_home, corpus_file):
    from helpers.app import start_training, text_of
    from textual.widgets import DataTable

    for name in ("aaa", "bbb"):
        saved_model(data_home, name)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_training(pilot, corpus_file, "mine", "max_steps", "3")
        await wait_for(pilot, lambda: pane.finished is not None and not pane.running)
        assert "saved as mine" in text_of(app, "#train-stats")
        await pilot.press("f5")
        models = app.query_one("ModelsPane")
        table = app.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("mine"))
        await pilot.press("n")
        await pilot.press(*"zed", "enter")
        await wait_for(pilot, lambda: "zed" in models.infos)
        assert models.selected_name() == "zed"
        assert "saved as zed" in text_of(app, "#train-stats")
        assert pane.resume_name == "zed"


async def test_a_temperature_can_be_typed_and_a_bad_one_is_refused_in_words(cat):
    from charrnn_tui.widgets.temperature import TemperatureControl

    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        temp = app.query_one(TemperatureControl)
        await pilot.click(TemperatureControl, offset=(13, 0))  # on the value
        assert app.focused is temp
        await pilot.press("1", ".", "7", "enter")
        assert temp.value == 1.7 and play.params.temperature == 1.7
        await pilot.press("9", "enter")
        assert temp.value == 1.7 and "between 0.05 and 2.00, not 9" in str(temp.render())
        await pilot.press("backspace", "0", ".", "5", "enter")
        assert temp.value == 0.5 and temp.typed is None
        await pilot.press("3", "escape")
        assert temp.value == 0.5 and temp.typed is None and app.focused is temp


async def test_min_p_is_a_field_beside_top_k_and_top_p_validated_like_them(cat):
    from helpers.app import text_of

    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        play = await open_in_playground(pilot)
        box = app.query_one("#min_p", Input)
        assert box.region.right <= 80
        box.value = "0.1"
        await pilot.pause()
        assert play.params.min_p == 0.1
        box.value = "1.5"
        await pilot.pause()
        assert "min-p must be between 0 and 1, not 1.5" in text_of(app, "#params-row-error")
        assert app.query_one("#generate").disabled and play.params.min_p == 0.1


async def test_an_rng_seed_repeats_a_sample_and_regenerate_replaces_it_with_a_new_one(cat):
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        play = await open_in_playground(pilot)
        assert app.query_one("#regenerate").region.right <= 80

        async def run(*keys: str) -> str:
            await pilot.press(*keys)
            await wait_for(pilot, lambda: not play.stream.producing
                           and not play.stream.pending() and "characters" in play.status)
            await pilot.pause()
            return play.text

        app.query_one("#speed").value = 0
        app.query_one("#length", Input).value = "40"
        app.query_one("#rng", Input).value = "5"
        app.query_one("#seed", Input).value = "the "
        app.query_one("#seed", Input).focus()
        first = await run("enter")
        await pilot.press("ctrl+l")
        app.query_one("#seed", Input).focus()
        assert await run("enter") == first, "the same RNG seed gives the same text"
        again = await run("ctrl+r")
        assert app.query_one("#rng", Input).value == "6"
        assert again.startswith("the ") and again != first and len(again) == len(first), \
            "Regenerate replaces the last sample: one run in view, a new one"
        app.query_one("#rng", Input).value = "x"
        await pilot.pause()
        assert app.query_one("#regenerate").disabled and app.query_one("#generate").disabled
        assert "RNG seed must be a whole number" in str(app.query_one("#seed-row-error").render())


async def test_every_models_button_fits_at_80_columns():
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        for button in app.query("#models-buttons Button"):
            assert button.display and button.region.right <= 80, f"{button.id} is cut off"


async def test_sampling_settings_saved_as_a_preset_come_back_from_the_list(cat, data_home):
    from textual.widgets import Select

    from charrnn_tui.panes.playground.preset_menu import SAVE_PRESET
    from charrnn_tui.sampling_presets import load_presets
    from charrnn_tui.screens.dialogs import PromptScreen
    from charrnn_tui.session import read_controls
    from charrnn_tui.widgets.temperature import TemperatureControl

    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        play = await open_in_playground(pilot)
        presets = app.query_one("#sampling-preset", Select)
        assert presets.region.right <= 80
        app.query_one(TemperatureControl).value = 1.2
        for fid, value in {"top_k": "7", "min_p": "0.1", "stop_at": "\\n\\n|.",
                           "ban": "z\\s", "bias": "e=-2"}.items():
            app.query_one(f"#{fid}", Input).value = value
        await pilot.pause()
        presets.value = SAVE_PRESET
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"calm", "enter")
        await wait_for(pilot, lambda: "calm" in play.presets)
        saved = load_presets(None)[0]["calm"]
        assert (saved.temperature, saved.top_k, saved.min_p, saved.stop, saved.ban,
                saved.bias) == (1.2, 7, 0.1, ("\n\n", "."), "z ", {"e": -2.0})

        assert presets.value == "calm"
        app.query_one(TemperatureControl).value = 0.5
        for fid in ("top_k", "min_p", "stop_at", "ban", "bias"):
            app.query_one(f"#{fid}", Input).value = ""
        await pilot.pause()
        assert presets.is_blank(), "changed settings are no longer the preset"
        json.dumps(read_controls(play))  # a blank list is left out of the session, not a crash
        presets.value = "calm"
        await pilot.pause()
        assert play.params.temperature == 1.2 and play.params.top_k == 7
        assert play.params.stop == ("\n\n", ".") and play.params.ban == "z "
        assert app.query_one("#stop_at", Input).value == "\\n\\n|."


def test_a_damaged_presets_file_is_refused_in_words_and_bad_entries_left_out(data_home):
    from charrnn_tui.engine.generation.sampler import SamplingParams
    from charrnn_tui.sampling_presets import (
        PresetError,
        check_name,
        load_presets,
        presets_path,
        save_preset,
    )

    path = presets_path(None)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"ok": {"temperature": 1}, "hot": {"temperature": 99},
                                "odd": {"top_k": "x"}, "../x": {}, "nan": {"top_p": "NaN"}}))
    presets, skipped = load_presets(None)
    assert list(presets) == ["ok"] and presets["ok"].temperature == 1.0
    assert len(skipped) == 4 and any("temperature must be between" in s for s in skipped)
    for content in ("{not json", "[]", "x" * 300_000):
        path.write_text(content)
        with pytest.raises(PresetError):
            load_presets(None)
    path.unlink()
    path.mkdir()
    with pytest.raises(PresetError, match="not a regular file"):
        save_preset(None, "a", SamplingParams())
    with pytest.raises(PresetError, match="bad preset name"):
        check_name("[red]x")


async def test_one_loss_unit_named_everywhere_bits_in_the_detail(cat):
    from helpers.app import text_of

    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        val = play.ckpt.state.last_val
        shown = f"val {val:.3f} nats"
        assert shown in text_of(app, "#play-model")
        assert "bits per character" in str(app.query_one("#play-model").tooltip)
        await pilot.press("f5")
        await pilot.pause()
        table = app.query_one("#models-table")
        assert "Val nats" in [str(c.label) for c in table.ordered_columns]
        assert f"{val:.3f}" in [str(v) for v in table.get_row("cat")]
        assert f"{shown} = " in text_of(app, "#models-detail")


async def test_the_neuron_view_before_any_text_is_shown_not_a_crash(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        await pilot.press("f9", "escape", "v")
        await pilot.pause()
        assert app.query_one("InsightPane").lens.view == "neuron"
        assert app.is_running


async def test_a_resumed_run_counts_its_own_time_in_elapsed_as_in_eta(data_home, corpus_file):
    from helpers.app import load_corpus, text_of, tiny_training

    from charrnn_tui.engine.storage.store import ModelStore

    saved_model(data_home, "old")
    store = ModelStore(data_home / "models")
    ckpt = store.load("old")
    ckpt.state.seconds = 3600.0  # an hour of training before this run
    store.create("old", force=True)
    store.save(ckpt, "old", "last")
    store.release("old")
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = await pane_of(app, "train")
        await load_corpus(pilot, corpus_file)
        app.query_one("ModelsPane").open_model("old", "resume")
        await wait_for(pilot, lambda: pane.resume_name == "old")
        tiny_training(app)
        await pilot.press("f3", "f6")
        await wait_for(pilot, lambda: "chars/s" in text_of(app, "#train-stats"))
        stats = text_of(app, "#train-stats")
        await pilot.press("f8")
        await wait_for(pilot, lambda: not pane.running)
        assert "elapsed 0:" in stats and "elapsed 1:00:" not in stats, stats


async def test_the_open_preset_list_does_not_mix_with_the_description_under_it():
    from textual.widgets import Select

    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        hint = app.query_one("#preset-hint")
        assert hint.visible
        app.query_one("#preset", Select).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#preset", Select).expanded and not hint.visible
        await pilot.press("escape")
        await pilot.pause()
        assert hint.visible
