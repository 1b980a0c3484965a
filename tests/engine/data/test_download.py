"""Verified downloads against a local HTTP server; never the real network or data dir."""

from __future__ import annotations

import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import SHAKESPEARE
from helpers.ports import refusing_port

from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.download import (
    ENV_TINYSHAKESPEARE_URL,
    TINYSHAKESPEARE_SHA256,
    download_verified,
    ensure_tinyshakespeare,
    tinyshakespeare_path,
)

DATA = SHAKESPEARE
needs_data = pytest.mark.skipif(not DATA.is_file(), reason=f"{DATA} is missing")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url():
    """Base URL of an HTTP server on 127.0.0.1 serving the folder holding DATA."""
    handler = functools.partial(_QuietHandler, directory=str(DATA.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def closed_url():
    """A URL on 127.0.0.1 where nothing listens, so connecting is refused at once."""
    with refusing_port() as port:
        yield f"http://127.0.0.1:{port}/tinyshakespeare.txt"


@needs_data
def test_verified_download(server_url, tmp_path):
    dest = tmp_path / "new" / "shakespeare.txt"
    calls: list[tuple[int, int | None]] = []
    got = download_verified(f"{server_url}/{DATA.name}", dest, TINYSHAKESPEARE_SHA256,
                            progress=lambda done, total: calls.append((done, total)))
    assert got == dest
    assert dest.read_bytes() == DATA.read_bytes()
    assert calls and calls[-1] == (DATA.stat().st_size, DATA.stat().st_size)
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


@needs_data
def test_wrong_checksum_keeps_nothing(server_url, tmp_path):
    dest = tmp_path / "corpora" / "shakespeare.txt"
    with pytest.raises(CorpusError, match="failed its checksum.*nothing was kept"):
        download_verified(f"{server_url}/{DATA.name}", dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []


@needs_data
def test_http_error_status(server_url, tmp_path):
    dest = tmp_path / "missing.txt"
    with pytest.raises(CorpusError, match="HTTP 404"):
        download_verified(f"{server_url}/no-such-file.txt", dest, TINYSHAKESPEARE_SHA256)
    assert list(tmp_path.iterdir()) == []


def test_no_server_fails_fast(closed_url, tmp_path):
    start = time.monotonic()
    with pytest.raises(CorpusError, match="could not download tinyshakespeare: no network"):
        download_verified(closed_url, tmp_path / "tinyshakespeare.txt", TINYSHAKESPEARE_SHA256,
                          timeout=60.0)
    assert time.monotonic() - start < 30  # refused at once, never waiting out the timeout
    assert list(tmp_path.iterdir()) == []


def test_bad_url(tmp_path):
    with pytest.raises(CorpusError, match="bad URL"):
        download_verified("not a url", tmp_path / "x.txt", TINYSHAKESPEARE_SHA256)


@needs_data
def test_ensure_reuses_verified_file_without_network(closed_url, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_TINYSHAKESPEARE_URL, closed_url)
    path = tinyshakespeare_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA.read_bytes())
    assert ensure_tinyshakespeare(tmp_path) == path


@needs_data
def test_ensure_downloads_from_env_url_and_replaces_corrupt_file(server_url, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv(ENV_TINYSHAKESPEARE_URL, f"{server_url}/{DATA.name}")
    path = tinyshakespeare_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("not shakespeare")
    assert ensure_tinyshakespeare(tmp_path) == path
    assert path.read_bytes() == DATA.read_bytes()


def test_ensure_offline_without_file(closed_url, tmp_path):
    with pytest.raises(CorpusError, match="could not download tinyshakespeare"):
        ensure_tinyshakespeare(tmp_path, url=closed_url, timeout=3.0)
    assert not tinyshakespeare_path(tmp_path).exists()
