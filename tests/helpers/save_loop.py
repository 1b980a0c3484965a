"""Driven over stdin/stdout by tests/engine/storage/test_modelfile.py: forks savers for the
test to SIGKILL.

    python save_loop.py MODELS_ROOT

Saves model `m` once and prints `ready`. Then for each `go` line: forks a child that saves
`m` over and over (step = round * 100000 + k, and head.bias filled with the step so a
mixed file would show), prints `pid N`, reaps the child once the test has killed it and
prints `dead N`. `quit` ends it. One interpreter start serves every round.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

from charrnn_tui.engine.checkpoint import Checkpoint, TrainState  # noqa: E402
from charrnn_tui.engine.models import ModelSpec, build_model, tensors_of  # noqa: E402
from charrnn_tui.engine.storage.store import ModelStore  # noqa: E402


def main() -> None:
    root = Path(sys.argv[1])
    spec = ModelSpec(impl="torch", cell="lstm", layers=1, hidden=160, embed=32,
                     vocab=list("abcdefghij"))
    ckpt = Checkpoint(spec, tensors_of(build_model(spec)), {}, {}, TrainState(), {},
                      {"name": "loop"})
    store = ModelStore(root)

    def save(step: int) -> None:
        ckpt.state.step = step
        ckpt.tensors["head.bias"].fill_(float(step))
        store.save(ckpt, "m")

    save(0)
    print("ready", flush=True)
    rounds = 0
    for line in sys.stdin:
        if line.strip() != "go":
            break
        rounds += 1
        pid = os.fork()
        if pid == 0:
            try:
                k = 0
                while True:
                    k += 1
                    save(rounds * 100_000 + k)
            finally:
                os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"dead {pid} {status}", flush=True)


if __name__ == "__main__":
    main()
