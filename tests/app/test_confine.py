"""Served mode keeps every path the app reads or writes inside the served folder: `..`,
absolute paths elsewhere and symbolic links out are refused in one line, in the app too."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.app import SIZE, open_in_playground, saved_model
from helpers.pilot import wait_for
from textual.widgets import Input, Static

from charrnn_tui.app import CharRNNApp
from charrnn_tui.confine import (
    ENV_ROOT,
    OutsideRoot,
    confine,
    default_folder,
    readable_source,
    within_root,
)
from charrnn_tui.panes.corpus.pane import CorpusPane
from charrnn_tui.screens.dialogs import PromptScreen
from charrnn_tui.screens.file_picker import FilePickerScreen
from charrnn_tui.widgets.path_input import PathSuggester

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """Served mode on a folder holding a file, a subfolder and a link out of it."""
    root = tmp_path / "served"
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "a.txt").write_text("inside " * 300, encoding="utf-8")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.txt").write_text("secret " * 300, encoding="utf-8")
    (root / "out").symlink_to(outside)
    monkeypatch.setenv(ENV_ROOT, str(root))
    return root.resolve()


def test_paths_resolve_inside_the_root(root):
    assert confine("texts/a.txt") == root / "texts" / "a.txt"
    assert confine(root / "texts") == root / "texts"
    assert confine("new/file.txt") == root / "new" / "file.txt"  # to be written
    assert confine(".") == root
    assert confine("~/x") == root / "~" / "x"  # no home folder: "~" is a name here


@pytest.mark.parametrize(("path", "reason"), [
    ("../secret/s.txt", "'..' is not allowed"),
    ("texts/../../secret", "'..' is not allowed"),
    ("/etc/passwd", "is outside"),
    ("out/s.txt", "symbolic link out of"),
    ("out", "symbolic link out of"),
])
def test_ways_out_are_refused_in_one_line(root, path, reason):
    with pytest.raises(OutsideRoot, match=reason) as caught:
        confine(path)
    assert "\n" not in str(caught.value)
    assert not within_root(path)


def test_the_terminal_app_is_not_confined(monkeypatch):
    monkeypatch.delenv(ENV_ROOT, raising=False)
    assert confine("~/x") == Path.home() / "x"
    assert confine("/etc/passwd") == Path("/etc/passwd")
    assert default_folder(Path("/data/exports")) == Path("/data/exports")


def test_a_models_recorded_corpus_outside_is_not_read(root, tmp_path):
    assert readable_source({"source": str(tmp_path / "secret" / "s.txt")}) is None
    inside = str(root / "texts" / "a.txt")
    assert readable_source({"source": inside}) == inside
    assert readable_source({"source": "builtin:shakespeare"}) == "builtin:shakespeare"


async def test_path_completion_stays_inside(root):
    suggest = PathSuggester().get_suggestion
    assert await suggest("tex") == "texts/"
    assert await suggest("../sec") is None
    assert await suggest("/etc/pass") is None
    assert await suggest("out/s") is None


async def test_the_corpus_pane_refuses_paths_out_and_loads_those_inside(root):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        pane = app.query_one(CorpusPane)
        for typed, reason in (("../secret/s.txt", "'..' is not allowed"),
                              ("out/s.txt", "symbolic link out of"),
                              ("/etc/passwd", "is outside")):
            app.query_one("#path", Input).value = typed
            app.query_one("#path", Input).focus()
            await pilot.press("enter")
            error = app.query_one("#corpus-error", Static)
            await wait_for(pilot, lambda r=reason, e=error: r in str(e.render()))
            assert pane.corpus is None
        app.query_one("#path", Input).value = "texts/a.txt"
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.corpus is not None)
        assert pane.source == str(root / "texts" / "a.txt")


async def test_the_file_picker_starts_at_the_root_and_does_not_climb_out(root):
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        picker = app.screen
        assert picker.start == root
        picker.action_up()
        await pilot.pause()
        assert Path(picker.query_one("#picker-tree").path) == root
        assert any("only" in n.message and str(root) in n.message
                   for n in app._notifications)
        tree = picker.query_one("#picker-tree")
        await wait_for(pilot, lambda: len(tree.root.children) > 0)
        shown = {Path(node.data.path).name for node in tree.root.children}
        assert shown == {"texts"}  # the link out is not listed


async def test_saving_text_outside_is_refused_and_inside_works(root, data_home):
    saved_model(data_home, "m", steps=2)
    app = CharRNNApp()
    async with app.run_test(size=SIZE) as pilot:
        play = await open_in_playground(pilot)
        play.query_one("#seed", Input).value = "the"
        play.query_one("#length", Input).value = "20"
        play.query_one("#seed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(play.text) >= 20)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        assert Path(app.screen.query_one(Input).value).parent == root / "samples"
        for target, reason in (("/tmp/charrnn-escape.txt", "is outside"),
                               ("../escape.txt", "'..' is not allowed"),
                               ("out/escape.txt", "symbolic link out of")):
            app.screen.query_one(Input).value = target
            await pilot.press("enter")
            assert reason in str(app.screen.query_one("#prompt-error", Static).render())
        app.screen.query_one(Input).value = "mine.txt"
        await pilot.press("enter")
        assert (root / "mine.txt").read_text(encoding="utf-8") == play.text
        assert not (root.parent / "secret" / "escape.txt").exists()
