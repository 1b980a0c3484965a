"""`charrnn-tui completion bash|zsh|fish`: a shell completion script made from the parser
itself, so it always knows every subcommand, flag and choice. bash and zsh come from shtab;
fish, which shtab does not write, from `fish_script` below."""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh", "fish")
INSTALL = {"bash": "eval \"$(charrnn-tui completion bash)\"  # in ~/.bashrc",
           "zsh": "charrnn-tui completion zsh > ~/.zfunc/_charrnn-tui  # ~/.zfunc in $fpath",
           "fish": "charrnn-tui completion fish > ~/.config/fish/completions/charrnn-tui.fish"}


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    c = sub.add_parser("completion", help="print a shell completion script",
                       description="Print a completion script for SHELL. Install it with: "
                                   + "; ".join(INSTALL.values()))
    c.add_argument("shell", choices=SHELLS)
    return c


def run(args: argparse.Namespace) -> int:
    from charrnn_tui.cli import _parser

    parser = _parser()
    if args.shell == "fish":
        print(fish_script(parser), end="")
        return 0
    import shtab

    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {name: p for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            for name, p in a.choices.items()}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's one-line help."""
    return {choice.dest: choice.help or "" for action in parser._actions
            if isinstance(action, argparse._SubParsersAction)
            for choice in action._choices_actions}


def fish_script(parser: argparse.ArgumentParser) -> str:
    """`complete` lines for fish: subcommands where none was typed yet, then each
    (sub)command's flags and their choices once that command was typed; files for the
    rest, fish's default."""
    prog = parser.prog
    lines = []

    def options(p: argparse.ArgumentParser, condition: str) -> None:
        for action in p._actions:
            longs = [f for f in action.option_strings if f.startswith("--")]
            shorts = [f for f in action.option_strings if len(f) == 2 and f[0] == "-"]
            if not longs and not shorts:
                continue
            parts = [f"complete -c {prog}", f"-n {shlex.quote(condition)}"]
            parts += [f"-l {f[2:]}" for f in longs] + [f"-s {f[1:]}" for f in shorts]
            if action.choices:
                parts.append(f"-xa {shlex.quote(' '.join(map(str, action.choices)))}")
            elif action.nargs != 0:
                parts.append("-r")
            if action.help and action.help != argparse.SUPPRESS:
                parts.append(f"-d {shlex.quote(action.help.split(';')[0][:60])}")
            lines.append(" ".join(parts))

    def walk(p: argparse.ArgumentParser, path: list[str]) -> None:
        seen = " ".join(f"; and __fish_seen_subcommand_from {w}" for w in path)
        here = f"true{seen}" if path else "__fish_use_subcommand"
        options(p, here if path else "true")
        subs = _subcommands(p)
        helps = _helps(p)
        for name in subs:
            cond = (f"__fish_seen_subcommand_from {path[-1]}; and not __fish_seen_subcommand_"
                    f"from {' '.join(subs)}") if path else "__fish_use_subcommand"
            lines.append(f"complete -c {prog} -n {shlex.quote(cond)} -a {name} "
                         f"-d {shlex.quote(helps.get(name, ''))}")
        for name, child in subs.items():
            walk(child, [*path, name])

    walk(parser, [])
    return "\n".join(lines) + "\n"
