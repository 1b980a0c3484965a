"""The web server behind `charrnn-tui serve`: textual-serve's app processes and page, with
a cap on sessions, checks on who may connect, and an orderly end.

Each websocket (one browser tab) runs its own app process through textual-serve's
AppService, in served mode (confine.py). The page is our own template (templates/): it
loads nothing from another host. On Ctrl-C every app is asked to quit as its Quit key
does, so a running training stops and saves; one that takes longer than SAVE_WAIT, or a
second Ctrl-C, is killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager
from textual_serve.server import Server

from charrnn_tui.serve.command import is_loopback

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(textual_serve.__file__).parent / "static"
SAVE_WAIT = 30.0  # seconds an app gets to stop and save its training when the server ends
MAX_CELLS = 500  # columns or rows a browser may ask for
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
       "'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
       "frame-ancestors 'none'")

log = logging.getLogger("charrnn-tui.serve")


def _cells(value: object, default: int) -> int:
    """A terminal dimension from the browser, kept to 1..MAX_CELLS."""
    try:
        return max(1, min(MAX_CELLS, int(value)))
    except (TypeError, ValueError):
        return default


class Session(AppService):
    """One browser tab's app process, started with served mode's environment."""

    def __init__(self, command: str, env: dict[str, str], **kwargs) -> None:
        super().__init__(command, **kwargs)
        self.env = env

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return {**super()._build_environment(width, height), **self.env}

    def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with suppress(ProcessLookupError):
                self._process.kill()

    async def end(self, wait: float) -> None:
        """Ask the app to quit (it stops and saves as Quit does); kill it after `wait` s."""
        try:
            await asyncio.wait_for(self.stop(), wait)
        except asyncio.TimeoutError:
            log.warning("an app did not end within %.0f s; killing it", wait)
        except (ConnectionError, RuntimeError):  # its pipes are gone: it is ending anyway
            pass
        finally:
            self.kill()
        if self._process is not None:
            await self._process.wait()
            self._process.stdin.close()  # the pipe left open: the transport can close now


class AppServer:
    """Serves `command`, one process per websocket, at most `max_sessions` at a time."""

    def __init__(self, command: str, env: dict[str, str], *, max_sessions: int,
                 public: bool, title: str = "charrnn-tui") -> None:
        self.command = command
        self.env = env
        self.max_sessions = max_sessions
        self.public = public
        self.title = title
        self.sessions: dict[Session, web.WebSocketResponse] = {}
        self._endings: set[asyncio.Task] = set()  # sessions on their way out
        self.download_manager = DownloadManager()  # files an app hands to the browser

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
        app.add_routes([web.get("/", self.handle_index), web.get("/ws", self.handle_websocket),
                        web.get("/download/{key}", self.handle_download),
                        web.static("/static", STATIC)])
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        """A loopback server answers only to loopback names (no DNS rebinding: another
        site's page cannot reach it under its own name); every page gets a policy that
        keeps it from loading anything from another host."""
        host = urlsplit(f"//{request.host}").hostname or ""
        if not self.public and not is_loopback(host):
            raise web.HTTPForbidden(text=f"this server answers only as localhost, not {host}")
        response = await handler(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # textual-serve's: a file an app delivers (the palette's screenshot) goes to the browser
    handle_download = Server.handle_download

    def _full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    async def handle_index(self, request: web.Request) -> web.Response:
        context = {"title": self.title, "max_sessions": self.max_sessions,
                   "font_size": _cells(request.query.get("fontsize"), 16)}
        if self._full():  # a page saying so, not another process
            return aiohttp_jinja2.render_template("busy.html", request, context, status=503)
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="a page from another site may not open a session")
        if self._full():
            raise web.HTTPServiceUnavailable(
                text=f"all {self.max_sessions} sessions of this server are in use")
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 16)
        session = Session(self.command, self.env, write_bytes=ws.send_bytes,
                          write_str=ws.send_str, close=ws.close,
                          download_manager=self.download_manager)
        self.sessions[session] = ws  # counted from here, so no two requests pass the cap
        try:
            await ws.prepare(request)
            await session.start(_cells(request.query.get("width"), 80),
                                _cells(request.query.get("height"), 24))
            await self._relay(ws, session)
        finally:
            # in a task of its own: aiohttp cancels this handler when the tab goes away,
            # and the app must still get its time to save (it stays counted until then)
            ending = asyncio.create_task(self._end(session))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)
            await asyncio.shield(ending)
        return ws

    async def _end(self, session: Session) -> None:
        try:
            await session.end(SAVE_WAIT)
        finally:
            ws = self.sessions.pop(session)
            await ws.close()

    async def _relay(self, ws: web.WebSocketResponse, session: Session) -> None:
        """The browser's keys, size and focus to the app; anything malformed is dropped."""
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await session.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await session.set_terminal_size(_cells(data.get("width"), 80),
                                                _cells(data.get("height"), 24))
            elif kind == "ping" and isinstance(data, str):
                await ws.send_json(["pong", data[:64]])
            elif kind == "blur":
                await session.blur()
            elif kind == "focus":
                await session.focus()

    async def end_sessions(self) -> None:
        """Every app quits as its Quit key does (a running training stops and saves)."""
        await asyncio.gather(*(s.end(SAVE_WAIT) for s in list(self.sessions)),
                             *self._endings, return_exceptions=True)

    def kill_sessions(self) -> None:
        for session in list(self.sessions):
            session.kill()

    async def serve(self, sock: socket.socket, announce) -> None:
        """Serve on the bound `sock` until SIGINT or SIGTERM; then end every session.
        `announce(port)` is called once the server accepts connections."""
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                               shutdown_timeout=5)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            with suppress(NotImplementedError):  # Windows: Ctrl-C raises KeyboardInterrupt
                loop.add_signal_handler(sig, stop.set)
        announce(sock.getsockname()[1])
        try:
            await stop.wait()
        finally:
            if self.sessions:
                print(f"charrnn-tui serve: ending {len(self.sessions)} session(s); a running "
                      f"training stops and saves (Ctrl-C again to kill them)", flush=True)
            for sig in signals:
                with suppress(NotImplementedError):
                    loop.add_signal_handler(sig, self.kill_sessions)
            await self.end_sessions()
            await runner.cleanup()
