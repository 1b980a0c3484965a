"""The models: one family per implementation (family.py), chosen by `ModelSpec.impl`
through registry.py, and the few functions everything else calls.

torch is imported only by what needs it: the numpy model, the shapes of every model and
the array model that samples on a CPU (models/arrays.py) work without it, so listing and
sampling start without paying for the import. `LibraryRNN`, `ScratchRNN` and `Model` are
loaded on first access (PEP 562). The implementation modules are private to this package
(an import contract in pyproject.toml); outside it, ask `family_of(spec)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from charrnn_tui.engine.models.arrays import ArrayModel, restore_arrays
from charrnn_tui.engine.models.family import ArrayNet, ModelFamily, SelfStepping
from charrnn_tui.engine.models.numpy_rnn import NumpyRNN
from charrnn_tui.engine.models.registry import family_of
from charrnn_tui.engine.models.spec import CELLS, IMPLEMENTATIONS, ModelSpec

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models.library_rnn import LibraryRNN
    from charrnn_tui.engine.models.scratch_rnn import ScratchRNN

    Model = LibraryRNN | ScratchRNN | NumpyRNN

__all__ = [
    "CELLS", "IMPLEMENTATIONS", "ArrayModel", "LibraryRNN", "Model", "ModelFamily",
    "ModelSpec", "NumpyRNN", "ScratchRNN", "SelfStepping", "Weights", "build_model",
    "count_parameters", "expected_shapes", "family_of", "load_tensors", "map_state",
    "restore_arrays", "restore_model", "step_logits", "tensors_of",
]


def __getattr__(name: str):
    if name == "LibraryRNN":
        from charrnn_tui.engine.models.library_rnn import LibraryRNN
        return LibraryRNN
    if name == "ScratchRNN":
        from charrnn_tui.engine.models.scratch_rnn import ScratchRNN
        return ScratchRNN
    if name == "Model":
        from charrnn_tui.engine.models.library_rnn import LibraryRNN
        from charrnn_tui.engine.models.scratch_rnn import ScratchRNN
        return LibraryRNN | ScratchRNN | NumpyRNN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Weights(Protocol):
    """What a model can be rebuilt from; a checkpoint is one."""

    spec: ModelSpec
    tensors: dict[str, torch.Tensor]


def build_model(spec: ModelSpec, seed: int = 0) -> Model:
    return family_of(spec.validate()).build(spec, seed)


def tensors_of(model: Model) -> dict[str, torch.Tensor]:
    """A copy of the weights as CPU float32 tensors, named as they are stored.

    A copy, so another thread may save or sample from it while training goes on.
    """
    return family_of(model.spec).tensors(model)


def load_tensors(model: Model, tensors: dict[str, torch.Tensor | np.ndarray]) -> None:
    """Copy weights into `model`: torch tensors, or the arrays modelfile.load_arrays reads."""
    family_of(model.spec).load_tensors(model, tensors)


def restore_model(weights: Weights) -> Model:
    """Build the architecture `weights` declares and load its tensors."""
    model = build_model(weights.spec)
    load_tensors(model, weights.tensors)
    return model


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes the architecture declares, in state-dict order, worked out
    without torch (tests/engine/models/test_models.py checks them against built models)."""
    return family_of(spec.validate()).shapes(spec)


def count_parameters(spec: ModelSpec) -> int:
    return sum(int(np.prod(s)) for s in expected_shapes(spec).values())


def map_state(state, fn):
    """Apply `fn` to every tensor of a hidden state (a tensor, array or tuple of them)."""
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


def step_logits(model: Model, char_id: int, state) -> tuple[np.ndarray, object]:
    """Feed one character to a single-stream model: float64 logits for the next one."""
    if isinstance(model, ArrayNet):
        logits, state = model.forward(np.array([[char_id]]), state)
        return logits[0, -1].astype(np.float64), state
    import torch

    device = next(model.parameters()).device
    x = torch.tensor([[char_id]], device=device)
    with torch.no_grad():
        logits, state = model(x, state)
    return logits[0, -1].double().cpu().numpy(), state
