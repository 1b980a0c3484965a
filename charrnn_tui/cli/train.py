"""`charrnn-tui train`: its parser; the run itself is in training.py (which imports torch)."""

from __future__ import annotations

import argparse

from charrnn_tui.cli.args import DEVICE_HELP, device, finite, positive_int, whole
from charrnn_tui.cli.common import UserError
from charrnn_tui.cli.launch import MAX_NPROC, Launch
from charrnn_tui.cli.launch import problem as launch_problem
from charrnn_tui.cli.launch import run as run_ranks
from charrnn_tui.engine.data.builtin import BUILTINS
from charrnn_tui.engine.data.sources import builtin_source
from charrnn_tui.engine.models import CELLS, IMPLEMENTATIONS, ModelSpec
from charrnn_tui.engine.training.config import DEFAULT_PATIENCE, SCHEDULES, TrainConfig
from charrnn_tui.engine.training.optim import OPTIMIZERS
from charrnn_tui.engine.training.presets import AUTO, AUTO_ADAPTS, DEFAULT_PRESET, PRESETS
from charrnn_tui.engine.training.vocab import POLICIES


def _preset_default(key: str) -> str:
    """What a fresh `train` uses for `key` when neither it nor --preset is given."""
    if DEFAULT_PRESET == AUTO and key in AUTO_ADAPTS:
        return f"(default: the preset's; {AUTO}: chosen from the text's size)"
    preset = PRESETS[DEFAULT_PRESET]
    value = preset.model.get(key, preset.train.get(key))
    if value is None:
        value = getattr(ModelSpec(), key, None) if key in ModelSpec.__dataclass_fields__ \
            else getattr(TrainConfig(), key, None)
    none = "none" if key == "time_budget" else "the optimizer's own"
    shown = none if value is None else f"{value:g}" if isinstance(value, float) else value
    return f"(default: the preset's; {DEFAULT_PRESET}: {shown})"


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    t = sub.add_parser("train", help="train a model headless", parents=[threads],
                       description="Train on a text file, a folder of text files, or "
                                   + " | ".join(builtin_source(b.name) for b in BUILTINS) + ".")
    t.add_argument("corpus", nargs="?", help="file, folder or builtin:NAME "
                                             "(with --resume: defaults to the model's corpus)")
    t.add_argument("--preset", choices=sorted(PRESETS),
                   help=f"start from a named setup (default: {DEFAULT_PRESET}, which sizes the "
                        "model to the text, trains until it stops improving and says what it "
                        "chose); the flags below override its values")
    t.add_argument("--impl", choices=IMPLEMENTATIONS,
                   help="torch library cells, scratch (own weights) or numpy (hand-written "
                        f"BPTT) {_preset_default('impl')}")
    t.add_argument("--cell", choices=CELLS, help=f"recurrent cell {_preset_default('cell')}")
    t.add_argument("--layers", type=positive_int,
                   help=f"stacked recurrent layers {_preset_default('layers')}")
    t.add_argument("--hidden", type=positive_int,
                   help=f"units per layer {_preset_default('hidden')}")
    t.add_argument("--embed", type=positive_int,
                   help=f"character embedding size {_preset_default('embed')}")
    t.add_argument("--dropout", type=finite(0.0, 1.0, above=False, below=True),
                   help=f"dropout between layers, in [0, 1) {_preset_default('dropout')}")
    # regularisers and schedule options (issue 16); torch implementation only for the dropouts
    for flag, what in (("--embed-dropout", "whole characters dropped from the embedding"),
                       ("--locked-dropout", "one mask per sequence, between layers and "
                                            "before the output"),
                       ("--weight-dropout", "DropConnect on the recurrent weights")):
        t.add_argument(flag, type=finite(0.0, 1.0, above=False, below=True), metavar="P",
                       help=f"{what} (default: 0: off)")
    t.add_argument("--ema", type=finite(0.0, 1.0, above=False, below=True), metavar="DECAY",
                   help="evaluate, sample and save an averaged copy of the weights "
                        f"(e.g. 0.999; 0: off) {_preset_default('ema')}")
    t.add_argument("--warmup-steps", type=whole(0), metavar="N",
                   help="ramp the learning rate up over the first N steps (default: 0)")
    t.add_argument("--batch", type=positive_int,
                   help=f"streams trained side by side {_preset_default('batch')}")
    t.add_argument("--seq", type=positive_int,
                   help=f"characters per truncated-BPTT chunk {_preset_default('seq')}")
    t.add_argument("--lr", type=finite(0.0, 10.0, below=True),
                   help=f"peak learning rate {_preset_default('lr')}")
    t.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="update rule (default: adam for torch, adagrad for scratch and numpy; "
                        "sf-adamw: Schedule-Free AdamW, which needs no schedule; muon: "
                        "orthogonalised updates for the recurrent and input matrices, AdamW "
                        "for the rest)")
    t.add_argument("--schedule", choices=SCHEDULES,
                   help="learning-rate schedule: cosine decays over the budget, rsqrt falls "
                        "as 1/√(1 + step/2000) and needs none "
                        f"{_preset_default('schedule')}")
    stop = t.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=finite(), help="stop after this many passes")
    stop.add_argument("--time-budget", type=finite(), metavar="SECONDS",
                      help="stop after this much training time "
                           f"{_preset_default('time_budget')}")
    stop.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    t.add_argument("--device", default="auto", type=device, help=DEVICE_HELP)
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"),
                   help="auto: bf16 where the device computes it natively, else fp32 "
                        "(default: auto)")
    t.add_argument("--seed", type=whole(0),
                   help=f"seed for the weights and the batches {_preset_default('seed')}")
    t.add_argument("--eval-every", type=finite(), metavar="SECONDS",
                   help=f"validation loss every SECONDS {_preset_default('eval_every')}")
    t.add_argument("--patience", type=whole(0), metavar="N",
                   help="stop after N evaluations in a row without a better validation loss "
                        "and keep the best weights (0: never; default: "
                        f"{DEFAULT_PATIENCE} for a run without --time-budget, --epochs or "
                        "--max-steps, else 0)")
    t.add_argument("--save-every", type=finite(), metavar="SECONDS",
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
    d = t.add_argument_group(
        "several processes", "train as N ranks started by torch's own launcher (torchrun), "
        "with nothing to set by hand; Ctrl-C stops every rank and saves once")
    d.add_argument("--nproc", type=whole(1), metavar="N",
                   help=f"ranks on this machine, 1 to {MAX_NPROC} (each a process)")
    d.add_argument("--max-restarts", type=whole(0), default=0, metavar="K",
                   help="restart every rank up to K times when one dies; the run continues "
                        "from its autosave (needs --name or --resume)")
    d.add_argument("--nnodes", default="1", metavar="N|MIN:MAX",
                   help="machines taking part (default 1); MIN:MAX lets them come and go")
    d.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                   help="where the machines meet (the same on each; needed with --nnodes > 1)")
    d.add_argument("--rdzv-id", metavar="ID", help="the run's name, the same on each machine")
    return t


def run(args: argparse.Namespace) -> int:
    from charrnn_tui.engine.training.distributed import launched_by_torchrun

    if args.nproc and not launched_by_torchrun():  # a rank runs this same command line
        return _launch(args)
    from charrnn_tui.cli.training import train

    return train(args)


def _launch(args: argparse.Namespace) -> int:
    launch = Launch(args.nproc, args.max_restarts, args.nnodes, args.rdzv_endpoint,
                    args.rdzv_id)
    if problem := launch_problem(launch, impl=args.impl, name=args.name, resume=args.resume):
        raise UserError(problem)
    return run_ranks(launch, args.argv_)
