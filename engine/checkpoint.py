"""What a model file holds, in memory: weights, optimizer state, counters, provenance.

Its own layer, below training and storage, so the file format and the store read and
write checkpoints without importing the training loop.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import ModelSpec

if TYPE_CHECKING:  # torch is imported by the functions that use it, not by reading a file
    import torch

# the names a model file may record (sf-adamw: engine/training/schedule_free.py; muon:
# engine/training/muon.py)
OPTIMIZERS = ("adam", "adamw", "rmsprop", "adagrad", "sf-adamw", "muon")


@dataclass
class TrainState:
    """Counters that survive a save and a resume."""

    step: int = 0
    epoch: int = 0
    chunk: int = 0  # next chunk of the current epoch
    chars_seen: int = 0
    seconds: float = 0.0
    best_val: float | None = None
    last_val: float | None = None
    lr_scale: float = 1.0  # halved by each non-finite rollback
    history: list[list[float]] = field(default_factory=list)  # [step, train loss]
    val_history: list[list[float]] = field(default_factory=list)  # [step, val loss]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainState:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Checkpoint:
    """Everything a model file holds, in memory (as numpy arrays instead of tensors when
    read by `modelfile.load_arrays`)."""

    spec: ModelSpec
    tensors: dict[str, torch.Tensor]
    optim_tensors: dict[str, torch.Tensor]
    optim_meta: dict
    state: TrainState
    config: dict
    corpus: dict

    def as_torch(self) -> Checkpoint:
        """This checkpoint with torch tensors where it holds numpy arrays (no copies)."""
        import torch

        def convert(d: dict) -> dict:
            return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                    for k, v in d.items()}

        return dataclasses.replace(self, tensors=convert(self.tensors),
                                   optim_tensors=convert(self.optim_tensors))


# --- optimizer state as flat tensors plus JSON metadata, for the model file -------------
def check_optimizer_name(meta: dict, name: str) -> None:
    if meta.get("name") != name:
        raise CharRNNError(f"saved optimizer is {meta.get('name')!r}, training uses {name!r}")


def torch_optimizer_state(optimizer: torch.optim.Optimizer,
                          name: str) -> tuple[dict[str, torch.Tensor], dict]:
    """A torch optimizer's state as `{"<param index>.<key>": tensor}` and metadata."""
    import torch

    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, float] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{pid}.{key}"] = float(value)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"name": name, "param_groups": groups, "scalars": scalars}


def load_torch_optimizer_state(optimizer: torch.optim.Optimizer, name: str,
                               params: Iterable[torch.nn.Parameter],
                               tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Restore what `torch_optimizer_state` saved; a mismatch raises CharRNNError."""
    check_optimizer_name(meta, name)
    params = list(params)
    state: dict[int, dict] = {}
    for key_name, t in tensors.items():
        pid, key = key_name.split(".", 1)
        i = int(pid)
        if not 0 <= i < len(params) or (t.dim() and t.shape != params[i].shape):
            raise CharRNNError(f"optimizer state {key_name} does not fit the model")
        state.setdefault(i, {})[key] = t
    for key_name, v in meta.get("scalars", {}).items():
        pid, key = key_name.split(".", 1)
        state.setdefault(int(pid), {})[key] = v
    current = optimizer.state_dict()["param_groups"]
    if len(meta.get("param_groups", [])) != len(current):
        raise CharRNNError("saved optimizer state does not fit the model")
    # a setting the file lacks keeps this optimizer's own value
    groups = [now | saved for now, saved
              in zip(current, copy.deepcopy(meta["param_groups"]), strict=True)]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def adagrad_memory_state(memory: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], dict]:
    """The numpy model's Adagrad memory as float32 tensors `memory.<param>`."""
    import torch

    tensors = {f"memory.{k}": torch.from_numpy(v.astype(np.float32)) for k, v in memory.items()}
    return tensors, {"name": "adagrad"}


def load_adagrad_memory(params: dict[str, np.ndarray], tensors: dict[str, torch.Tensor],
                        meta: dict) -> dict[str, np.ndarray]:
    """The Adagrad memory for `params` saved by `adagrad_memory_state`; CharRNNError if unfit."""
    check_optimizer_name(meta, "adagrad")
    memory = {}
    for k, p in params.items():
        t = tensors.get(f"memory.{k}")
        if t is None or tuple(t.shape) != p.shape:
            raise CharRNNError(f"optimizer state for {k} is missing or misshapen")
        memory[k] = t.double().numpy().copy()
    return memory
