"""`train --nproc N`: start N training ranks through torch's own launcher, set up as they need.

The ranks run this same command line; under the launcher they see torchrun's environment
and join the process group, so the launcher flags do nothing there. What a user would
otherwise have to know is set here: restarts need torchrun's own store opt-out
(engine/training/elastic.py says why), a single machine needs no rendezvous address (the
launcher's store listens on a port the OS picks, so nothing can take it in between), and
Ctrl-C reaches every rank as a stop-and-save.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass

from charrnn_tui.engine.models import family_of

ENV_NO_SHARED_STORE = "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"
MAX_NPROC = 64


@dataclass(frozen=True)
class Launch:
    nproc: int
    max_restarts: int = 0
    nnodes: str = "1"
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None


def node_range(text: str) -> tuple[int, int]:
    """'2' → (2, 2), '1:3' → (1, 3); ValueError with a reason otherwise."""
    lo, _, hi = text.partition(":")
    try:
        low, high = int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f"--nnodes takes N or MIN:MAX, not {text!r}") from None
    if not 1 <= low <= high <= MAX_NPROC:
        raise ValueError(f"--nnodes {text}: need 1 ≤ MIN ≤ MAX ≤ {MAX_NPROC}")
    return low, high


def problem(launch: Launch, *, impl: str | None, name: str | None,
            resume: str | None) -> str | None:
    """Why this launch cannot work, said before any process starts (None when it can)."""
    if not 1 <= launch.nproc <= MAX_NPROC:
        return f"--nproc must be between 1 and {MAX_NPROC}, not {launch.nproc}"
    if impl is not None and not family_of(impl).distributed:
        return "--nproc needs the torch or scratch implementation (numpy trains in one process)"
    try:
        low, high = node_range(launch.nnodes)
    except ValueError as e:
        return str(e)
    if high > 1 and not launch.rdzv_endpoint:
        return "training on several machines needs --rdzv-endpoint HOST:PORT (the same on each)"
    if launch.max_restarts and not (name or resume):
        return ("--max-restarts needs --name (or --resume): a restarted rank finds its run's "
                "autosave by the model's name")
    return None


def run(launch: Launch, argv: list[str]) -> int:
    """Run `charrnn-tui ARGV` as `launch.nproc` ranks; their exit code (130 after Ctrl-C).

    The ranks' own output (rank 0's progress, the saved model's line) passes through; a
    failure is summed up in one line after torch's report of which rank failed and how.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ[ENV_NO_SHARED_STORE] = "1"
    low, high = node_range(launch.nnodes)
    config = LaunchConfig(
        min_nodes=low, max_nodes=high, nproc_per_node=launch.nproc,
        run_id=launch.rdzv_id or str(uuid.uuid4()), rdzv_backend="c10d",
        rdzv_endpoint=launch.rdzv_endpoint or "localhost:0",
        max_restarts=launch.max_restarts, monitor_interval=0.5)
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "charrnn_tui", *argv)
    except SignalException as e:  # Ctrl-C or a kill: the ranks were asked to stop and save
        print(f"charrnn-tui: stopped by {e.sigval.name}; the ranks saved as they stopped",
              file=sys.stderr)
        return 130
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        print(f"charrnn-tui: rank {rank} failed (exit code {failure.exitcode}); its output "
              "is above", file=sys.stderr)
        return 1
    return 0
