"""Built-in corpora: they load through load_corpus, are sizeable and deterministic."""

from __future__ import annotations

import pytest
from helpers import SHAKESPEARE
from helpers.ports import refusing_port

from charrnn_tui.engine.data.builtin import BUILTINS, builtin_text
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.download import ENV_TINYSHAKESPEARE_URL, tinyshakespeare_path
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.paths import ENV_HOME

DATA = SHAKESPEARE


@pytest.fixture(autouse=True)
def offline_home(tmp_path, monkeypatch):
    """Keep every test off the real data dir and off the real network."""
    with refusing_port() as port:
        monkeypatch.setenv(ENV_HOME, str(tmp_path))
        monkeypatch.setenv(ENV_TINYSHAKESPEARE_URL, f"http://127.0.0.1:{port}/input.txt")
        yield tmp_path


def test_builtins_listed_in_display_order():
    assert [b.name for b in BUILTINS] == ["python-docs", "python-source", "tinyshakespeare"]
    assert [b.needs_download for b in BUILTINS] == [False, False, True]
    assert all(b.title and b.description and "\n" not in b.description for b in BUILTINS)


@pytest.mark.parametrize(("name", "low", "high"), [
    ("python-docs", 100_000, 5_000_000),
    ("python-source", 1_500_000, 2_500_000),
])
def test_shipped_corpora_load_and_are_deterministic(name, low, high):
    text = builtin_text(name)
    assert low <= len(text) <= high
    assert builtin_text(name) == text
    corpus = load_corpus(f"builtin:{name}")
    assert len(corpus) == len(text)
    assert corpus.name == f"builtin:{name}"
    assert corpus.vocab_size > 50


def test_python_source_is_python():
    text = builtin_text("python-source")
    assert "def " in text and "import " in text


@pytest.mark.skipif(not DATA.is_file(), reason=f"{DATA} is missing")
def test_tinyshakespeare_uses_the_downloaded_file(offline_home):
    path = tinyshakespeare_path(offline_home)
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA.read_bytes())
    assert builtin_text("tinyshakespeare", home=offline_home).startswith("First Citizen:")
    assert len(load_corpus("builtin:tinyshakespeare")) == len(DATA.read_text(encoding="utf-8"))


def test_tinyshakespeare_offline_gives_clear_error(offline_home):
    with pytest.raises(CorpusError, match="could not download tinyshakespeare: no network"):
        builtin_text("tinyshakespeare", home=offline_home)


def test_unknown_name_lists_valid_names():
    with pytest.raises(CorpusError) as info:
        load_corpus("builtin:nope")
    message = str(info.value)
    assert "'nope'" in message and "\n" not in message
    assert all(b.name in message for b in BUILTINS)
