"""How one optimizer step is taken, per model family, chosen once when training starts.

Models of a family with autograd (library and scratch) step with a torch optimizer,
global-norm clipping, autocast and optionally DDP. A self-stepping model (the numpy one:
`ModelFamily.autograd` False) computes its own gradients and owns its Adagrad memory. The
trainer's loop is the same for both.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import torch
import torch.nn.functional as F

from charrnn_tui.engine.checkpoint import (
    adagrad_memory_state,
    load_adagrad_memory,
    load_torch_optimizer_state,
    torch_optimizer_state,
)
from charrnn_tui.engine.data.batching import Chunk, as_tensors
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import Model, SelfStepping, family_of, map_state
from charrnn_tui.engine.threads import keep_blas_threads
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.distributed import World, agree
from charrnn_tui.engine.training.events import Event, Notice
from charrnn_tui.engine.training.optim import make_optimizer
from charrnn_tui.engine.training.precision import autocast, resolve_device, resolve_precision
from charrnn_tui.engine.training.schedule_free import ScheduleFreeAdamW


class Backend(Protocol):
    device: torch.device
    precision: str

    def step(self, chunk: Chunk, hidden, lr: float) -> tuple[float, object, bool]:
        """One optimizer step: (loss, new hidden state, finite on every rank)."""

    def train_mode(self) -> None: ...

    def optimizer_state(self) -> tuple[dict[str, torch.Tensor], dict]: ...

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore `optimizer_state`'s output; a mismatch raises CharRNNError."""

    def reading_weights(self) -> AbstractContextManager:
        """The weights to evaluate, sample and save in place for the duration: a
        schedule-free optimizer's average, else the model's own."""

    def snapshot(self) -> object:
        """A copy of weights and optimizer state to roll back to."""

    def restore(self, snap: object) -> None: ...

    def move(self, target: torch.device, hidden, emit: Callable[[Event], None]):
        """Carry on on `target`; returns the hidden state moved there."""


def backend_for(model: Model, config: TrainConfig, optimizer: str, lr: float,
                world: World) -> Backend:
    """A model whose family has no autograd steps itself; the others take torch's step."""
    family = family_of(model.spec)
    if world.active and not family.distributed:
        raise ConfigError("distributed training needs the torch or scratch implementation")
    if not family.autograd:
        return SelfSteppingBackend(model)
    return TorchBackend(model, config, optimizer, lr, world)


class TorchBackend:
    def __init__(self, model: Model, config: TrainConfig, optimizer: str, lr: float,
                 world: World):
        self.model, self.config, self.world = model, config, world
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.optimizer_name = optimizer
        model.to(self.device)
        self.optimizer = make_optimizer(optimizer, model, lr, config.weight_decay)
        self.net = model  # what training calls: the model, or its DDP wrapper
        if world.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(model, device_ids=ids)

    def step(self, chunk: Chunk, hidden, lr: float) -> tuple[float, object, bool]:
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        x, y = as_tensors(chunk, self.device)
        with autocast(self.precision, self.device):
            logits, hidden = self.net(x, hidden)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP this also averages the gradients across ranks
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        loss_value = loss.item()
        finite = math.isfinite(loss_value) and bool(torch.isfinite(norm))
        (bad,) = agree(self.world, [not finite], self.device)
        if not bad:
            self.optimizer.step()
        hidden = map_state(hidden, lambda s: s.detach().float())
        return loss_value, hidden, not bad

    def train_mode(self) -> None:
        self.model.train()

    @contextmanager
    def reading_weights(self) -> Iterator[None]:
        if not isinstance(self.optimizer, ScheduleFreeAdamW):
            yield
            return
        self.optimizer.to_x()
        try:
            yield
        finally:
            self.optimizer.to_y()

    def optimizer_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        return torch_optimizer_state(self.optimizer, self.optimizer_name)

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        load_torch_optimizer_state(self.optimizer, self.optimizer_name,
                                   self.model.parameters(), tensors, meta)
        if isinstance(self.optimizer, ScheduleFreeAdamW):
            self.optimizer.to_y()  # a model file holds the average x

    def snapshot(self) -> object:
        return (copy.deepcopy(self.model.state_dict()),
                copy.deepcopy(self.optimizer.state_dict()))

    def restore(self, snap: object) -> None:
        weights, optimizer = snap
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(copy.deepcopy(optimizer))

    def move(self, target: torch.device, hidden, emit: Callable[[Event], None]):
        if target == self.device:
            return hidden
        sd = self.optimizer.state_dict()
        self.model.to(target)
        self.optimizer.load_state_dict(sd)  # casts the state to each parameter's device
        self.device = target
        self.precision = resolve_precision(self.config.precision, target)
        emit(Notice(f"training moved to {target.type} ({self.precision})"))
        return map_state(hidden, lambda s: s.to(target))


class SelfSteppingBackend:
    """A model with its own BPTT and Adagrad (min-char-rnn's), on the CPU, in float64."""

    device = torch.device("cpu")
    precision = "fp32"

    def __init__(self, model: SelfStepping):
        self.model = model

    def step(self, chunk: Chunk, hidden, lr: float) -> tuple[float, object, bool]:
        # numpy's BLAS count is the process's: a generation thread may have set it to one
        # since the last step. This thread's torch count is what the thread policy chose.
        keep_blas_threads(torch.get_num_threads())
        return self.model.train_step(chunk.x, chunk.y, hidden, lr)

    def train_mode(self) -> None:
        """A self-stepping model has no dropout, so no mode to set."""

    def reading_weights(self) -> AbstractContextManager:
        return contextlib.nullcontext()

    def optimizer_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        return adagrad_memory_state(self.model.memory)

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.model.memory.update(load_adagrad_memory(self.model.params, tensors, meta))

    def snapshot(self) -> object:
        return ({k: v.copy() for k, v in self.model.params.items()},
                {k: v.copy() for k, v in self.model.memory.items()})

    def restore(self, snap: object) -> None:
        params, memory = snap
        self.model.params = {k: v.copy() for k, v in params.items()}
        self.model.memory = {k: v.copy() for k, v in memory.items()}

    def move(self, target: torch.device, hidden, emit: Callable[[Event], None]):
        if target.type != "cpu":
            emit(Notice(f"the {self.model.spec.impl} implementation runs on the CPU only",
                        "warning"))
        return hidden
