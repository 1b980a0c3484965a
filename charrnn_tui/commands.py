"""The command palette's entries and the help screen's key lists: every main action by name."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.widget import Widget

from charrnn_tui.panes.models.pane import ModelsPane
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.screens.help import Section
from charrnn_tui.widgets.temperature import TemperatureControl

if TYPE_CHECKING:
    from charrnn_tui.app import CharRNNApp

TABS = (("corpus", "Corpus", "F2"), ("train", "Train", "F3"), ("playground", "Playground", "F4"),
        ("models", "Models", "F5"), ("insight", "Insight", "F9"))


def _keys(app: CharRNNApp, bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    rows = []
    for b in bindings:
        binding = b if isinstance(b, Binding) else Binding(*b)
        keys = [app.get_key_display(Binding(k.strip(), binding.action))
                for k in binding.key.split(",")]
        rows.append((" or ".join(dict.fromkeys(keys)), binding.tooltip or binding.description))
    return rows


def help_sections(app: CharRNNApp) -> list[Section]:
    """Every key, by pane, as the help screen lists them."""
    # the panes built after the first screen, imported after it too (app._pane_factories)
    from charrnn_tui.panes.corpus.pane import CorpusPane
    from charrnn_tui.panes.insight.pane import InsightPane
    from charrnn_tui.panes.insight.text import InsightText
    from charrnn_tui.panes.train.pane import TrainPane

    return [
        ("Everywhere", _keys(app, app.BINDINGS) + [
            ("^q", "Quit (a running training stops and saves first)"),
            ("^p", "Command palette: every main action by name"),
            ("tab / shift+tab", "Next / previous control"),
            ("escape", "In the help, a dialog or the palette: close it"),
        ]),
        ("Corpus", [("enter", "Load the highlighted corpus, or the typed path")]
         + _keys(app, CorpusPane.BINDINGS)),
        ("Train", _keys(app, TrainPane.BINDINGS)
         + [("enter", "In a settings field: start training")]),
        ("Playground", [("enter", "In the seed box: generate from the seed")]
         + _keys(app, PlaygroundPane.BINDINGS)
         + [(k, f"{d} (temperature control focused)")
            for k, d in _keys(app, TemperatureControl.BINDINGS)]),
        ("Models", [("enter", "Load the highlighted model in the Playground")]
         + _keys(app, ModelsPane.BINDINGS)),
        ("Insight", [("enter", "In the seed box: generate from the seed; in the regex "
                               "box: find cells")]
         + _keys(app, InsightPane.BINDINGS)
         + [("↑ ↓ or click", "In the found cells: colour the text by that unit"),
            ("click", "In the coloured text: pick a character")]
         + [(k, f"In the coloured text: {d[0].lower()}{d[1:]}")
            for k, d in _keys(app, InsightText.BINDINGS)]),
        ("Dialogs", [("y / enter", "Confirm"), ("n / escape", "Cancel")]),
    ]


def palette(app: CharRNNApp) -> Iterable[SystemCommand]:
    """The app's own entries in the command palette (ctrl+p). Each shows its tab first."""
    for tab, title, key in TABS:
        yield SystemCommand(f"Go to {title}", f"Show the {title} tab ({key})",
                            lambda tab=tab: app.action_show_tab(tab))
    yield SystemCommand("Open a corpus file or folder", "Browse for text to train on",
                        _in_tab(app, "corpus", lambda corpus: corpus.action_browse()))
    yield SystemCommand("Start training", "Train with the settings in the Train tab",
                        _in_tab(app, "train", lambda train: train.action_start()))
    yield SystemCommand("Pause or resume training", "Toggle the running training",
                        _in_tab(app, "train", lambda train: train.action_pause()))
    yield SystemCommand("Stop training", "Stop, evaluate and save",
                        _in_tab(app, "train", lambda train: train.action_stop()))
    play = app.playground
    yield SystemCommand("Generate", "Sample from the seed in the Playground",
                        play.action_generate)
    yield SystemCommand("Regenerate", "The last seed text again, a new sample in place of "
                        "the last one (ctrl+r)", play.action_regenerate)
    yield SystemCommand("Continue generating", "Go on from where the text ended",
                        play.action_continue)
    yield SystemCommand("Stop generating", "Halt the Playground stream", play.action_stop)
    yield SystemCommand("Branch from here", "Pick another character in the generated text "
                        "and go on from there (F7)", play.action_branch)
    yield SystemCommand("Compare continuations", "N samples or a beam search side by side "
                        "(ctrl+n)", play.action_compare)
    yield SystemCommand("Sampling settings", "Show or hide stop, ban, bias, repetition, N "
                        "and beam (ctrl+t)", play.action_toggle_more)
    yield SystemCommand("Temperature up", "Hotter: wilder, more surprising text (])",
                        lambda: play.action_temperature(1))
    yield SystemCommand("Temperature down", "Cooler: safer, more repetitive text ([)",
                        lambda: play.action_temperature(-1))
    yield SystemCommand("Save generated text", "Write the Playground text to a file",
                        play.action_save)
    yield SystemCommand("Save Playground model as…", "Copy the current model under a name",
                        app.query_one(ModelsPane).action_save_current)
    yield SystemCommand("Insight: generate coloured", "Sample from the Insight seed, "
                        "coloured by confidence or a neuron",
                        _in_tab(app, "insight", lambda insight: insight.action_generate()))
    yield SystemCommand("Insight: colour the Playground text", "See what the model "
                        "thought at each character of the Playground's text",
                        _in_tab(app, "insight", lambda insight: insight.colour_text(
                            play.text, "the Playground")))
    yield SystemCommand("Insight: find cells", "Rank units by how well they track a "
                        "regular expression",
                        _in_tab(app, "insight", lambda insight: insight.action_find()))
    yield SystemCommand("Insight: export coloured text", "Write the Insight view as HTML "
                        "and SVG", _in_tab(app, "insight", lambda insight: insight.action_export()))
    yield SystemCommand("Help: keys", "Every key, by pane (F1)", app.action_help)


def _in_tab(app: CharRNNApp, tab: str, action: Callable[[Widget], object]
            ) -> Callable[[], Awaitable[None]]:
    """A command that shows `tab` (its pane is built on first showing), then runs `action`
    on its pane."""

    async def run() -> None:
        await app.action_show_tab(tab)  # builds the pane if it is not yet
        result = action(app.panes.built(tab))
        if inspect.isawaitable(result):
            await result

    return run
