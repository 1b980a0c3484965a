"""Data-parallel training over gloo on 127.0.0.1: ranks agree and match one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from charrnn_tui.engine.models import ModelSpec, build_model, tensors_of
from charrnn_tui.engine.storage.modelfile import load
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.trainer import Trainer

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
VOCAB = sorted(set(TEXT))
SPEC = {"impl": "torch", "cell": "lstm", "layers": 1, "hidden": 16, "embed": 8}
CONFIG = {"batch": 4, "seq": 8, "max_steps": 6, "precision": "fp32", "eval_every": 1000.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(out: Path, name: str) -> None:
    data = np.array([VOCAB.index(c) for c in TEXT], dtype=np.uint8)
    model = build_model(ModelSpec(**SPEC, vocab=VOCAB), seed=0)
    Trainer(model, data, TrainConfig(**CONFIG)).run()
    safetensors.torch.save_file(tensors_of(model), str(out / f"{name}.safetensors"))


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    try:
        _train(Path(out), f"rank{rank}")
    finally:
        dist.destroy_process_group()


def test_two_ranks_hold_identical_weights_equal_to_one_process(tmp_path):
    mp.spawn(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
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
    port = _free_port()
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
         "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", "-m", "charrnn_tui",
         "--home", str(tmp_path / "ddp"), *args],
        capture_output=True, text=True, timeout=180, env=env)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert ddp.stdout.count('"model": "m"') == 1  # only rank 0 reports
    one = subprocess.run([sys.executable, "-m", "charrnn_tui", "--home", str(tmp_path / "one"),
                          *args], capture_output=True, text=True, timeout=120, env=env)
    assert one.returncode == 0, one.stderr[-2000:]
    a, _ = load(tmp_path / "ddp/models/m/last.safetensors")
    b, _ = load(tmp_path / "one/models/m/last.safetensors")
    assert a.state.step == b.state.step == 6
    for k in a.tensors:
        torch.testing.assert_close(a.tensors[k], b.tensors[k], atol=1e-5, rtol=0)
