"""Data-parallel training under torchrun: process group set-up and step-wise agreement.

Every rank must take the same decisions at the same step (stop, evaluate, skip a bad
step), or the collective calls would hang. Rank 0's clock decides the timed ones; any rank
can ask to stop or report a non-finite step. One small all-reduce per step carries both.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def launched_by_torchrun() -> bool:
    """Started by torchrun, even as a world of one (what an elastic run may shrink to)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str) -> tuple[World, str]:
    """Join the process group torchrun describes; returns the world and this rank's device.

    NCCL on CUDA, Gloo on CPU. The thread count per rank is the thread policy's
    (engine/threads.py: one per CPU rank unless told otherwise).
    """
    use_cuda = device in ("cuda", "auto") and torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        # torch._dynamo (which the first optimizer and DDP import) takes references to the
        # default process group if it is imported after the group exists; the group then
        # outlives destroy_process_group, gloo's threads run on into interpreter exit, and
        # now and then the process aborts there ("terminate called without an active
        # exception", SIGABRT) after a run that succeeded. Imported first, it holds none.
        importlib.import_module("torch._dynamo")
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    else:
        device = "cpu"
    return current_world(), device


def current_world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def agree(world: World, flags: list[bool], device: torch.device) -> list[bool]:
    """Element-wise OR of `flags` across ranks (identity when training alone)."""
    if not world.active:
        return flags
    t = torch.tensor(flags, dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def share_from_main(world: World, value: float, device: torch.device) -> float:
    """Rank 0's `value` on every rank (e.g. the validation loss only rank 0 computes)."""
    if not world.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())


def shutdown(*, together: bool) -> None:
    """Leave the process group; `together` (every rank got here normally) waits for all.

    Without the barrier a rank that finished first (rank 0 still evaluating and saving)
    would tear down its connections while its peers still hold theirs open.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if together and dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()
