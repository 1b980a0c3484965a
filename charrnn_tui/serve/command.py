"""`charrnn-tui serve`: its flags, and the checks made before anything listens.

Imported by the CLI on every run, so it imports nothing heavy; the server (and
textual-serve, an optional extra) only once `serve` runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import socket
import sys
from pathlib import Path

from charrnn_tui.engine.paths import data_home
from charrnn_tui.engine.threads import cores

INSTALL = ('charrnn-tui serve needs the [serve] extra: pip install "charrnn-tui[serve]" '
           '(from a clone: pip install -e ".[serve]")')


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine
    only."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (0 to 65535): {text!r}")
    return int(text)


def _sessions(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"not a number of sessions (1 to 256): {text!r}")
    return int(text)


def serve_parser(sub) -> argparse.ArgumentParser:
    """Add the `serve` subcommand to the CLI's subparsers."""
    s = sub.add_parser(
        "serve", help="serve the app to web browsers (each tab runs its own app)",
        description="Serve the app over HTTP: each browser tab gets its own copy of the app, "
                    "which reads and writes files only inside --root. There is no login: "
                    "whoever reaches the address uses the app.")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; one other machines can reach needs --public")
    s.add_argument("--port", type=_port, default=8000,
                   help="TCP port (0: a free one, printed at start)")
    s.add_argument("--root", metavar="DIR",
                   help="the only folder the served app reads and writes files in "
                        "(corpora, saved text, exports) (default: the data folder's served/)")
    s.add_argument("--max-sessions", type=_sessions, default=cores(), metavar="N",
                   help="browser tabs served at once, each an app process; more get a page "
                        "saying so (default: the number of cores)")
    s.add_argument("--public", action="store_true",
                   help="allow a --host other machines can reach, knowing there is no login")
    return s


def serve(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C; 2 with one line when it cannot start."""
    if not is_loopback(args.host) and not args.public:
        print(f"charrnn-tui serve: --host {args.host} lets other machines in, with no login; "
              "add --public if that is meant", file=sys.stderr)
        return 2
    try:
        import aiohttp  # noqa: F401
        import textual_serve  # noqa: F401
    except ImportError:
        print(INSTALL, file=sys.stderr)
        return 2
    root = Path(args.root).expanduser() if args.root else data_home(args.home) / "served"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a folder")
        root = root.resolve()
        sock = socket.create_server(
            (args.host.strip("[]"), args.port),
            family=socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    except OSError as e:
        print(f"charrnn-tui serve: {e.strerror or e}"
              f"{f' ({e.filename})' if e.filename else ''}", file=sys.stderr)
        return 2
    return _run(args, root, sock)


def _run(args: argparse.Namespace, root: Path, sock: socket.socket) -> int:
    import asyncio

    from charrnn_tui.confine import ENV_ROOT
    from charrnn_tui.serve.server import AppServer
    from charrnn_tui.session import ENV_CONFIG, session_path

    app = [sys.executable, "-m", "charrnn_tui"]
    app += ["--home", args.home] if args.home else []
    app += ["--fresh"] if args.fresh else []
    command = ("exec " if os.name == "posix" else "") + shlex.join(app)
    # the browser tabs' session (last tab, settings) is kept apart from the terminal's
    env = {ENV_ROOT: str(root), ENV_CONFIG: str(session_path().parent / "served")}
    server = AppServer(command, env, max_sessions=args.max_sessions, public=args.public)

    def announce(port: int) -> None:
        host = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
        print(f"charrnn-tui serve: http://{host}:{port}/  (files: {root}; up to "
              f"{args.max_sessions} sessions; Ctrl-C ends them all)", flush=True)
        if args.public:
            print("charrnn-tui serve: warning: there is no login: anyone who reaches this "
                  "address can use the app, train on this machine's CPU and read and write "
                  f"files in {root}", flush=True)

    with sock:
        try:
            asyncio.run(server.serve(sock, announce))
        except KeyboardInterrupt:  # where asyncio has no signal handlers (Windows)
            pass
    return 0
