"""The Playground's controls, Branch and Compare, driven with Pilot on a tiny trained model."""

from __future__ import annotations

import pytest
from helpers.app import SIZE, open_in_playground, saved_model, text_of
from helpers.pilot import wait_for
from textual.widgets import Button, Input, OptionList, Select, TextArea

from charrnn_tui.app import CharRNNApp
from charrnn_tui.panes.playground.branch import BranchScreen
from charrnn_tui.panes.playground.candidates import CandidateColumn, CompareCandidatesScreen

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


def fill(app, **values: str) -> None:
    for fid, value in values.items():
        app.query_one(f"#{fid}", Input).value = value


async def generate(pilot, seed: str = "the ", **values: str):
    """Generate at full speed with `values` in the boxes; the pane once the stream ended."""
    app = pilot.app
    play = app.query_one("PlaygroundPane")
    app.query_one("#speed", Select).value = 0
    fill(app, **values)
    app.query_one("#seed", Input).value = seed
    app.query_one("#seed", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: not play.stream.producing and not play.stream.pending())
    await pilot.pause()
    return play


async def test_bad_values_are_named_next_to_their_box_and_block_what_they_affect(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        fill(app, top_p="1.5", top_k="-3")
        await pilot.pause()
        error = text_of(app, "#params-row-error")
        assert "top-p must be above 0 and at most 1, not 1.5" in error
        assert "top-k must be 0 (no limit) or more, not -3" in error
        assert app.query_one("#top_p", Input).has_class("-invalid")
        assert app.query_one("#generate", Button).disabled
        app.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert play.text == "" and not play.stream.producing, "Generate must be refused"
        assert app.focused is app.query_one("#top_k", Input), "the first bad box gets focus"

        fill(app, top_p="0.9", top_k="abc")
        await pilot.pause()
        assert text_of(app, "#params-row-error") == "top-k must be a whole number, not 'abc'"
        fill(app, top_k="5", length="0")
        await pilot.pause()
        assert "length must be between 1 and 1,000,000, not 0" in text_of(app, "#params-row-error")
        fill(app, length="30")
        await pilot.pause()
        assert not app.query_one("#params-row-error").display
        assert (play.params.top_p, play.params.top_k) == (0.9, 5)

        # the settings behind "More" open by themselves to show their error
        fill(app, bias="e=lots", penalty="0.5", n="0")
        await pilot.pause()
        assert not app.query_one("#more").collapsed
        assert "the bias of 'e' must be a number, not 'lots'" in text_of(app, "#more-row1-error")
        row2 = text_of(app, "#more-row2-error")
        assert "repetition penalty must be between 1 and 10, not 0.5" in row2
        assert "N must be between 1 and 16, not 0" in row2
        assert app.query_one("#generate", Button).disabled
        fill(app, bias="e=-2", penalty="1.2")
        await pilot.pause()
        assert not app.query_one("#generate", Button).disabled, "N blocks only Compare"
        assert app.query_one("#compare", Button).disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not isinstance(app.screen, CompareCandidatesScreen)
        assert play.params.bias == {"e": -2.0} and play.params.repetition_penalty == 1.2


async def test_stop_strings_and_banned_characters_apply(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        play = await generate(pilot, length="3000", ban="aeiou\\s", stop_at="zz|.")
        made = play.text[len("the "):]
        assert made.endswith(".") and len(made) < 3000, "the stream ends at the stop string"
        assert not set(made) & set("aeiou "), "banned characters never appear"
        assert f"{len(made):,} characters" in app.query_one("PlaygroundPane").status


async def test_branch_from_here_with_keys_and_mouse(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        play = await generate(pilot, length="120")
        before = play.generated
        assert len(before) == 120
        await pilot.press("f7")
        assert isinstance(app.screen, BranchScreen)
        screen = app.screen
        assert screen.at == 119, "the cursor starts on the last character"
        for _ in range(40):
            await pilot.press("left")
        assert screen.at == 79
        options = screen.query_one(OptionList)
        assert options.option_count >= 2
        probs = [p for _, _, p in screen.choices]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
        assert any("◀ came" in str(options.get_option_at_index(i).prompt)
                   for i in range(options.option_count)) or before[79] not in \
            [c for _, c, _ in screen.choices]

        await pilot.click(TextArea, offset=(3, 1))  # the mouse moves the cursor too
        area = screen.query_one(TextArea)
        clicked = area.document.get_index_from_location(area.cursor_location)
        assert screen.at == clicked != 79
        offset = screen.at
        other = next(i for i, (_, c, _) in enumerate(screen.choices) if c != before[offset])
        picked = screen.choices[other][1]
        fill(app, length="25")
        await pilot.press(str(other + 1))
        assert not isinstance(app.screen, BranchScreen)
        await wait_for(pilot, lambda: not play.stream.producing and not play.stream.pending())
        await pilot.pause()
        after = play.generated
        assert after[:offset] == before[:offset], "the text before the branch stays"
        assert after[offset] == picked, "the picked character replaces what came"
        assert len(after) == offset + 1 + 25, "the text after it is generated anew"
        trail = play.sampler.trail.ids
        assert "".join(play.sampler.vocab[i] for i in trail[-len(after):]) == after

        await pilot.press("f7")  # and again, from the new text, with Enter
        screen = app.screen
        first = screen.choices[screen.query_one(OptionList).highlighted]
        await pilot.press("enter")
        await wait_for(pilot, lambda: not play.stream.producing and not play.stream.pending())
        await pilot.pause()
        assert play.generated[:len(after) - 1] == after[:-1]
        assert play.generated[len(after) - 1] == first[1]


async def test_compare_samples_and_beam_side_by_side_and_keep_one(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        play = await generate(pilot, length="20")
        fill(app, n="3", length="30")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareCandidatesScreen))
        columns = list(app.screen.query(CandidateColumn))
        assert len(columns) == 3
        scores = [c.candidate.logprob for c in columns]
        assert scores == sorted(scores, reverse=True), "best first, by total log-probability"
        assert all(len(c.candidate.text) == 30 for c in columns)
        # each shown after the end of the text it continues (a candidate may start mid-word)
        tail = play.text.rsplit("\n", 1)[-1][-40:]
        for c in columns:
            shown = str(c.query_one(".cand-text").render())
            assert shown.startswith(tail) and shown.endswith(c.candidate.text.rstrip("\n"))
        kept, text = columns[1].candidate.text, play.text
        await pilot.press("2")
        assert play.text == text + kept
        assert "kept candidate 2" in app.query_one("PlaygroundPane").status
        await pilot.press("f6")  # Continue goes on after the kept candidate
        await wait_for(pilot, lambda: len(play.text) == len(text + kept) + 30)

        fill(app, beam="2", length="15", ban="e", stop_at=".")  # the search honours both
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareCandidatesScreen))
        assert "Beam search, width 2" in app.screen.title_text
        assert "up to 15 characters each" in app.screen.title_text
        columns = list(app.screen.query(CandidateColumn))
        assert len(columns) == 2 and not any("e" in c.candidate.text for c in columns)
        assert all("." not in c.candidate.text[:-1] for c in columns)
        await pilot.click(CandidateColumn)  # a click keeps the first
        assert play.text.endswith(columns[0].candidate.text)


