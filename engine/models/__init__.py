"""Three implementations behind one small set of functions, selected by `ModelSpec.impl`."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from charrnn_tui.engine.models.library import LibraryRNN
from charrnn_tui.engine.models.numpy_rnn import NumpyRNN
from charrnn_tui.engine.models.scratch import ScratchRNN
from charrnn_tui.engine.models.spec import CELLS, IMPLEMENTATIONS, ModelSpec

Model = LibraryRNN | ScratchRNN | NumpyRNN

__all__ = [
    "CELLS", "IMPLEMENTATIONS", "LibraryRNN", "Model", "ModelSpec", "NumpyRNN", "ScratchRNN",
    "Weights", "build_model", "count_parameters", "expected_shapes", "load_tensors",
    "map_state", "restore_model", "step_logits", "tensors_of",
]


class Weights(Protocol):
    """What a model can be rebuilt from; a checkpoint is one."""

    spec: ModelSpec
    tensors: dict[str, torch.Tensor]


def build_model(spec: ModelSpec, seed: int = 0) -> Model:
    spec.validate()
    if spec.impl == "numpy":
        return NumpyRNN(spec, seed=seed)
    torch.manual_seed(seed)
    return LibraryRNN(spec) if spec.impl == "torch" else ScratchRNN(spec)


def tensors_of(model: Model) -> dict[str, torch.Tensor]:
    """A copy of the weights as CPU float32 tensors, named as they are stored.

    A copy, so another thread may save or sample from it while training goes on.
    """
    if isinstance(model, NumpyRNN):
        return {k: torch.from_numpy(v.astype(np.float32)) for k, v in model.params.items()}
    return {k: v.detach().to("cpu", torch.float32, copy=True).contiguous()
            for k, v in model.state_dict().items()}


def load_tensors(model: Model, tensors: dict[str, torch.Tensor]) -> None:
    if isinstance(model, NumpyRNN):
        for k in model.params:
            model.params[k] = tensors[k].double().numpy().copy()
        return
    model.load_state_dict(tensors, strict=True)


def restore_model(weights: Weights) -> Model:
    """Build the architecture `weights` declares and load its tensors."""
    model = build_model(weights.spec)
    load_tensors(model, weights.tensors)
    return model


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes the architecture declares, without allocating weights."""
    spec.validate()
    if spec.impl == "numpy":
        v, h = spec.vocab_size, spec.hidden
        return {"Wxh": (h, v), "Whh": (h, h), "Why": (v, h), "bh": (h,), "by": (v,)}
    with torch.device("meta"):
        model = LibraryRNN(spec) if spec.impl == "torch" else ScratchRNN(spec)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def count_parameters(spec: ModelSpec) -> int:
    return sum(int(np.prod(s)) for s in expected_shapes(spec).values())


def map_state(state, fn):
    """Apply `fn` to every tensor of a hidden state (a tensor, array or tuple of them)."""
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


@torch.no_grad()
def step_logits(model: Model, char_id: int, state) -> tuple[np.ndarray, object]:
    """Feed one character to a single-stream model: float64 logits for the next one."""
    if isinstance(model, NumpyRNN):
        logits, state = model.forward(np.array([[char_id]]), state)
        return logits[0, -1].astype(np.float64), state
    device = next(model.parameters()).device
    x = torch.tensor([[char_id]], device=device)
    logits, state = model(x, state)
    return logits[0, -1].double().cpu().numpy(), state
