"""The library family: PyTorch's own recurrent layers, any depth (library_rnn.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from charrnn_tui.engine.models.family import GATES, TorchFamily
from charrnn_tui.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    from charrnn_tui.engine.models.library_rnn import LibraryRNN


class LibraryFamily(TorchFamily):
    name = "torch"
    max_layers = 8
    regularisers = True
    default_optimizer = "adam"
    stacked_state = True
    vocab_axes = {"embed.weight": 0, "head.weight": 0, "head.bias": 0}

    def build(self, spec: ModelSpec, seed: int) -> LibraryRNN:
        import torch

        from charrnn_tui.engine.models.library_rnn import LibraryRNN

        torch.manual_seed(seed)
        return LibraryRNN(spec)

    def shapes(self, spec: ModelSpec) -> dict[str, tuple[int, ...]]:
        v, h, e, g = spec.vocab_size, spec.hidden, spec.embed, GATES[spec.cell] * spec.hidden
        shapes: dict[str, tuple[int, ...]] = {"embed.weight": (v, e)}
        for k in range(spec.layers):
            shapes |= {f"rnn.weight_ih_l{k}": (g, e if k == 0 else h),
                       f"rnn.weight_hh_l{k}": (g, h), f"rnn.bias_ih_l{k}": (g,),
                       f"rnn.bias_hh_l{k}": (g,)}
        return shapes | {"head.weight": (v, h), "head.bias": (v,)}

    def hidden_matrices(self, spec: ModelSpec) -> dict[str, tuple[int, int]]:
        gates = (GATES[spec.cell], 0)  # nn.LSTM's gates are stacked row blocks
        return {f"rnn.{kind}_l{k}": gates for k in range(spec.layers)
                for kind in ("weight_ih", "weight_hh")}

    def step_parts(self, w: dict, layers: int) -> tuple:
        table = w["embed.weight"] @ w["rnn.weight_ih_l0"].T + w["rnn.bias_ih_l0"]
        return table, [(None if k == 0 else w[f"rnn.weight_ih_l{k}"].T,
                        None if k == 0 else w[f"rnn.bias_ih_l{k}"],
                        w[f"rnn.weight_hh_l{k}"].T, w[f"rnn.bias_hh_l{k}"])
                       for k in range(layers)], w["head.weight"].T, w["head.bias"]
