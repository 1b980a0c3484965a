"""Command line: no subcommand opens the app; train, sample, eval and models run headless."""

from __future__ import annotations

import argparse
import math
import re
import sys

from charrnn_tui.engine.data.builtin import BUILTINS
from charrnn_tui.engine.data.sources import builtin_source
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import CELLS, IMPLEMENTATIONS
from charrnn_tui.engine.threads import ENV_THREADS
from charrnn_tui.engine.training.evaluate import PROTOCOLS, WINDOW
from charrnn_tui.engine.training.optim import OPTIMIZERS
from charrnn_tui.engine.training.presets import PRESETS
from charrnn_tui.engine.training.vocab import POLICIES


def _whole(lo: int):
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


_positive_int = _whole(1)


def _finite(lo: float = 0.0, hi: float = math.inf, *, above: bool = True,
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


def _device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,2})?", text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use cpu, cuda, cuda:N, "
                                         "mps or auto")
    return text


def _escaped(text: str) -> str:
    r"""Text with \n, \t and \\ written as escapes, as a shell passes them."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace(
        "\0", "\\")


def _bias(text: str) -> tuple[str, float]:
    char, sep, value = text.rpartition("=")
    char = _escaped(char)
    try:
        number = float(value)
    except ValueError:
        number = None
    if not sep or len(char) != 1 or number is None:
        raise argparse.ArgumentTypeError(f"expected CHAR=NUMBER, e.g. e=-2, not {text!r}")
    return char, number


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="charrnn-tui",
        description="Train a character-level RNN and play with it. "
                    "With no command, opens the terminal app.")
    p.add_argument("--home", help="data folder for models and downloads "
                                  "(default: $CHARRNN_TUI_HOME or the user data dir)")
    p.add_argument("--fresh", action="store_true",
                   help="open the app as new, not where the last session left off")
    sub = p.add_subparsers(dest="command")
    threads = argparse.ArgumentParser(add_help=False)
    threads.add_argument("--threads", type=_positive_int, metavar="N",
                         help=f"torch intra-op threads (default: ${ENV_THREADS} or "
                              "$OMP_NUM_THREADS, else chosen by timing the steps for training, "
                              "1 for sampling, the idle cores for eval)")

    t = sub.add_parser("train", help="train a model headless", parents=[threads],
                       description="Train on a text file, a folder of text files, or "
                                   + " | ".join(builtin_source(b.name) for b in BUILTINS) + ".")
    t.add_argument("corpus", nargs="?", help="file, folder or builtin:NAME "
                                             "(with --resume: defaults to the model's corpus)")
    t.add_argument("--preset", choices=sorted(PRESETS), help="start from a named setup")
    t.add_argument("--impl", choices=IMPLEMENTATIONS)
    t.add_argument("--cell", choices=CELLS)
    t.add_argument("--layers", type=_positive_int)
    t.add_argument("--hidden", type=_positive_int)
    t.add_argument("--embed", type=_positive_int)
    t.add_argument("--dropout", type=_finite(0.0, 1.0, above=False, below=True))
    # regularisers and schedule options (issue 16); torch implementation only for the dropouts
    for flag, what in (("--embed-dropout", "whole characters dropped from the embedding"),
                       ("--locked-dropout", "one mask per sequence, between layers and "
                                            "before the output"),
                       ("--weight-dropout", "DropConnect on the recurrent weights")):
        t.add_argument(flag, type=_finite(0.0, 1.0, above=False, below=True), metavar="P",
                       help=what)
    t.add_argument("--ema", type=_finite(0.0, 1.0, above=False, below=True), metavar="DECAY",
                   help="evaluate, sample and save an averaged copy of the weights "
                        "(e.g. 0.999; 0: off)")
    t.add_argument("--warmup-steps", type=_whole(0), metavar="N",
                   help="ramp the learning rate up over the first N steps")
    t.add_argument("--batch", type=_positive_int)
    t.add_argument("--seq", type=_positive_int)
    t.add_argument("--lr", type=_finite(0.0, 10.0, below=True))
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=("constant", "cosine"))
    stop = t.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=_finite())
    stop.add_argument("--time-budget", type=_finite(), metavar="SECONDS")
    stop.add_argument("--max-steps", type=_positive_int)
    t.add_argument("--device", default="auto", type=_device,
                   help="cpu, cuda, mps or auto (default)")
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"))
    t.add_argument("--seed", type=_whole(0))
    t.add_argument("--eval-every", type=_finite(), metavar="SECONDS")
    t.add_argument("--encoding", help="text encoding of the corpus (default: detect UTF-8/16)")
    t.add_argument("--name", help="save under this model name (default: derived, unique)")
    t.add_argument("--force", action="store_true", help="replace an existing model of --name")
    t.add_argument("--resume", metavar="MODEL", help="continue training a saved model")
    t.add_argument("--new-chars", choices=POLICIES, default="refuse",
                   help="with --resume, characters the model never saw: refuse (default), "
                        "map to --replace-char, or extend the vocabulary")
    t.add_argument("--replace-char", help="replacement for --new-chars map (default: space)")
    t.add_argument("--json", action="store_true", help="print only a final JSON line")

    s = sub.add_parser("sample", help="stream generated text to stdout", parents=[threads])
    s.add_argument("model", help="saved model name (NAME or NAME:best) or a model file")
    s.add_argument("--seed-text", default="\n")
    s.add_argument("--temperature", type=_finite(), default=0.8)
    s.add_argument("--top-k", type=_whole(0), default=0)
    s.add_argument("--top-p", type=_finite(0.0, 1.0), default=1.0)
    s.add_argument("--argmax", action="store_true")
    s.add_argument("--length", type=_whole(0), default=500)
    s.add_argument("--rng-seed", type=int)
    s.add_argument("--seed-file", metavar="FILE", help="read the seed text from a file")
    s.add_argument("--stop", action="append", default=[], type=_escaped, metavar="TEXT",
                   help="end a sample once it ends with TEXT (repeatable; \\n is a line "
                        "break, e.g. --stop '\\n\\n')")
    s.add_argument("--ban", default="", type=_escaped, metavar="CHARS",
                   help="characters never to generate")
    s.add_argument("--bias", action="append", default=[], type=_bias, metavar="CHAR=VALUE",
                   help="add VALUE to one character's logit (repeatable; negative: rarer)")
    s.add_argument("--repetition-penalty", type=float, default=1.0, metavar="P",
                   help="a character seen in the last --repetition-window characters is P "
                        "times less likely (1 to 10; default 1: off)")
    s.add_argument("--repetition-window", type=_positive_int, default=64, metavar="N",
                   help="characters the repetition penalty looks back (default 64)")
    s.add_argument("--n", type=_positive_int, default=1, metavar="N",
                   help="write N independent samples at once, most probable first (default 1)")
    s.add_argument("--beam", type=_positive_int, metavar="K",
                   help="beam search of width K instead of sampling: the K most probable "
                        "continuations, best first")
    s.add_argument("--rank", choices=("total", "mean"), default="total",
                   help="order several samples by total or per-character log-probability")
    s.add_argument("--json", action="store_true",
                   help="print one JSON object: each sample's text, log-probability and "
                        "per-character surprise")
    s.add_argument("--html", metavar="FILE", help="also write the text, coloured, as HTML")
    s.add_argument("--svg", metavar="FILE", help="also write the text, coloured, as SVG")
    s.add_argument("--neuron", metavar="KIND:LAYER:UNIT",
                   help="colour by one unit's activation (e.g. cell:1:27) instead of by "
                        "the model's confidence in each character")

    e = sub.add_parser("eval", help="cross-entropy of a text under a model (JSON)",
                       parents=[threads])
    e.add_argument("model")
    e.add_argument("textfile")
    e.add_argument("--encoding")
    e.add_argument("--protocol", choices=PROTOCOLS, default="stream",
                   help="stream: the whole text read with carried state (default); window: "
                        "every --window-long window from a zero state, as nanoGPT scores")
    e.add_argument("--window", type=_positive_int, default=WINDOW, metavar="N",
                   help=f"window length for --protocol window (default {WINDOW})")

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

        run_app(args.home, fresh=args.fresh)
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
    except KeyboardInterrupt:  # Ctrl-C in sample, eval or models (train saves on its own)
        print("\ncharrnn-tui: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # an unusable home or output folder: one line, not a traceback
        where = f" ({e.filename})" if e.filename else ""
        print(f"charrnn-tui: {e.strerror or e}{where}", file=sys.stderr)
        return 1
