"""What the rest of the engine may know about one implementation: its `ModelFamily`.

Each implementation module (numpy_rnn.py, scratch.py, library.py) defines one family, and
registry.py's `family_of` picks it by `ModelSpec.impl`, the way toolong's `get_watcher()`
picks a `WatcherBase`. Code outside `engine/models/` asks the family instead of testing a
model's class or comparing implementation names (tests/engine/models/test_model_boundary.py
holds it to that). A family is stateless and imports nothing heavy: the torch families import torch
only in the methods that need a torch model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models import Model

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


class ArrayNet(ABC):
    """A model that runs in numpy (the numpy one, and a torch family's weights read by
    models/arrays.py): arrays in and out, on the CPU, with no train or eval mode."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Its weights by stored name, as held (not copies)."""


class SelfStepping(Protocol):
    """A model whose family has no autograd (`ModelFamily.autograd` False): it computes its
    own gradients and keeps its own Adagrad memory, both as float64 arrays by name."""

    spec: ModelSpec
    params: dict[str, np.ndarray]
    memory: dict[str, np.ndarray]

    def train_step(self, x: np.ndarray, y: np.ndarray, h: np.ndarray, lr: float
                   ) -> tuple[float, np.ndarray, bool]:
        """One update: (loss, last hidden state, whether it was finite and applied)."""


class ModelFamily(ABC):
    """One implementation: what it can build, how its weights are named and reached."""

    name: ClassVar[str]  # the `ModelSpec.impl` that selects it
    cells: ClassVar[tuple[str, ...]] = ("lstm", "gru", "rnn")
    max_layers: ClassVar[int] = 1
    regularisers: ClassVar[bool] = False  # the AWD-LSTM dropouts (models/library_rnn.py)
    default_optimizer: ClassVar[str] = "adagrad"
    optimizers: ClassVar[tuple[str, ...] | None] = None  # the only ones it takes; None: any
    autograd: ClassVar[bool] = True  # False: the model steps itself (`SelfStepping`)
    distributed: ClassVar[bool] = True  # can train across ranks (DDP)
    float64: ClassVar[bool] = False  # weights and fast step in float64
    stacked_state: ClassVar[bool] = False  # state is (layers, batch, hidden), not (batch, …)
    vocab_axes: ClassVar[dict[str, int]]  # tensor name → the axis the vocabulary indexes

    @abstractmethod
    def build(self, spec: ModelSpec, seed: int) -> Model:
        """A freshly initialised model, its initial weights drawn from `seed`."""

    @abstractmethod
    def shapes(self, spec: ModelSpec) -> dict[str, tuple[int, ...]]:
        """Tensor names and shapes, in state-dict order, worked out without torch."""

    @abstractmethod
    def step_parts(self, w: dict, layers: int) -> tuple:
        """The fast step's tables (models/stepper.py) from the weights as stored, arrays or
        tensors alike: (input table, per-layer `(wih_t, bih, whh_t, bhh)`, head weight
        transposed, head bias)."""

    @abstractmethod
    def weights(self, model: Model, *, copy: bool) -> dict:
        """The weights by stored name in the model's own type (arrays or tensors)."""

    @abstractmethod
    def load_weights(self, model: Model, weights: dict) -> None:
        """Put `weights` (as `weights` gives them) back into the model."""

    @abstractmethod
    def tensors(self, model: Model) -> dict[str, torch.Tensor]:
        """A copy of the weights as CPU float32 tensors, named as they are stored."""

    @abstractmethod
    def load_tensors(self, model: Model, tensors: dict) -> None:
        """Copy torch tensors, or the arrays modelfile.load_arrays reads, into the model."""

    @abstractmethod
    def gradient_flow(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """‖∂L_T/∂x_t‖ averaged over the rows of x, by distance back from T (see
        analysis/gradflow.py); the parameters' gradients are left alone."""

    @abstractmethod
    def array_model(self, spec: ModelSpec, weights: dict[str, np.ndarray]):
        """A model to sample from on a CPU, built from a file's arrays without torch."""

    def hidden_matrices(self, spec: ModelSpec) -> dict[str, tuple[int, int]]:
        """The recurrent and input-to-hidden matrices by stored name, each with its number
        of gate blocks and the axis they are stacked along: what Muon orthogonalises
        (training/muon.py). Not the embedding nor the output layer; none by default."""
        return {}

    def validate(self, spec: ModelSpec) -> None:
        """Raise ConfigError if this family has no such cell or number of layers."""
        if spec.cell not in self.cells:
            raise ConfigError(f"the {self.name} implementation has only the vanilla "
                              f"{'/'.join(repr(c) for c in self.cells)} cell")
        if self.max_layers == 1 and spec.layers != 1:
            raise ConfigError(f"the {self.name} implementation has exactly 1 layer")


class TorchFamily(ModelFamily):
    """A `torch.nn.Module`: weights are its state dict, gradient flow is autograd's.

    The module provides `flow_inputs(x)`, what its recurrent layer is fed (detached, to be
    differentiated), and `flow_logits(inputs)`, the logits at the last position from them.
    """

    def array_model(self, spec, weights):
        from charrnn_tui.engine.models.arrays import ArrayModel

        return ArrayModel(spec, {k: np.ascontiguousarray(v, dtype=np.float32)
                                 for k, v in weights.items()})

    def weights(self, model, *, copy):
        return {k: v.detach().clone() if copy else v.detach()
                for k, v in model.state_dict().items()}

    def load_weights(self, model, weights):
        model.load_state_dict(weights, strict=True)

    def tensors(self, model):
        import torch

        return {k: v.detach().to("cpu", torch.float32, copy=True).contiguous()
                for k, v in model.state_dict().items()}

    def load_tensors(self, model, tensors):
        import torch

        model.load_state_dict({k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                               for k, v in tensors.items()}, strict=True)

    def gradient_flow(self, model, x, y):
        import torch
        import torch.nn.functional as F

        was_training = model.training
        device = next(model.parameters()).device
        xt = torch.from_numpy(x).to(device)
        target = torch.from_numpy(y[:, -1]).to(device)
        model.eval()  # no dropout: the measure is of the weights, not of one dropout mask
        try:
            # cuDNN refuses an RNN backward in eval mode; the native kernels do not
            with torch.backends.cudnn.flags(enabled=False), torch.enable_grad():
                inputs = model.flow_inputs(xt).requires_grad_()
                loss = F.cross_entropy(model.flow_logits(inputs).float(), target,
                                       reduction="sum")
                (grad,) = torch.autograd.grad(loss, inputs)
        finally:
            model.train(was_training)
        norms = grad.norm(dim=-1).mean(dim=0)  # (seq,)
        return norms.flip(0).double().cpu().numpy()
