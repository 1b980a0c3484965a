"""Training throughput: the engine's step against a plain PyTorch reference, side by side.

    python bench/throughput.py [--rounds 5] [--steps 10]

Rounds alternate engine (default precision), engine (fp32) and the reference, in a
rotating order, so drift in machine load and clock speed hits all three alike. Also
reports FLOPs per character and the achieved GFLOP/s against a square matmul measured
in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import add_save_flag, emit
from torch import nn

from charrnn_tui.engine.data.batching import StreamBatcher
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.precision import cpu_has_bf16
from charrnn_tui.engine.training.trainer import Trainer


class Reference(nn.Module):
    """The plain fp32 baseline: embedding, LSTM, linear head."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def lstm_flops_per_char(vocab: int, embed: int, hidden: int, layers: int) -> float:
    """Multiply-adds ×2 of the forward pass, ×3 for forward + backward."""
    fwd = 0
    for layer in range(layers):
        inp = embed if layer == 0 else hidden
        fwd += 2 * 4 * hidden * (inp + hidden)
    fwd += 2 * hidden * vocab
    return 3.0 * fwd


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq", type=int, default=100)
    add_save_flag(p)
    args = p.parse_args()
    vocab = [chr(32 + i) for i in range(65)]
    rng = np.random.default_rng(0)
    data = rng.integers(0, len(vocab), size=args.batch * args.seq * 60, dtype=np.uint8)
    chunk_chars = args.batch * args.seq

    trainers = {}
    for precision in ("auto", "fp32"):
        spec = ModelSpec(impl="torch", cell="lstm", layers=args.layers, hidden=args.hidden,
                         embed=args.embed, vocab=vocab)
        config = TrainConfig(batch=args.batch, seq=args.seq, precision=precision, device="cpu")
        trainers[precision] = Trainer(build_model(spec), data, config)
    ref = Reference(len(vocab), args.embed, args.hidden, args.layers)
    opt = torch.optim.Adam(ref.parameters(), lr=2e-3)
    batcher = StreamBatcher(data, args.batch, args.seq)

    def engine_steps(trainer: Trainer) -> float:
        hidden = trainer.model.init_state(args.batch)
        t = time.perf_counter()
        for i in range(args.steps):
            _, hidden, _ = trainer.backend.step(trainer.batcher.chunk(i), hidden, 2e-3)
        return time.perf_counter() - t

    def reference_steps() -> float:
        zeros = torch.zeros(args.layers, args.batch, args.hidden)
        state = (zeros, zeros.clone())
        t = time.perf_counter()
        for i in range(args.steps):
            c = batcher.chunk(i)
            x, y = torch.from_numpy(c.x), torch.from_numpy(c.y)
            logits, state = ref(x, state)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
            opt.step()
            state = tuple(s.detach() for s in state)
            loss.item()
        return time.perf_counter() - t

    runs = {"engine": trainers["auto"], "engine_fp32": trainers["fp32"]}
    times = {k: [] for k in (*runs, "reference")}
    for trainer in runs.values():  # warm-up
        engine_steps(trainer)
    reference_steps()
    order = [*runs, "reference"]
    for r in range(args.rounds):  # rotate the order so no variant always follows another
        for name in order[r % 3:] + order[:r % 3]:
            times[name].append(reference_steps() if name == "reference"
                               else engine_steps(runs[name]))
    rate = {k: args.steps * chunk_chars / float(np.median(v)) for k, v in times.items()}
    flops = lstm_flops_per_char(len(vocab), args.embed, args.hidden, args.layers)
    emit({
        "bench": "throughput",
        "sizes": vars(args),
        "engine_precision": trainers["auto"].precision,
        "chars_per_s": {k: round(v) for k, v in rate.items()},
        "ratio_engine_vs_reference": round(rate["engine"] / rate["reference"], 3),
        "ratio_engine_fp32_vs_reference": round(rate["engine_fp32"] / rate["reference"], 3),
        "flops_per_char": flops,
        "achieved_gflops": {k: round(v * flops / 1e9, 1) for k, v in rate.items()},
        "matmul_gflops": {"fp32": round(matmul_gflops(torch.float32), 1),
                          # without native bf16 an emulated 2048² bf16 matmul takes minutes
                          "bf16": round(matmul_gflops(torch.bfloat16), 1)
                          if cpu_has_bf16() else None},
    }, args)


if __name__ == "__main__":
    main()
