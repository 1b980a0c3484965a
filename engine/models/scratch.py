"""The scratch family: one layer with its own weights and a loop over time (scratch_rnn.py).

The input weight row for character i plays the role of one-hot(i) @ W_input; gate blocks
are stacked along the last axis of W_input / W_hidden / b_hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from charrnn_tui.engine.models.family import GATES, TorchFamily
from charrnn_tui.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    from charrnn_tui.engine.models.scratch_rnn import ScratchRNN


class ScratchFamily(TorchFamily):
    name = "scratch"
    vocab_axes = {"W_input": 0, "W_softmax": 1, "b_softmax": 0}

    def build(self, spec: ModelSpec, seed: int) -> ScratchRNN:
        import torch

        from charrnn_tui.engine.models.scratch_rnn import ScratchRNN

        torch.manual_seed(seed)
        return ScratchRNN(spec)

    def hidden_matrices(self, spec: ModelSpec) -> dict[str, tuple[int, int]]:
        # W_input is a lookup by character, as an embedding is: AdamW's, not Muon's
        return {"W_hidden": (GATES[spec.cell], 1)}  # x @ W: the gates are column blocks

    def shapes(self, spec: ModelSpec) -> dict[str, tuple[int, ...]]:
        v, h, g = spec.vocab_size, spec.hidden, GATES[spec.cell] * spec.hidden
        return {"W_input": (v, g), "W_hidden": (h, g), "b_hidden": (g,), "W_softmax": (h, v),
                "b_softmax": (v,)}

    def step_parts(self, w: dict, layers: int) -> tuple:
        return (w["W_input"] + w["b_hidden"], [(None, None, w["W_hidden"], None)],
                w["W_softmax"], w["b_softmax"])
