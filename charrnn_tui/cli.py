"""Command line: no subcommand opens the app; train, sample, eval and models run headless."""

from __future__ import annotations

import argparse
import math
import re
import sys

from charrnn_tui.engine.data.builtin import BUILTINS
from charrnn_tui.engine.data.sources import builtin_source
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import CELLS, IMPLEMENTATIONS, ModelSpec
from charrnn_tui.engine.threads import ENV_THREADS
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.evaluate import PROTOCOLS, WINDOW
from charrnn_tui.engine.training.optim import OPTIMIZERS
from charrnn_tui.engine.training.presets import DEFAULT_PRESET, PRESETS
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


class _Help(argparse.HelpFormatter):
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


def _preset_default(key: str) -> str:
    """What a fresh `train` uses for `key` when neither it nor --preset is given."""
    preset = PRESETS[DEFAULT_PRESET]
    value = preset.model.get(key, preset.train.get(key))
    if value is None:
        value = getattr(ModelSpec(), key, None) if key in ModelSpec.__dataclass_fields__ \
            else getattr(TrainConfig(), key, None)
    shown = "the optimizer's own" if value is None else f"{value:g}" \
        if isinstance(value, float) else value
    return f"(default: the preset's; {DEFAULT_PRESET}: {shown})"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="charrnn-tui", formatter_class=_Help,
        description="Train a character-level RNN and play with it. "
                    "With no command, opens the terminal app.")
    p.add_argument("--home", help="data folder for models and downloads "
                                  "(default: $CHARRNN_TUI_HOME or the user data dir)")
    p.add_argument("--fresh", action="store_true",
                   help="open the app as new, not where the last session left off")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
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
    t.add_argument("--preset", choices=sorted(PRESETS),
                   help=f"start from a named setup (default: {DEFAULT_PRESET}); the flags "
                        "below override its values")
    t.add_argument("--impl", choices=IMPLEMENTATIONS,
                   help="torch library cells, scratch (own weights) or numpy (hand-written "
                        f"BPTT) {_preset_default('impl')}")
    t.add_argument("--cell", choices=CELLS, help=f"recurrent cell {_preset_default('cell')}")
    t.add_argument("--layers", type=_positive_int,
                   help=f"stacked recurrent layers {_preset_default('layers')}")
    t.add_argument("--hidden", type=_positive_int,
                   help=f"units per layer {_preset_default('hidden')}")
    t.add_argument("--embed", type=_positive_int,
                   help=f"character embedding size {_preset_default('embed')}")
    t.add_argument("--dropout", type=_finite(0.0, 1.0, above=False, below=True),
                   help=f"dropout between layers, in [0, 1) {_preset_default('dropout')}")
    # regularisers and schedule options (issue 16); torch implementation only for the dropouts
    for flag, what in (("--embed-dropout", "whole characters dropped from the embedding"),
                       ("--locked-dropout", "one mask per sequence, between layers and "
                                            "before the output"),
                       ("--weight-dropout", "DropConnect on the recurrent weights")):
        t.add_argument(flag, type=_finite(0.0, 1.0, above=False, below=True), metavar="P",
                       help=f"{what} (default: 0: off)")
    t.add_argument("--ema", type=_finite(0.0, 1.0, above=False, below=True), metavar="DECAY",
                   help="evaluate, sample and save an averaged copy of the weights "
                        "(e.g. 0.999; default: 0: off)")
    t.add_argument("--warmup-steps", type=_whole(0), metavar="N",
                   help="ramp the learning rate up over the first N steps (default: 0)")
    t.add_argument("--batch", type=_positive_int,
                   help=f"streams trained side by side {_preset_default('batch')}")
    t.add_argument("--seq", type=_positive_int,
                   help=f"characters per truncated-BPTT chunk {_preset_default('seq')}")
    t.add_argument("--lr", type=_finite(0.0, 10.0, below=True),
                   help=f"peak learning rate {_preset_default('lr')}")
    t.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="update rule (default: adam for torch, adagrad for scratch and numpy)")
    t.add_argument("--schedule", choices=("constant", "cosine"),
                   help=f"learning-rate schedule {_preset_default('schedule')}")
    stop = t.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=_finite(), help="stop after this many passes")
    stop.add_argument("--time-budget", type=_finite(), metavar="SECONDS",
                      help="stop after this much training time "
                           f"{_preset_default('time_budget')}")
    stop.add_argument("--max-steps", type=_positive_int, help="stop after this many steps")
    t.add_argument("--device", default="auto", type=_device,
                   help="cpu, cuda, cuda:N, mps or auto: a GPU if there is one")
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"),
                   help="auto: bf16 where the device computes it natively, else fp32 "
                        "(default: auto)")
    t.add_argument("--seed", type=_whole(0),
                   help=f"seed for the weights and the batches {_preset_default('seed')}")
    t.add_argument("--eval-every", type=_finite(), metavar="SECONDS",
                   help=f"validation loss every SECONDS {_preset_default('eval_every')}")
    t.add_argument("--save-every", type=_finite(), metavar="SECONDS",
                   help="seconds between autosaves of the model's last file (default: "
                        f"{TrainConfig.autosave_every:g}); "
                        "under torchrun a restarted run continues from the latest one")
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
    s.add_argument("--seed-text", default="\n", metavar="TEXT",
                   help="text the model reads before it writes")
    s.add_argument("--temperature", type=_finite(), default=0.8,
                   help="above 0: lower is safer, higher is wilder")
    s.add_argument("--top-k", type=_whole(0), default=0,
                   help="sample only among the K likeliest characters (0: all)")
    s.add_argument("--top-p", type=_finite(0.0, 1.0), default=1.0,
                   help="sample only among the likeliest characters whose probabilities add "
                        "up to P, in (0, 1]")
    s.add_argument("--preset", metavar="NAME",
                   help="start from the sampling settings saved under NAME in the app's "
                        "Playground; sampling flags given too (other than their defaults) "
                        "override them")
    s.add_argument("--min-p", type=_finite(0.0, 1.0, above=False), default=0.0,
                   help="drop characters less likely than P times the likeliest one, in "
                        "[0, 1] (0: off)")
    s.add_argument("--argmax", action="store_true",
                   help="always take the likeliest character (no randomness)")
    s.add_argument("--length", type=_whole(0), default=500, help="characters to generate")
    s.add_argument("--rng-seed", type=int,
                   help="seed for the sampling, for repeatable text (default: a fresh one)")
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
                        "continuations, best first (--stop, --ban, --bias and "
                        "--repetition-penalty shape the search; temperature, top-k and top-p "
                        "do not apply)")
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
    e.add_argument("model", help="saved model name (NAME or NAME:best) or a model file")
    e.add_argument("textfile", help="the text to score")
    e.add_argument("--encoding", help="text encoding of the file (default: detect UTF-8/16)")
    e.add_argument("--protocol", choices=PROTOCOLS, default="stream",
                   help="stream: the whole text read with carried state (default); window: "
                        "every --window-long window from a zero state, as nanoGPT scores")
    e.add_argument("--window", type=_positive_int, default=WINDOW, metavar="N",
                   help=f"window length for --protocol window (default {WINDOW})")

    _race_parser(sub, threads)

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
    x.add_argument("--force", action="store_true", help="replace an existing file at PATH")
    x.add_argument("--weights-only", action="store_true",
                   help="leave out the optimizer state (smaller; resuming restarts it)")
    i = msub.add_parser("import", help="validate a model file and add it to the store")
    i.add_argument("path")
    i.add_argument("--name", help="store it under this name (default: the file's stem)")
    c = msub.add_parser("compare", help="overlay saved runs' loss curves: a table, or --svg")
    c.add_argument("names", nargs="+", metavar="NAME")
    c.add_argument("--axis", choices=("step", "chars", "seconds"), default="step",
                   help="x axis: steps, characters seen, or seconds (default: step)")
    c.add_argument("--svg", metavar="FILE", help="write the overlaid curves as an SVG chart")
    return p


