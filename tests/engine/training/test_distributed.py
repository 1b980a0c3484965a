"""Data-parallel training over gloo on 127.0.0.1: ranks agree and match one process, and
leave nothing of the process group running behind them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.multiprocessing as mp
from helpers.ports import rendezvous_port
from helpers.torchrun import torchrun_report

from charrnn_tui.engine.models import ModelSpec, build_model, tensors_of
from charrnn_tui.engine.storage.modelfile import load
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.distributed import init_from_env, shutdown
from charrnn_tui.engine.training.trainer import Trainer

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
VOCAB = sorted(set(TEXT))
SPEC = {"impl": "torch", "cell": "lstm", "layers": 1, "hidden": 16, "embed": 8}
CONFIG = {"batch": 4, "seq": 8, "max_steps": 6, "precision": "fp32", "eval_every": 1000.0}


def _train(out: Path, name: str) -> None:
    data = np.array([VOCAB.index(c) for c in TEXT], dtype=np.uint8)
    model = build_model(ModelSpec(**SPEC, vocab=VOCAB), seed=0)
    Trainer(model, data, TrainConfig(**CONFIG)).run()
    safetensors.torch.save_file(tensors_of(model), str(out / f"{name}.safetensors"))


def _threads() -> list[str]:
    tasks = Path("/proc/self/task")
    return sorted((t / "comm").read_text().strip() for t in tasks.iterdir())


def _rank_main(rank: int, port: int, out: str) -> None:
    """One rank, joined and left the way `charrnn-tui train` does under torchrun."""
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                   "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"}
    init_from_env("cpu")
    torch.set_num_threads(1)
    try:
        _train(Path(out), f"rank{rank}")
    except BaseException:
        shutdown(together=False)
        raise
    shutdown(together=True)
    # gloo's threads end with the process group: any left would run on into interpreter
    # exit, where they once aborted a rank that had finished its work (SIGABRT)
    left = [t for t in _threads() if "gloo" in t] if Path("/proc/self/task").is_dir() else []
    assert left == [], f"rank {rank}: process-group threads outlived it: {left}"


def test_two_ranks_hold_identical_weights_equal_to_one_process(tmp_path):
    mp.spawn(_rank_main, args=(rendezvous_port(), str(tmp_path)), nprocs=2, join=True)
    _train(tmp_path, "single")  # the same 4 streams, walked by one process
    r0, r1, single = (safetensors.torch.load_file(str(tmp_path / f"{n}.safetensors"))
                      for n in ("rank0", "rank1", "single"))
    fresh = tensors_of(build_model(ModelSpec(**SPEC, vocab=VOCAB), seed=0))
    assert any(not torch.equal(r0[k], fresh[k]) for k in r0)  # training moved the weights
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        torch.testing.assert_close(r0[k], single[k], atol=1e-5, rtol=0)


def test_torchrun_cli_writes_a_normal_model_file(tmp_path):
    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT)
    args = ["train", str(corpus), "--impl", "torch", "--cell", "lstm", "--layers", "1",
            "--hidden", "16", "--embed", "8", "--batch", "4", "--seq", "8", "--max-steps", "6",
            "--precision", "fp32", "--device", "cpu", "--json", "--name", "m"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    logs = tmp_path / "logs"
    ddp = subprocess.run(  # --standalone: the launcher's store takes a port the OS picks
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         f"--log-dir={logs}", "--tee=3", "-m", "charrnn_tui",
         "--home", str(tmp_path / "ddp"), *args],
        capture_output=True, text=True, timeout=180, env=env)
    if ddp.returncode != 0:
        pytest.fail(torchrun_report(ddp, logs))
    assert ddp.stdout.count('"model": "m"') == 1  # only rank 0 reports
    one = subprocess.run([sys.executable, "-m", "charrnn_tui", "--home", str(tmp_path / "one"),
                          *args], capture_output=True, text=True, timeout=120, env=env)
    assert one.returncode == 0, one.stderr
    a, _ = load(tmp_path / "ddp/models/m/last.safetensors")
    b, _ = load(tmp_path / "one/models/m/last.safetensors")
    assert a.state.step == b.state.step == 6
    for k in a.tensors:
        torch.testing.assert_close(a.tensors[k], b.tensors[k], atol=1e-5, rtol=0)
