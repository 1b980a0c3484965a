"""Named starting points: an architecture and a training setup that suit a time budget,
or, for `auto`, the size of the text."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from charrnn_tui.engine.data.corpus import TRAIN_FRACTION
from charrnn_tui.engine.training.config import DEFAULT_PATIENCE


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: dict = field(default_factory=dict)  # ModelSpec fields
    train: dict = field(default_factory=dict)  # TrainConfig fields


AUTO = "auto"
DEFAULT_PRESET = AUTO  # what the app's form and a fresh `train` start from
# auto before it has seen a corpus: the choice for a text of a million characters or more
_AUTO_MODEL = {"impl": "torch", "cell": "lstm", "layers": 2, "hidden": 256, "embed": 64,
               "dropout": 0.0}
# open-ended: no budget for a cosine to decay over. The rate falls as 1/√(1 + step/2000),
# an average of the weights (its horizon the last tenth of the steps, up to 2,000) is what
# is evaluated, sampled and saved, and patience ends the run once it stops improving. At
# 1,000 and 4,000 steps this read 1.606 and 1.469 against a cosine given exactly that
# many, 1.619 and 1.473 (Tiny Shakespeare; docs/notes/tuning.md, "Open-ended runs")
_AUTO_TRAIN = {"batch": 16, "seq": 50, "lr": 5e-3, "schedule": "rsqrt", "rsqrt_steps": 2000,
               "ema": 0.9995, "eval_every": 15.0}
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset(AUTO, "sized to your text; trains until no better",
           _AUTO_MODEL, _AUTO_TRAIN),
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


# (fewest characters, hidden units, dropout): a text shorter than a tier's bound takes the
# next tier down. A 2×256 LSTM has about 0.8 M weights: on a text of a few hundred
# thousand characters it learns the text by heart within minutes unless it is smaller
# or drops out.
AUTO_ADAPTS = ("hidden", "dropout", "eval_every")  # what auto_preset fits to the text
_AUTO_TIERS = ((1_000_000, 256, 0.0), (400_000, 256, 0.2), (150_000, 256, 0.3),
               (50_000, 192, 0.3), (0, 128, 0.3))
# seconds between evaluations per validation character: Tiny Shakespeare's 111k are
# scored in about a second on a laptop CPU, every 14 s; always between 10 s and a minute
_EVAL_SECONDS_PER_CHAR = 1 / 8_000


def auto_preset(chars: int) -> tuple[Preset, str]:
    """The auto preset fitted to a text of `chars` characters, and why, in one line."""
    _, hidden, dropout = next(t for t in _AUTO_TIERS if chars >= t[0])
    val = chars * (1 - TRAIN_FRACTION)
    every = float(min(60, max(10, round(val * _EVAL_SECONDS_PER_CHAR))))
    model = _AUTO_MODEL | {"hidden": hidden, "dropout": dropout}
    train = _AUTO_TRAIN | {"eval_every": every}
    size = (f"{chars / 1e6:.1f}M" if chars >= 1_000_000 else f"{chars / 1e3:.0f}k"
            if chars >= 10_000 else f"{chars:,}")
    held = (f"with dropout {dropout:g} (a short text is soon learnt by heart)" if dropout
            else "without dropout (long enough not to be learnt by heart)")
    why = (f"auto for a {size}-character text: 2×{hidden} LSTM {held}, validation every "
           f"{every:g} s, stops after {DEFAULT_PATIENCE} without improvement")
    return replace(PRESETS[AUTO], model=model, train=train), why
