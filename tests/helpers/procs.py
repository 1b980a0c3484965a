"""A launcher's processes through /proc, for tests that kill ranks: bench/procs.py, which the
DDP benchmark uses too."""

from __future__ import annotations

from helpers import bench_module

_procs = bench_module("procs")
children, rank_pid, kill_launch = _procs.children, _procs.rank_pid, _procs.kill_launch
