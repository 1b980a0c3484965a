"""Fixtures and hooks shared by the test modules; others may add theirs below."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from charrnn_tui.engine.data.download import ENV_TINYSHAKESPEARE_URL
from charrnn_tui.engine.paths import ENV_HOME
from charrnn_tui.session import ENV_CONFIG


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests (the app's Pilot tests) in a fresh event loop, no plugin needed."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models train up to 50× slower with 2 intra-op threads on a loaded 2-core machine.
    (The app's own tests still get its choice: the app sets the thread count on start.)"""
    from helpers import kit

    with kit.one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Every test gets its own empty data home and config folder, never the user's, and a
    download URL that fails at once (port 9 refuses connections), so nothing reaches the
    network."""
    home = tmp_path / "charrnn-home"
    monkeypatch.setenv(ENV_HOME, str(home))
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "charrnn-config"))
    monkeypatch.setenv(ENV_TINYSHAKESPEARE_URL, "http://127.0.0.1:9/input.txt")
    return home


@pytest.fixture
def no_shipped_models(monkeypatch):
    """The app as freshly installed without pretrained models (tests pick their own)."""
    from charrnn_tui import resources

    monkeypatch.setattr(resources, "shipped_models", lambda: [])


@pytest.fixture
def no_gpu(monkeypatch):
    """The same GPU answer on every machine, so screens and tests do not vary."""
    from charrnn_tui.panes.train import form as train_form

    monkeypatch.setattr(train_form, "accelerator_available",
                        lambda: (None, "no CUDA or MPS device found"))


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    """A tiny corpus file (~3.5k characters of the kit's text) for the app tests."""
    from helpers import kit

    return kit.write_text(tmp_path / "tiny.txt", kit.TEXT * 3)


@pytest.fixture
def shipped(monkeypatch, tmp_path) -> str:
    """One read-only model, "bard", shipped with the app."""
    from helpers.app import saved_model

    from charrnn_tui import resources

    path = tmp_path / "assets" / "bard.safetensors"
    path.parent.mkdir()
    path.write_bytes(saved_model(tmp_path / "build", "bard").read_bytes())
    monkeypatch.setattr(resources, "shipped_models", lambda: [path])
    return "bard"


@pytest.fixture
def cat(data_home) -> str:
    """A tiny model, "cat", trained 30 steps on the kit's text and saved in the data home."""
    from helpers.app import saved_model

    saved_model(data_home, "cat", steps=30)
    return "cat"
