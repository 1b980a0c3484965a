"""Command line: no subcommand opens the app; train, sample, eval and models run headless."""

from __future__ import annotations

import argparse
import sys

from charrnn_tui.engine.data.builtin import BUILTINS
from charrnn_tui.engine.data.sources import builtin_source
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import CELLS, IMPLEMENTATIONS
from charrnn_tui.engine.training.optim import OPTIMIZERS
from charrnn_tui.engine.training.presets import PRESETS
from charrnn_tui.engine.training.vocab import POLICIES


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="charrnn-tui",
        description="Train a character-level RNN and play with it. "
                    "With no command, opens the terminal app.")
    p.add_argument("--home", help="data folder for models and downloads "
                                  "(default: $CHARRNN_TUI_HOME or the user data dir)")
    sub = p.add_subparsers(dest="command")

    t = sub.add_parser("train", help="train a model headless",
                       description="Train on a text file, a folder of text files, or "
                                   + " | ".join(builtin_source(b.name) for b in BUILTINS) + ".")
    t.add_argument("corpus", nargs="?", help="file, folder or builtin:NAME "
                                             "(with --resume: defaults to the model's corpus)")
    t.add_argument("--preset", choices=sorted(PRESETS), help="start from a named setup")
    t.add_argument("--impl", choices=IMPLEMENTATIONS)
    t.add_argument("--cell", choices=CELLS)
    t.add_argument("--layers", type=int)
    t.add_argument("--hidden", type=int)
    t.add_argument("--embed", type=int)
    t.add_argument("--dropout", type=float)
    t.add_argument("--batch", type=int)
    t.add_argument("--seq", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=("constant", "cosine"))
    stop = t.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=float)
    stop.add_argument("--time-budget", type=float, metavar="SECONDS")
    stop.add_argument("--max-steps", type=int)
    t.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"))
    t.add_argument("--seed", type=int)
    t.add_argument("--eval-every", type=float, metavar="SECONDS")
    t.add_argument("--threads", type=int, help="torch intra-op threads")
    t.add_argument("--encoding", help="text encoding of the corpus (default: detect UTF-8/16)")
    t.add_argument("--name", help="save under this model name (default: derived, unique)")
    t.add_argument("--force", action="store_true", help="replace an existing model of --name")
    t.add_argument("--resume", metavar="MODEL", help="continue training a saved model")
    t.add_argument("--new-chars", choices=POLICIES, default="refuse",
                   help="with --resume, characters the model never saw: refuse (default), "
                        "map to --replace-char, or extend the vocabulary")
    t.add_argument("--replace-char", help="replacement for --new-chars map (default: space)")
    t.add_argument("--json", action="store_true", help="print only a final JSON line")

    s = sub.add_parser("sample", help="stream generated text to stdout")
    s.add_argument("model", help="saved model name (NAME or NAME:best) or a model file")
    s.add_argument("--seed-text", default="\n")
    s.add_argument("--temperature", type=float, default=0.8)
    s.add_argument("--top-k", type=int, default=0)
    s.add_argument("--top-p", type=float, default=1.0)
    s.add_argument("--argmax", action="store_true")
    s.add_argument("--length", type=int, default=500)
    s.add_argument("--rng-seed", type=int)
    s.add_argument("--html", metavar="FILE", help="also write the text, coloured, as HTML")
    s.add_argument("--svg", metavar="FILE", help="also write the text, coloured, as SVG")
    s.add_argument("--neuron", metavar="KIND:LAYER:UNIT",
                   help="colour by one unit's activation (e.g. cell:1:27) instead of by "
                        "the model's confidence in each character")

    e = sub.add_parser("eval", help="cross-entropy of a text under a model (JSON)")
    e.add_argument("model")
    e.add_argument("textfile")
    e.add_argument("--encoding")

    m = sub.add_parser("models", help="list and manage saved models")
    msub = m.add_subparsers(dest="action")
    msub.add_parser("list", help="table of saved models (the default)")
    msub.add_parser("show", help="everything a model file records").add_argument("name")
    msub.add_parser("rm", help="delete a saved model").add_argument("name")
    r = msub.add_parser("rename", help="rename a saved model")
    r.add_argument("old")
    r.add_argument("new")
    x = msub.add_parser("export", help="copy a model file out of the store")
    x.add_argument("name")
    x.add_argument("path")
    x.add_argument("--force", action="store_true")
    x.add_argument("--weights-only", action="store_true",
                   help="leave out the optimizer state (smaller; resuming restarts it)")
    i = msub.add_parser("import", help="validate a model file and add it to the store")
    i.add_argument("path")
    i.add_argument("--name")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        from charrnn_tui.app import run_app

        run_app(args.home)
        return 0
    from charrnn_tui import headless

    handler = {"train": headless.train, "sample": headless.sample, "eval": headless.evaluate,
               "models": headless.models}[args.command]
    try:
        return handler(args)
    except CharRNNError as e:  # a refusal written for the user; anything else is a bug
        print(f"charrnn-tui: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `charrnn-tui sample m | head`
        return 0
