"""Command line: no subcommand opens the app; train, sample, eval, race and models run
headless.

Each subcommand is one module of this package with two functions: `add_parser(sub,
threads)` builds its parser (cheap imports only: building the parser is what `--help`
costs) and `run(args)` does the work, importing what it needs (torch only where training
or scoring needs it). A new subcommand is a module plus its name in COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from charrnn_tui.cli.args import Help, Parser, threads_parent, unknown_flags
from charrnn_tui.engine.errors import CharRNNError

# the subcommand modules of this package, in the order `--help` lists them
COMMANDS = ("train", "sample", "eval", "race", "models", "serve", "completion")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("charrnn-tui")
    except PackageNotFoundError:
        return "dev"


class _Version(argparse.Action):
    """--version, looking the version up only when asked (importlib.metadata is slow)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="charrnn-tui", formatter_class=Help,
        description="Train a character-level RNN and play with it. "
                    "With no command, opens the terminal app.")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    p.add_argument("--home", help="data folder for models and downloads "
                                  "(default: $CHARRNN_TUI_HOME or the user data dir)")
    p.add_argument("--fresh", action="store_true",
                   help="open the app as new, not where the last session left off")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    threads = threads_parent()
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(sub, threads).set_defaults(module_=module.__name__)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, unknown = parser.parse_known_args(argv)
    args.argv_ = argv  # what `train --nproc` hands each rank
    if unknown:  # exits 2 with the usage of the (sub)command that was typed
        typed = getattr(args, "parser_", parser)
        typed.error(unknown_flags(typed, unknown))
    if args.command is None:
        from charrnn_tui.cli.open_app import open_app

        return open_app(args)
    try:
        return sys.modules[args.module_].run(args)
    except CharRNNError as e:  # a refusal written for the user; anything else is a bug
        print(f"charrnn-tui: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `charrnn-tui sample m | head`
        return 0
    except KeyboardInterrupt:  # Ctrl-C in sample, eval or models (train saves on its own)
        print("\ncharrnn-tui: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # an unusable home or output folder: one line, not a traceback
        where = f" ({e.filename})" if e.filename else ""
        print(f"charrnn-tui: {e.strerror or e}{where}", file=sys.stderr)
        return 1
