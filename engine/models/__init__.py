"""Three implementations behind one small set of functions, selected by `ModelSpec.impl`.

torch is imported only by what needs it: the numpy model, the shapes of every model and
the array model that samples on a CPU (models/arrays.py) work without it, so listing and
sampling start without paying for the import. `LibraryRNN`, `ScratchRNN` and `Model` are
loaded on first access (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from charrnn_tui.engine.models.numpy_rnn import NumpyRNN
from charrnn_tui.engine.models.spec import CELLS, IMPLEMENTATIONS, ModelSpec

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models.library import LibraryRNN
    from charrnn_tui.engine.models.scratch import ScratchRNN

    Model = LibraryRNN | ScratchRNN | NumpyRNN

__all__ = [
    "CELLS", "IMPLEMENTATIONS", "LibraryRNN", "Model", "ModelSpec", "NumpyRNN", "ScratchRNN",
    "Weights", "build_model", "count_parameters", "expected_shapes", "load_tensors",
    "map_state", "restore_model", "step_logits", "tensors_of",
]

_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def __getattr__(name: str):
    if name == "LibraryRNN":
        from charrnn_tui.engine.models.library import LibraryRNN
        return LibraryRNN
    if name == "ScratchRNN":
        from charrnn_tui.engine.models.scratch import ScratchRNN
        return ScratchRNN
    if name == "Model":
        from charrnn_tui.engine.models.library import LibraryRNN
        from charrnn_tui.engine.models.scratch import ScratchRNN
        return LibraryRNN | ScratchRNN | NumpyRNN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Weights(Protocol):
    """What a model can be rebuilt from; a checkpoint is one."""

    spec: ModelSpec
    tensors: dict[str, torch.Tensor]


def build_model(spec: ModelSpec, seed: int = 0) -> Model:
    spec.validate()
    if spec.impl == "numpy":
        return NumpyRNN(spec, seed=seed)
    import torch

    from charrnn_tui.engine.models.library import LibraryRNN
    from charrnn_tui.engine.models.scratch import ScratchRNN

    torch.manual_seed(seed)
    return LibraryRNN(spec) if spec.impl == "torch" else ScratchRNN(spec)


def tensors_of(model: Model) -> dict[str, torch.Tensor]:
    """A copy of the weights as CPU float32 tensors, named as they are stored.

    A copy, so another thread may save or sample from it while training goes on.
    """
    import torch

    if isinstance(model, NumpyRNN):
        return {k: torch.from_numpy(v.astype(np.float32)) for k, v in model.params.items()}
    return {k: v.detach().to("cpu", torch.float32, copy=True).contiguous()
            for k, v in model.state_dict().items()}


def load_tensors(model: Model, tensors: dict[str, torch.Tensor | np.ndarray]) -> None:
    """Copy weights into `model`: torch tensors, or the arrays modelfile.load_arrays reads."""
    if isinstance(model, NumpyRNN):
        for k in model.params:
            t = tensors[k]
            model.params[k] = np.array(t if isinstance(t, np.ndarray) else t.double().numpy(),
                                       dtype=np.float64)
        return
    import torch

    model.load_state_dict({k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                           for k, v in tensors.items()}, strict=True)


def restore_model(weights: Weights) -> Model:
    """Build the architecture `weights` declares and load its tensors."""
    model = build_model(weights.spec)
    load_tensors(model, weights.tensors)
    return model


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes the architecture declares, in state-dict order, worked out
    without torch (tests/test_models.py checks them against built models)."""
    spec.validate()
    v, h, e, g = spec.vocab_size, spec.hidden, spec.embed, _GATES[spec.cell] * spec.hidden
    if spec.impl == "numpy":
        return {"Wxh": (h, v), "Whh": (h, h), "Why": (v, h), "bh": (h,), "by": (v,)}
    if spec.impl == "scratch":
        return {"W_input": (v, g), "W_hidden": (h, g), "b_hidden": (g,), "W_softmax": (h, v),
                "b_softmax": (v,)}
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (v, e)}
    for k in range(spec.layers):
        shapes |= {f"rnn.weight_ih_l{k}": (g, e if k == 0 else h), f"rnn.weight_hh_l{k}": (g, h),
                   f"rnn.bias_ih_l{k}": (g,), f"rnn.bias_hh_l{k}": (g,)}
    return shapes | {"head.weight": (v, h), "head.bias": (v,)}


def count_parameters(spec: ModelSpec) -> int:
    return sum(int(np.prod(s)) for s in expected_shapes(spec).values())


def map_state(state, fn):
    """Apply `fn` to every tensor of a hidden state (a tensor, array or tuple of them)."""
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


def step_logits(model: Model, char_id: int, state) -> tuple[np.ndarray, object]:
    """Feed one character to a single-stream model: float64 logits for the next one."""
    if isinstance(model, NumpyRNN):
        logits, state = model.forward(np.array([[char_id]]), state)
        return logits[0, -1].astype(np.float64), state
    import torch

    device = next(model.parameters()).device
    x = torch.tensor([[char_id]], device=device)
    with torch.no_grad():
        logits, state = model(x, state)
    return logits[0, -1].double().cpu().numpy(), state
