"""Payloads that would create a marker file if anything ever unpickled them."""

from __future__ import annotations

import pickle
from pathlib import Path


class Bomb:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def raw_pickle(marker: Path) -> bytes:
    return pickle.dumps({"model": Bomb(marker)}, protocol=4)


def torch_zip(marker: Path, path: Path) -> None:
    import torch

    torch.save({"model": Bomb(marker)}, path)
