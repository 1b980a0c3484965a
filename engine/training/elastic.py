"""Elastic runs under torchrun: telling a restart from a new run, and re-dividing the batch.

torchrun stops and restarts every rank when one dies (`--max-restarts`) or when nodes leave
or join (`--nnodes=MIN:MAX`). Each new process starts from nothing, so a restart must find
its own run's autosave and continue it. The model file's config records which run wrote it
(`run_id`), how many ranks it had (`world_size`) and where the run began (`run_origin`:
step, seconds, epoch position), so budgets count the whole run, not each attempt.
"""

from __future__ import annotations

import os
import socket

import torch

from charrnn_tui.engine.storage.modelfile import ModelFileError, read_meta
from charrnn_tui.engine.storage.store import ModelStore, StoreError
from charrnn_tui.engine.training.distributed import World, agree

Origin = tuple[int, float, float]  # step, seconds, epoch + chunk / chunks at the run's start


def run_token() -> str | None:
    """This run's identity, the same for every attempt; None outside torchrun.

    `--rdzv-id` names a run across nodes. Without one torchrun says "none", and the agent
    (this process's parent, alive across restarts) identifies the run on its own host.
    """
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id is None:
        return None
    if run_id == "none":
        return f"none@{socket.gethostname()}:{os.getppid()}"
    return run_id


def max_restarts() -> int:
    try:
        return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0"))
    except ValueError:
        return 0


def shared_store_problem() -> str | None:
    """Why restarts would fail here, if they would.

    By default torchrun lends its workers the rendezvous store and keeps it across restarts;
    a restarted rank can then read the address its dead predecessor published and fail to
    connect (pytorch/pytorch#135712; seen here with gloo). Its own opt-out fixes that.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and max_restarts() > 0:
        return ("torchrun --max-restarts needs TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 in "
                "torchrun's environment: with the store it shares by default, a restarted "
                "rank can find its dead predecessor's address and fail to connect")
    return None


def saved_run(store: ModelStore, name: str) -> dict:
    """The run fields of `name`'s newest file ({} if none is readable here)."""
    try:
        return read_meta(store.resolve(name))["config"]
    except (StoreError, ModelFileError, OSError):  # no such model yet, or unreadable
        return {}


def is_restart(store: ModelStore, name: str, world: World, device: str) -> bool:
    """Whether `name` holds an autosave of this very run, as seen by any rank.

    Every rank reads the store (a shared --home) and they agree, so all resume or none.
    """
    token = run_token()
    mine = token is not None and saved_run(store, name).get("run_id") == token
    return agree(world, [mine], torch.device(device))[0]


def world_notice(saved_world: int | None, world: World, batch: int) -> str | None:
    """What to tell the user when a run continues on a different number of ranks."""
    if saved_world is None or saved_world == world.size:
        return None
    return (f"the run continues on {world.size} rank(s) instead of {saved_world}: --batch "
            f"{batch} stays global, re-divided as {batch // world.size} stream(s) per rank "
            f"(was {batch // saved_world})")
