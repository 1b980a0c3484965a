"""No subcommand: open the terminal app. The one module of the command line that imports
the UI (pyproject.toml's import contract names this edge)."""

from __future__ import annotations

import argparse


def open_app(args: argparse.Namespace) -> int:
    from charrnn_tui.app import run_app

    run_app(args.home, fresh=args.fresh)
    return 0
