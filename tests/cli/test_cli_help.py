"""Issue 15, item 13: every flag explains itself with its default, and a mistyped flag is
answered with the usage of the subcommand that was typed."""

from __future__ import annotations

import argparse
import re

import pytest

from charrnn_tui import cli


def _subparsers(parser: argparse.ArgumentParser, path: str = ""):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{path} {name}".strip())


def test_every_option_has_help_and_shows_its_default():
    for path, parser in _subparsers(cli._parser()):
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"{path} {action.option_strings[0]} has no help"
            if action.default not in (None, False, [], ""):  # "" and []: nothing
                flag = re.escape(action.option_strings[-1])
                block = re.search(rf"\n  {flag}.*?(?=\n  -|\Z)", text, re.S)
                assert block and "default" in block.group(0), (path, action.option_strings)


def test_train_help_names_the_preset_values_it_starts_from():
    text = cli._parser()._subparsers._group_actions[0].choices["train"].format_help()
    flat = " ".join(text.split())
    assert "units per layer (default: the preset's; auto: chosen from the text's size)" in flat
    assert "character embedding size (default: the preset's; auto: 64)" in flat


@pytest.mark.parametrize("argv, usage", [
    (["train", "--bogus", "x.txt"], "usage: charrnn-tui train"),
    (["sample", "m", "--temprature", "1"], "usage: charrnn-tui sample"),
    (["models", "rename", "--bogus", "a", "b"], "usage: charrnn-tui models rename"),
    (["--bogus"], "usage: charrnn-tui [-h]"),
])
def test_an_unknown_flag_shows_the_subcommands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith(usage) and "unrecognized arguments" in err
