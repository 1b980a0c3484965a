"""What every subcommand's parser shares: value types, the help layout, unknown-flag hints.

Imported by every command module to build the parser, so it imports nothing heavy.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re

from charrnn_tui.engine.threads import ENV_THREADS

DEVICE_HELP = "cpu|cuda|mps|auto: cuda:N picks a GPU, mps an Apple GPU, auto a GPU if there is one"


def whole(lo: int):
    """An argparse type: a whole number of at least `lo`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, not {value}")
        return value
    return parse


positive_int = whole(1)


def finite(lo: float = 0.0, hi: float = math.inf, *, above: bool = True,
           below: bool = False):
    """An argparse type: a finite number in the range (NaN and infinities are refused:
    `--time-budget nan` would otherwise train forever)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        ok = math.isfinite(value) and (value > lo if above else value >= lo) and (
            value < hi if below else value <= hi)
        if not ok:
            left, right = "(" if above else "[", ")" if below else "]"
            raise argparse.ArgumentTypeError(f"must be a finite number in {left}{lo}, {hi}"
                                             f"{right}, not {text}")
        return value
    return parse


def device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,2})?", text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use cpu, cuda, cuda:N, "
                                         "mps or auto")
    return text


def escaped(text: str) -> str:
    r"""Text with \n, \t and \\ written as escapes, as a shell passes them."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace(
        "\0", "\\")


def choice_list(choices: tuple[str, ...]):
    """An argparse type: a comma-separated list of names from `choices`."""
    def parse(text: str) -> list[str]:
        picked = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in picked if n not in choices]
        if bad or not picked:
            raise argparse.ArgumentTypeError(f"use a comma-separated list of "
                                             f"{', '.join(choices)}, not {text!r}")
        return picked
    return parse


class Help(argparse.HelpFormatter):
    """Every flag's help ends with its default, unless the text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is not None and default is not False and default not in ([], "")
                and default != argparse.SUPPRESS and "default" not in text
                and action.option_strings):
            text += " (default: %(default)r)" if isinstance(action.default, str) \
                else " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """A subcommand's parser: help shows defaults, and a parse records which parser it was,
    so an unknown flag is reported with that subcommand's usage, not the top level's."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", Help)
        super().__init__(*args, **kwargs)
        self.set_defaults(parser_=self)


def unknown_flags(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """The "unrecognized arguments" message, with "did you mean --x?" for a near miss."""
    flags = [f for a in parser._actions for f in a.option_strings if f.startswith("--")]
    hints = []
    for arg in unknown:
        typed = arg.partition("=")[0]
        if typed.startswith("--"):
            near = difflib.get_close_matches(typed, flags, n=1, cutoff=0.75)
            hints += [f"did you mean {near[0]}?"] if near else []
    return f"unrecognized arguments: {' '.join(unknown)}" + "".join(f"; {h}" for h in hints)


def threads_parent() -> argparse.ArgumentParser:
    """--threads, shared by the commands that compute."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help=f"torch intra-op threads (default: ${ENV_THREADS} or "
                        "$OMP_NUM_THREADS, else chosen by timing the steps for training, "
                        "1 for sampling, the idle cores for eval)")
    return p