async def test_switching_models_leaves_no_old_text(data_home):
    saved_model(data_home, "cat", steps=5)
    saved_model(data_home, "dog", steps=5)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        play = await generate(pilot, length="30")
        assert play.text
        await pilot.press("f5", "down", "enter")
        await wait_for(pilot, lambda: play.model_name == "dog")
        assert play.text == "" and app.query_one("PlaygroundPane").status == ""
        assert not app.query_one("#output").lines


async def test_clear_also_clears_the_status(cat):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_in_playground(pilot)
        play = await generate(pilot, length="30")
        assert "30 characters" in app.query_one("PlaygroundPane").status
        await pilot.press("ctrl+l")
        assert play.text == "" and app.query_one("PlaygroundPane").status == ""


async def test_the_status_and_every_button_show_whole_at_80_columns(cat):
    """At 80×24 "500 characters; F6 continues" was cut to "500 characters; F6", and then
    the Compare button was hidden to make room: now the status sits on the text box's
    border, and every button fits."""
    app = CharRNNApp()
    async with app.run_test(size=(80, 24)) as pilot:
        play = await open_in_playground(pilot)
        await generate(pilot, length="500")
        assert play.status == "500 characters, the length set; F6 continues"
        assert app.query_one("#output").region.width - 4 >= len(play.status)
        for button in app.query("#play-buttons Button"):
            assert button.display and button.region.right <= 80, f"{button.id} cut off"
        assert app.query_one("#compare").region.width > 0
