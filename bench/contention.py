"""Speed beside busy programs: the engine's thread policy against torch's default, in one run.

    python bench/contention.py [--steps 80] [--chars 3000] [--busy 0,1,2]

For 0, 1 and 2 competing busy processes (`while True: pass`, started here and always
stopped), trains the quick preset for a fixed number of steps and generates a fixed number
of characters with the shipped model, each in a fresh process, under the engine's policy
(engine/threads.py) and under torch's default (every core, spinning waits). Then two
trainings started at once, and how long Ctrl-C takes to return with one busy competitor.
Every slow run is capped at --cap seconds; the rate covers the steps it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHAKESPEARE, add_save_flag, busy, emit

ROOT = Path(__file__).resolve().parents[1]

POLICIES = ("engine", "torch-default")


def worker(job: str, policy: str, amount: int, cap: float) -> dict:
    """Runs in the child process: one measured job, as JSON."""
    import torch

    from charrnn_tui.engine.generation.sampler import Sampler
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.engine.threads import training_tuner, use_threads
    from charrnn_tui.resources import open_store, shipped_models

    if job == "generate":
        if policy == "engine":
            use_threads("generate")
        with tempfile.TemporaryDirectory() as home:
            ckpt = open_store(home).load(str(shipped_models()[0]))
        sampler = Sampler(restore_model(ckpt), ckpt.spec.vocab, rng_seed=0)
        sampler.prime("ROMEO:\n")
        t, n = time.perf_counter(), 0
        while n < amount and time.perf_counter() - t < cap:
            sampler.next_char()
            n += 1
        return {"chars_per_s": n / (time.perf_counter() - t), "threads": torch.get_num_threads()}

    from charrnn_tui.engine.data.sources import load_corpus
    from charrnn_tui.engine.models import ModelSpec, build_model
    from charrnn_tui.engine.training.presets import PRESETS
    from charrnn_tui.engine.training.trainer import TrainConfig, Trainer

    corpus = load_corpus(SHAKESPEARE)
    preset = PRESETS["quick"]
    train = {k: v for k, v in preset.train.items() if k not in ("time_budget", "eval_every")}
    config = TrainConfig(**train, max_steps=amount, time_budget=cap, eval_every=1e9,
                         train_fraction=0.995)  # a short closing evaluation: rates matter here
    trainer = Trainer(build_model(ModelSpec(**preset.model, vocab=corpus.chars)), corpus.data,
                      config)
    tuner = training_tuner() if policy == "engine" else None
    notices: list[str] = []
    done = trainer.run(lambda e: notices.append(e.message) if hasattr(e, "message") else None,
                       threads=tuner)
    return {"chars_per_s": done.chars_per_s, "steps": done.step, "reason": done.reason,
            "threads": torch.get_num_threads(), "precision": trainer.precision,
            "notices": notices}


def spawn(job: str, policy: str, amount: int, cap: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--worker", job, "--policy", policy,
                             "--amount", str(amount), "--cap", str(cap)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"worker failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def ctrl_c(home: str, policy: str, warmup: float) -> dict:
    """Seconds from SIGINT to exit for a headless quick-preset training, and what it saved."""
    cmd = [sys.executable, "-m", "charrnn_tui", "--home", home, "train", str(SHAKESPEARE),
           "--preset", "quick", "--time-budget", "600", "--json", "--name", f"c-{policy}",
           "--force"]
    if policy == "torch-default":
        cmd += ["--threads", str(os.cpu_count() or 1)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    folder = Path(home) / "models" / f"c-{policy}"
    deadline = time.monotonic() + 300
    while not folder.is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the model's folder appears just before training starts
    time.sleep(warmup)
    t = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"seconds": None, "exit": None, "saved": False}
    seconds = time.perf_counter() - t
    saved = (folder / "last.safetensors").is_file()
    steps = json.loads(out.strip().splitlines()[-1])["steps"] if out.strip() else None
    return {"seconds": round(seconds, 2), "exit": proc.returncode, "saved": saved,
            "steps": steps}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=80, help="training steps per run (quick preset)")
    p.add_argument("--chars", type=int, default=3000, help="characters per generation run")
    p.add_argument("--cap", type=float, default=20.0, help="seconds at most per run")
    p.add_argument("--busy", default="0,1,2", help="numbers of busy competitors to try")
    p.add_argument("--no-ctrl-c", action="store_true", help="skip the Ctrl-C latency runs")
    p.add_argument("--worker", choices=("train", "generate"), help=argparse.SUPPRESS)
    p.add_argument("--policy", choices=POLICIES, help=argparse.SUPPRESS)
    p.add_argument("--amount", type=int, help=argparse.SUPPRESS)
    add_save_flag(p)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.policy, args.amount, args.cap)))
        return

    runs: dict = {}
    for n in (int(b) for b in args.busy.split(",")):
        with busy(n):
            for job, amount in (("train", args.steps), ("generate", args.chars)):
                for policy in POLICIES:
                    runs[f"{job} busy={n} {policy}"] = result(spawn(job, policy, amount,
                                                                    args.cap))
    rate = {k: v["chars_per_s"] for k, v in runs.items()}
    ratios = {}
    for key in rate:
        job, n, policy = key.split(" ")
        quiet = rate.get(f"{job} busy=0 {policy}")
        if quiet and n != "busy=0":
            ratios[f"{key} vs quiet"] = round(rate[key] / quiet, 3)
        if policy == "engine" and rate.get(f"{job} {n} torch-default"):
            ratios[f"{job} {n} engine vs torch-default"] = round(
                rate[key] / rate[f"{job} {n} torch-default"], 2)

    together = {}
    for policy in POLICIES:
        alone = result(spawn("train", policy, args.steps, args.cap))["chars_per_s"]
        pair = [spawn("train", policy, args.steps, args.cap) for _ in range(2)]
        each = [result(proc)["chars_per_s"] for proc in pair]
        together[policy] = {"alone": round(alone), "each": [round(r) for r in each],
                            "ratio_each_vs_alone": round(min(each) / alone, 3)}

    interrupt = {}
    if not args.no_ctrl_c:
        with tempfile.TemporaryDirectory() as home, busy(1):
            for policy in POLICIES:
                interrupt[policy] = ctrl_c(home, policy, warmup=5.0)

    emit({"bench": "contention", "runs": {k: {**v, "chars_per_s": round(v["chars_per_s"])}
                                          for k, v in runs.items()},
          "ratios": ratios, "two_trainings_at_once": together,
          "ctrl_c_with_1_busy": interrupt}, args)


if __name__ == "__main__":
    main()
