"""`charrnn-tui serve`: the app in web browsers; the server lives in charrnn_tui/serve/."""

from __future__ import annotations

import argparse

from charrnn_tui.serve import command


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    return command.serve_parser(sub)


def run(args: argparse.Namespace) -> int:
    return command.serve(args)
