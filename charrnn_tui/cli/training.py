"""`charrnn-tui train`'s run: set up a fresh or resumed trainer, report, save."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import fields

import torch

from charrnn_tui.cli.common import UserError, load_checked
from charrnn_tui.cli.progress import ProgressLine
from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.data.sources import canonical, load_corpus, source_of
from charrnn_tui.engine.models import ModelSpec, build_model, count_parameters
from charrnn_tui.engine.storage.store import ModelStore, check_name
from charrnn_tui.engine.threads import ThreadTuner, training_tuner
from charrnn_tui.engine.training import elastic
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.distributed import (
    World,
    init_from_env,
    launched_by_torchrun,
    shutdown,
)
from charrnn_tui.engine.training.events import (
    Evaluated,
    Event,
    Finished,
    Notice,
    why_stopped,
)
from charrnn_tui.engine.training.presets import (
    AUTO,
    DEFAULT_PRESET,
    IMPL_DEFAULTS,
    PRESETS,
    auto_preset,
)
from charrnn_tui.engine.training.resume import resume_trainer
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.names import claim_free_name, default_name, free_name
from charrnn_tui.resources import open_store

_SPEC_ARGS = ("impl", "cell", "layers", "hidden", "embed", "dropout",
              "embed_dropout", "locked_dropout", "weight_dropout")
_TRAIN_ARGS = ("batch", "seq", "lr", "optimizer", "schedule", "epochs", "time_budget",
               "max_steps", "precision", "seed", "eval_every", "ema", "warmup_steps",
               "patience")
_STOPS = ("epochs", "time_budget", "max_steps")


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def _train_overrides(args: argparse.Namespace) -> dict:
    over = _given(args, _TRAIN_ARGS)
    over["device"] = args.device
    if getattr(args, "save_every", None) is not None:
        over["autosave_every"] = args.save_every
    return over


def _fresh_setup(args: argparse.Namespace,
                 corpus: Corpus) -> tuple[ModelSpec, TrainConfig, str | None]:
    """The model and training setup, and what auto chose for this text (None: no auto)."""
    preset, why = PRESETS[args.preset or DEFAULT_PRESET], None
    if preset.name == AUTO:
        preset, why = auto_preset(len(corpus.data))
    model = dict(preset.model)
    train = dict(preset.train)
    impl = args.impl or model["impl"]
    if impl != model["impl"]:
        train.pop("lr", None)  # the preset's rate suits its own optimizer
        if impl in IMPL_DEFAULTS:
            model |= IMPL_DEFAULTS[impl].model
            train |= IMPL_DEFAULTS[impl].train
    spec = ModelSpec(**(model | _given(args, _SPEC_ARGS) | {"vocab": corpus.chars}))
    over = _train_overrides(args)
    if any(k in over for k in _STOPS):
        for k in _STOPS:
            train.pop(k, None)
    if "optimizer" in over:
        train.pop("lr", None)
    return spec.validate(), TrainConfig(**(train | over)), why


def _recorded_source(ckpt: Checkpoint) -> str:
    """The corpus a model records, used only if it is a built-in or a regular file: the file
    may come from anyone, and its path could name /dev/zero or a FIFO."""
    recorded = ckpt.corpus.get("source")
    if not recorded:
        raise UserError("this model does not record its corpus; give one")
    source = source_of(ckpt.corpus)
    if source is None:
        raise UserError(f"this model's recorded corpus {recorded!r} is not a regular file "
                        "here; give the corpus to train on")
    return source


def _elastic_restart(args, store: ModelStore, world: World) -> str | None:
    """The model this torchrun attempt continues when it restarts a run (else None)."""
    if elastic.run_token() is None:
        return None
    name = args.name or (args.resume or "").partition(":")[0] or None
    if name is None:
        if elastic.max_restarts() > 0:
            raise UserError("under torchrun --max-restarts, give --name: a restart "
                            "continues the model of that name")
        return None
    check_name(name)
    return name if elastic.is_restart(store, name, world, args.device) else None


def _resume_setup(args, store: ModelStore, world: World, restart: str | None = None):
    main = world.is_main
    if args.name is not None:
        check_name(args.name)
    ckpt = load_checked(store, restart or args.resume)
    source = args.corpus or _recorded_source(ckpt)
    corpus = load_corpus(source, encoding=args.encoding, home=args.home)
    known = {f.name for f in fields(TrainConfig)}
    saved = {k: v for k, v in ckpt.config.items() if k in known and k not in _STOPS}
    over = _train_overrides(args)
    if not any(k in over for k in _STOPS):
        over["epochs"] = ckpt.config.get("epochs")
        over["time_budget"] = ckpt.config.get("time_budget")
    config = TrainConfig(**(saved | over))
    resume_name = (restart or args.resume).partition(":")[0]
    name = args.name or resume_name
    if name in store.read_only:
        name = free_name(store, f"{resume_name}-own")
    trainer, notice = resume_trainer(ckpt, corpus, config, corpus_info=corpus.info(source),
                                     policy=args.new_chars, replacement=args.replace_char)
    if notice:
        print(f"charrnn-tui: {notice}", file=sys.stderr)
    news = [elastic.world_notice(ckpt.config.get("world_size"), world, config.batch)]
    if restart:
        origin = ckpt.config.get("run_origin")  # budgets count from the run's start
        trainer.origin = (int(origin[0]), origin[1], origin[2]) if origin else None
        news.insert(0, f"restarted: {name} continues from its autosave at step "
                       f"{ckpt.state.step}")
    for line in filter(None, news if main else []):
        print(f"charrnn-tui: {line}", file=sys.stderr, flush=True)
    if main and name != resume_name:
        store.create(name, force=args.force)
    elif main:  # a restart may start while the attempt it replaces is still exiting
        store.claim(name, wait=30.0 if restart else 0.0)
    trainer.state.best_val = store.best_val(name)  # the bar is the best file's own loss
    return trainer, name


def train(args: argparse.Namespace) -> int:
    store = open_store(args.home)
    world = World()
    if launched_by_torchrun():
        if problem := elastic.shared_store_problem():
            raise UserError(problem)
        world, args.device = init_from_env(args.device)
    tuner = training_tuner(args.threads, distributed=world.active)
    try:
        code = _train(args, store, world, tuner)
    except BaseException:
        shutdown(together=False)  # the other ranks may never get here: no barrier
        raise
    shutdown(together=True)
    return code


def _train(args: argparse.Namespace, store: ModelStore, world: World,
           tuner: ThreadTuner | None) -> int:
    restart = _elastic_restart(args, store, world)
    why = None  # what the auto preset chose for this text
    if args.resume or restart:
        trainer, name = _resume_setup(args, store, world, restart)
    else:
        if not args.corpus:
            raise UserError("give a corpus: a file, a folder, or builtin:NAME")
        if args.name is not None:  # before the corpus loads: a bad name fails at once
            check_name(args.name)
            if store.exists(args.name) and not args.force:
                store.create(args.name)  # raises: the name is taken
        corpus = load_corpus(args.corpus, encoding=args.encoding, home=args.home)
        for notice in corpus.notices:
            print(f"charrnn-tui: {notice}", file=sys.stderr)
        spec, config, why = _fresh_setup(args, corpus)
        base = args.name or check_name(default_name(corpus.name, spec.cell, spec.layers,
                                                    spec.hidden))
        source = canonical(args.corpus)
        trainer = Trainer(build_model(spec, config.seed), corpus.data, config,
                          corpus_info=corpus.info(source))
        name = base
        if world.is_main and args.name:  # only rank 0 writes; only once training can start
            store.create(name, force=args.force)
        elif world.is_main:  # a derived name: skip one another process is training now
            name, notice = claim_free_name(store, base)
            if notice:
                print(f"charrnn-tui: {notice}", file=sys.stderr)
    trainer.run_id = elastic.run_token()
    if why and world.is_main:  # once training starts: a refusal stays one line
        print(f"charrnn-tui: {why}", file=sys.stderr, flush=True)

    interrupted = False
    save_error: list[Exception] = []  # the last save of `last` failed, with this

    def on_sigint(signum, frame):
        nonlocal interrupted
        interrupted = True
        if world.is_main:
            print("charrnn-tui: stopping at the end of this step and saving…", file=sys.stderr,
                  flush=True)
        trainer.stop(final_eval=False)  # the user asked to stop now: save, don't evaluate
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C is final

    signal.signal(signal.SIGINT, on_sigint)  # Ctrl-C: stop at a chunk boundary, then save
    quiet = args.json or not sys.stdout.isatty()
    report = _PlainReporter() if quiet else ProgressLine(trainer.config)

    def saver(ckpt: Checkpoint, tag: str) -> None:
        try:
            store.save(ckpt, name, tag)
        except Exception as e:
            if tag == "last":
                save_error[:] = [e]
            raise
        if tag == "last":
            save_error.clear()

    try:
        with report:
            done = trainer.run(report, saver, tuner)
    except KeyboardInterrupt:  # a second Ctrl-C: skip what was running, but still save
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may interrupt this save
        interrupted = True
        done = _emergency_save(trainer, saver) if world.is_main else None
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        store.release(name)
    if not world.is_main:
        return 130 if interrupted else 0
    if save_error:  # never say "saved" when it was not
        print(f"charrnn-tui: training ran, but the model could not be saved: {save_error[0]}",
              file=sys.stderr)
        return 1
    path = store.file(name)
    reason = "interrupted" if interrupted else done.reason
    why = why_stopped(reason, trainer.config.patience_in_use)
    result = {"model": name, "path": str(path), "reason": reason, "why": why,
              "val_loss": done.val_loss, "val_bpc": done.val_bpc,
              "chars_per_s": round(done.chars_per_s, 1), "steps": done.step,
              "seconds": round(done.seconds, 2), "params": count_parameters(trainer.spec),
              "device": trainer.device.type, "precision": trainer.precision,
              "threads": torch.get_num_threads()}
    if quiet:
        print(json.dumps(result), flush=True)
    else:
        loss = ("no validation loss yet" if done.val_loss is None else
                f"validation loss {done.val_loss:.4f} nats/char ({done.val_bpc:.3f} bpc)")
        print(f"{why}; saved {name} ({path}); {loss} after {done.step} steps")
    if interrupted:
        print(f"charrnn-tui: interrupted; the model was saved to {path}", file=sys.stderr)
        return 130
    if done.reason == "diverged":
        print("charrnn-tui: training gave up: the loss stayed non-finite after repeated "
              f"rollbacks; the last good weights were saved to {path}", file=sys.stderr)
        return 1
    return 0


def _emergency_save(trainer: Trainer, saver) -> Finished:
    """Save `last` after a second Ctrl-C; a failure is recorded by `saver`."""
    print("charrnn-tui: stopping now and saving…", file=sys.stderr, flush=True)
    try:
        saver(trainer.checkpoint(), "last")
    except Exception:  # noqa: S110 - the caller reports the recorded failure
        pass
    st = trainer.state
    bpc = None if st.last_val is None else st.last_val / LN2
    return Finished("interrupted", st.step, st.last_val, bpc, 0.0, 0.0,
                    why_stopped("interrupted"))


class _PlainReporter:
    """Non-terminal output: evaluations and notices as lines on stderr."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Evaluated):
            print(f"step {event.step}: val {event.val_loss:.4f} nats/char", file=sys.stderr)
        elif isinstance(event, Notice):
            print(f"charrnn-tui: {event.message}", file=sys.stderr)
        elif isinstance(event, Finished) and event.why:
            print(f"charrnn-tui: {event.why}", file=sys.stderr)