def _names(choices: tuple[str, ...]):
    """An argparse type: a comma-separated list of names from `choices`."""
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"use a comma-separated list of "
                                             f"{', '.join(choices)}, not {text!r}")
        return names
    return parse


def _race_parser(sub, threads: argparse.ArgumentParser) -> None:
    r = sub.add_parser("race", parents=[threads],
                       help="train 2 to 4 cells/implementations for the same time each",
                       description="Train every (implementation, cell) pair on CORPUS for "
                                   "--time-budget seconds each, one after another, save each "
                                   "as a model and print a table of the results.")
    r.add_argument("corpus", help="file, folder or builtin:NAME")
    r.add_argument("--cells", type=_names(CELLS), default=["rnn", "gru", "lstm"],
                   help="comma-separated cells (default: rnn,gru,lstm)")
    r.add_argument("--impls", type=_names(IMPLEMENTATIONS), default=["torch"],
                   help="comma-separated implementations (default: torch)")
    r.add_argument("--time-budget", type=_finite(), required=True, metavar="SECONDS",
                   help="wall-clock seconds each configuration trains")
    r.add_argument("--hidden", type=_positive_int, default=128, help="units per layer")
    r.add_argument("--layers", type=_positive_int, default=1,
                   help="layers of the torch models (scratch and numpy have 1)")
    r.add_argument("--embed", type=_positive_int, default=32,
                   help="character embedding size of the torch models")
    r.add_argument("--batch", type=_positive_int,
                   help="streams trained side by side (default: 32, less for a small corpus)")
    r.add_argument("--seq", type=_positive_int,
                   help="characters per truncated-BPTT chunk (default: 100, less for a small "
                        "corpus)")
    r.add_argument("--seed", type=_whole(0),
                   help="seed for every lap's weights and batches (default: 1337)")
    r.add_argument("--device", type=_device, help="cpu, cuda, cuda:N, mps or auto "
                                                  "(default: cpu)")
    r.add_argument("--encoding", help="text encoding of the corpus (default: detect UTF-8/16)")
    r.add_argument("--json", action="store_true", help="print the results as JSON")


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser: help shows defaults, and a parse records which parser it was,
    so an unknown flag is reported with that subcommand's usage, not the top level's."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)
        self.set_defaults(parser_=self)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # exits 2 with the usage of the (sub)command that was typed
        getattr(args, "parser_", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        from charrnn_tui.app import run_app

        run_app(args.home, fresh=args.fresh)
        return 0
    from charrnn_tui import headless
    from charrnn_tui.race import race

    handler = {"train": headless.train, "sample": headless.sample, "eval": headless.evaluate,
               "models": headless.models, "race": race}[args.command]
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
