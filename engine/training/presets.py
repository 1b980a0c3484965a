"""Named starting points: an architecture and a training setup that suit a time budget."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: dict = field(default_factory=dict)  # ModelSpec fields
    train: dict = field(default_factory=dict)  # TrainConfig fields


DEFAULT_PRESET = "quick"  # what the app's form and a fresh `train` start from
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("tiny", "a few seconds to see it learn; 1×128 LSTM",
           {"impl": "torch", "cell": "lstm", "layers": 1, "hidden": 128, "embed": 32},
           # 16 × 50 as for quick: 1.737 against 1.810 for 32 × 64 after 30 s (3 seeds)
           {"batch": 16, "seq": 50, "lr": 3e-3, "schedule": "cosine", "time_budget": 30,
            "eval_every": 10.0}),
    Preset("quick", "best text in about 2 minutes on a laptop CPU; 2×256 LSTM",
           {"impl": "torch", "cell": "lstm", "layers": 2, "hidden": 256, "embed": 64},
           # 16 × 50: four times the updates per character of 32 × 100 at about the same
           # chars/s on a CPU; 0.04 better after 120 s (README, "What was tried for issue 16")
           # validation every 15 s: a short run (20 s) shows one before it ends
           {"batch": 16, "seq": 50, "lr": 5e-3, "schedule": "cosine", "time_budget": 120,
            "eval_every": 15.0}),
    Preset("balanced", "about 10 minutes on a CPU; 2×512 LSTM with dropout",
           {"impl": "torch", "cell": "lstm", "layers": 2, "hidden": 512, "embed": 64,
            "dropout": 0.2},
           {"batch": 16, "seq": 50, "lr": 3e-3, "schedule": "cosine", "time_budget": 600,
            "eval_every": 120.0}),
    Preset("quality", "long runs or a GPU; 3×512 LSTM with dropout",
           {"impl": "torch", "cell": "lstm", "layers": 3, "hidden": 512, "embed": 128,
            "dropout": 0.2},
           {"batch": 128, "seq": 128, "lr": 2e-3, "schedule": "cosine", "epochs": 20}),
)}


# What a run starts from when it picks an implementation other than its preset's own.
# numpy: chosen side by side with the published min-char-rnn loop (bench/quality.py
# --preset numpy minchar; README, "What was tried for issue 16"). Its loss is a mean over
# the chunk, so Adagrad's 0.1 (min-char-rnn's, for a sum) left some seeds stuck at the
# unigram loss; 0.03 over 32 streams of 25 characters trained every seed tried.
IMPL_DEFAULTS: dict[str, Preset] = {p.name: p for p in (
    Preset("numpy", "vanilla RNN with hand-written BPTT and Adagrad",
           {"impl": "numpy", "cell": "rnn", "layers": 1, "hidden": 128},
           {"batch": 32, "seq": 25, "lr": 0.03, "schedule": "constant"}),
    Preset("scratch", "one hand-built layer, autograd for the gradients",
           {"impl": "scratch", "layers": 1, "hidden": 256}, {}),
)}
