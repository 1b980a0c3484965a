"""`charrnn-tui serve` without a browser: the page, the app's screen through the websocket,
a key driven through it, Ctrl-C; and, in process, the session cap and who may connect.

The server runs as a subprocess on a port the OS picks (--port 0; it prints the port once
it listens). Every wait is bounded; every process is killed in teardown.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="the [serve] extra is not installed: "
                                            "pip install -e '.[serve]'")
import aiohttp  # noqa: E402  (textual-serve brings it)

from charrnn_tui import cli  # noqa: E402
from charrnn_tui.engine.paths import ENV_HOME  # noqa: E402
from charrnn_tui.serve import command  # noqa: E402
from charrnn_tui.serve.server import AppServer  # noqa: E402
from charrnn_tui.session import ENV_CONFIG  # noqa: E402

START = 120.0  # seconds for the server, then for an app, to come up on a loaded machine
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class Served:
    """A `charrnn-tui serve` subprocess in its own process group, and what it printed."""

    def __init__(self, tmp: Path, *flags: str) -> None:
        self.root, self.config = tmp / "root", tmp / "config"
        env = {**os.environ, ENV_HOME: str(tmp / "home"), ENV_CONFIG: str(self.config)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "charrnn_tui", "serve", "--port", "0", "--root",
             str(self.root), *flags], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.line(START)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert match, f"serve did not start: {first!r}"
        self.url = f"http://127.0.0.1:{match[1]}"

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def line(self, timeout: float) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"serve printed nothing in {timeout:.0f} s") from None

    def children(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                               text=True)
        return [int(p) for p in found.stdout.split()]

    def kill(self) -> None:
        """Everything it started, whatever state the test left it in."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("serve"), "--max-sessions", "2")
    yield server
    server.kill()


def screen_text(data: bytes) -> str:
    return ANSI.sub("", data.decode("utf-8", "replace"))


async def read_until(ws, seen: bytearray, done: Callable[[str], bool], timeout: float) -> str:
    """Collect the app's output into `seen` until `done(text so far)`; fail after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not done(screen_text(seen)):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; the screen so far ends {screen_text(seen)[-600:]!r}"
        try:
            message = await ws.receive(timeout=min(left, 5.0))
        except asyncio.TimeoutError:
            continue
        assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
        if message.type == aiohttp.WSMsgType.BINARY:
            seen += message.data
    return screen_text(seen)


def playground_shown(text: str) -> bool:
    return "Playground" in text and "Type a seed" in text  # the first-run hint in it


async def test_the_page_loads_nothing_from_another_host(served):
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url + "/") as page:
            assert page.status == 200
            html = await page.text()
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
        assert links and all(link.startswith("/") and not link.startswith("//")
                             for link in links), links
        assert "googleapis" not in html and "url(\"http" not in html
        for link in links + re.findall(r"""url\(["']?(/[^"')]+)""", html):
            async with http.get(served.url + link) as response:
                assert response.status == 200, link


async def test_the_apps_screen_arrives_through_the_websocket(served):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(served.url + "/ws?width=100&height=30") as ws:
            text = await read_until(ws, bytearray(), playground_shown, START)
    assert "Corpus" in text and "Train" in text  # the tabs


async def test_a_key_through_the_websocket_changes_the_screen(served):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(served.url + "/ws?width=100&height=30") as ws:
            seen = bytearray()
            assert "Choose a corpus" not in await read_until(ws, seen, playground_shown, START)
            await ws.send_str(json.dumps(["stdin", "\x1bOQ"]))  # F2: the Corpus tab
            await read_until(ws, seen, lambda text: "Choose a corpus" in text, START)


def test_ctrl_c_ends_every_session_as_quit_does(tmp_path):
    """The app quits the way its Quit key does (it writes its session as it leaves, the
    step that follows stopping and saving a training) and the server exits 0."""
    server = Served(tmp_path, "--public")
    try:
        assert "no login" in server.line(30)  # --public says so
        seen, apps = bytearray(), []

        async def open_and_interrupt() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(server.url + "/ws") as ws:
                    await read_until(ws, seen, playground_shown, START)
                    apps.extend(server.children())
                    assert len(apps) == 1
                    server.proc.send_signal(signal.SIGINT)
                    message = await ws.receive(timeout=START)
                    while message.type == aiohttp.WSMsgType.BINARY:
                        message = await ws.receive(timeout=START)
                    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

        asyncio.run(open_and_interrupt())
        assert server.proc.wait(START) == 0
        assert (server.config / "served" / "session.json").is_file()
        for pid in apps:  # ended, and reaped by the server
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        server.kill()


# --- in process: the cap and who may connect --------------------------------------------
FAKE_APP = (  # a stand-in app: says it is one, then waits for the server's "quit"
    "import sys; sys.stdout.write('__GANGLION__\\n'); sys.stdout.flush(); seen = b''\n"
    "while b'quit' not in seen:\n"
    "    chunk = sys.stdin.buffer.read1(4096)\n"
    "    if not chunk: break\n"
    "    seen += chunk\n")


async def _until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_tab_beyond_the_cap_gets_a_page_saying_so_not_a_process():
    from aiohttp.test_utils import TestClient, TestServer

    server = AppServer(f"{sys.executable} -c {json.dumps(FAKE_APP)}", {}, max_sessions=1,
                       public=False)
    async with TestClient(TestServer(server.make_app(), host="127.0.0.1")) as client:
        try:
            first = await client.ws_connect("/ws")
            await _until(lambda: len(server.sessions) == 1)
            page = await client.get("/")
            assert page.status == 503
            assert "All 1 sessions of this server are in use" in await page.text()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws")
            assert refused.value.status == 503
            assert len(server.sessions) == 1  # no second process
            await first.close()
            await _until(lambda: not server.sessions)
            assert (await client.get("/")).status == 200  # a slot is free again
            again = await client.ws_connect("/ws")
            await _until(lambda: len(server.sessions) == 1)
            await again.close()
            await _until(lambda: not server.sessions)
        finally:
            server.kill_sessions()


async def test_other_sites_and_other_host_names_are_refused():
    """Another site's page may not open a session (its Origin differs), and a loopback
    server does not answer to other names (DNS rebinding)."""
    from aiohttp.test_utils import TestClient, TestServer

    server = AppServer("false", {}, max_sessions=1, public=False)
    async with TestClient(TestServer(server.make_app(), host="127.0.0.1")) as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        page = await client.get("/", headers={"Host": "evil.example"})
        assert page.status == 403 and "only as localhost" in await page.text()
        assert not server.sessions


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org", "::"])
def test_a_host_others_can_reach_needs_public(host, capsys):
    assert cli.main(["serve", "--host", host]) == 2
    assert "add --public" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"])
def test_loopback_hosts(host):
    assert command.is_loopback(host)


def test_without_the_extra_serve_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == command.INSTALL and "\n" not in err
    assert 'pip install -e ".[serve]"' in err and 'pip install "charrnn-tui[serve]"' in err
