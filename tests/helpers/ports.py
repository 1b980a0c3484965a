"""Loopback ports for tests, without the race of "find a free port, release it, hope".

A port found with bind(0) and released is back in the kernel's ephemeral pool: any other
process's connect() or bind(0) may be handed it before the test uses it. These helpers
avoid that pool, or keep the port held.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral() -> range:
    try:
        low, high = map(int, _RANGE.read_text().split())
    except (OSError, ValueError):  # not Linux: the IANA range most systems use
        low, high = 49152, 65535
    return range(low, high + 1)


def rendezvous_port() -> int:
    """A free loopback port outside the ephemeral range, for a server that another process
    must be told about before it starts (torchrun's --rdzv-endpoint with two agents).
    The kernel never hands such a port out by itself, so only an explicit bind could take
    it between this call and its use."""
    ephemeral = _ephemeral()
    candidates = [p for p in range(20000, 32768) if p not in ephemeral]
    for port in random.sample(candidates, 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port held bound but never listening: every connection to it is refused,
    and nothing else can start listening on it while the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
