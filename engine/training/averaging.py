"""An exponential moving average of the weights, used for evaluation, sampling and saving.

Averaging the last stretch of SGD iterates (Polyak; AWD-LSTM's averaged SGD) lands nearer
the bottom of the valley than the last iterate does. The decay warms up as
min(decay, (1 + n) / (10 + n)) over the first n updates, so a short run is not dominated
by the initial weights.

Every step's weights are folded in. Folding in every k-th with the decay raised to the
k-th power would be cheaper still, but a different average (and warm-up) from the one the
presets were tuned with. Instead a torch model's update is one fused `_foreach_lerp_` over
(average, parameter) pairs looked up once, where it built a state dict and launched a lerp
per tensor each step: a quarter less time (2×256 LSTM, one thread, in one process), about
1 % of a step either way. The pairs hold the parameter objects themselves, which stay
valid when the model changes device; they are looked up again after `to` and `restore`,
which replace the averages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from charrnn_tui.engine.models import Model, family_of


class WeightAverage:
    def __init__(self, model: Model, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = family_of(model.spec).weights(model, copy=True)
        self._pairs: tuple[Model, list[torch.Tensor], list[torch.Tensor]] | None = None

    def update(self, model: Model) -> None:
        """Fold the model's current weights into the average."""
        self.updates += 1
        weight = 1.0 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        if isinstance(model, torch.nn.Module):
            averages, live = self._pairs_for(model)
            with torch.no_grad():
                torch._foreach_lerp_(averages, live, weight)
            return
        for k, v in family_of(model.spec).weights(model, copy=False).items():
            avg = self.shadow[k]  # numpy arrays, which the numpy model replaces on restore
            avg += weight * (v - avg)

    def _pairs_for(self, model: torch.nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if self._pairs is None or self._pairs[0] is not model:
            live = model.state_dict(keep_vars=True)  # the parameters, not detached copies
            self._pairs = (model, list(self.shadow.values()), [live[k] for k in self.shadow])
        return self._pairs[1], self._pairs[2]

    def snapshot(self) -> tuple[dict, int]:
        """A copy of the average to go back to (`restore`)."""
        return ({k: v.clone() if isinstance(v, torch.Tensor) else v.copy()
                 for k, v in self.shadow.items()}, self.updates)

    def restore(self, snap: tuple[dict, int]) -> None:
        shadow, self.updates = snap
        self.shadow = {k: v.clone() if isinstance(v, torch.Tensor) else v.copy()
                       for k, v in shadow.items()}
        self._pairs = None

    def to(self, device: torch.device) -> None:
        self.shadow = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                       for k, v in self.shadow.items()}
        self._pairs = None

    @contextmanager
    def swapped_in(self, model: Model) -> Iterator[None]:
        """The model holds the averaged weights for the duration, its own ones after."""
        family = family_of(model.spec)
        own = family.weights(model, copy=True)
        family.load_weights(model, self.shadow)
        try:
            yield
        finally:
            family.load_weights(model, own)

    def tensors(self) -> dict[str, torch.Tensor]:
        """A copy of the averaged weights as CPU float32 tensors named as stored, like
        `tensors_of` gives for a model; the model's own weights are not touched."""
        return {k: v.detach().to("cpu", torch.float32, copy=True).contiguous()
                if isinstance(v, torch.Tensor) else torch.from_numpy(v.astype(np.float32))
                for k, v in self.shadow.items()}
