"""The model file's metadata schema: each field's type and range, checked before any use.

A model file may come from anywhere, so its JSON is untrusted. Parsing is bounded (size and
nesting depth, checked before `json.loads` so a 100,000-deep nesting cannot exhaust the
stack); every known field must have its type and range; unknown keys are dropped, so a newer
file's additions are ignored rather than passed on. A failure names the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import numpy as np

from charrnn_tui.engine.checkpoint import OPTIMIZERS
from charrnn_tui.engine.models.spec import CELLS, IMPLEMENTATIONS

MAX_DEPTH = 8  # the deepest field (optimizer.param_groups[i].betas) needs 4
MAX_FIELD_CHARS = 8 << 20  # a 65,535-character vocabulary escaped is ~400 kB
MAX_VOCAB = 65_535
MAX_POINTS = 10_000  # loss history is thinned to ~4,000 points
MAX_TEXT = 4096  # corpus names and paths
MAX_INT = 2**53  # counters; JSON numbers beyond this lose precision anyway
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: 8× faster
_NOT_BRACKET = re.compile(r"[^\[\]{}]")


class SchemaError(ValueError):
    """Metadata that breaks the schema; the message names the field."""


def json_depth(text: str) -> int:
    """Deepest bracket nesting of `text`, ignoring brackets inside strings; no recursion."""
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def parse_json(text: str | bytes, what: str, *, max_depth: int = MAX_DEPTH,
               max_chars: int = MAX_FIELD_CHARS):
    """`json.loads` within size and depth limits; SchemaError names `what` otherwise."""
    if len(text) > max_chars:
        raise SchemaError(f"{what} is {len(text):,} characters, over the {max_chars:,} limit")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaError(f"{what} is not UTF-8") from None
    if json_depth(text) > max_depth:
        raise SchemaError(f"{what} is nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise SchemaError(f"{what} is not JSON") from None


# --- field rules: (check, description of what is expected) -------------------------------
Rule = tuple[Callable[[object], bool], str]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return _is_int(v) or (isinstance(v, float) and math.isfinite(v))


def integer(lo: int = 0, hi: int = MAX_INT, *, none: bool = False) -> Rule:
    return ((lambda v: (none and v is None) or (_is_int(v) and lo <= v <= hi)),
            f"a whole number in [{lo}, {hi}]" + (" or null" if none else ""))


def number(lo: float = 0.0, hi: float = math.inf, *, above: bool = False,
           below: bool = False, none: bool = False) -> Rule:
    def ok(v: object) -> bool:
        if none and v is None:
            return True
        return (_is_num(v) and (v > lo if above else v >= lo)
                and (v < hi if below else v <= hi))

    left, right = "(" if above else "[", ")" if below else "]"
    return ok, f"a finite number in {left}{lo}, {hi}{right}" + (" or null" if none else "")


def text(max_len: int = MAX_TEXT) -> Rule:
    return (lambda v: isinstance(v, str) and len(v) <= max_len,
            f"a string of at most {max_len} characters")


def one_of(*choices: object, none: bool = False) -> Rule:
    return ((lambda v: (none and v is None) or (isinstance(v, str) and v in choices)),
            "one of " + ", ".join(map(str, choices)) + (" or null" if none else ""))


def boolean(*, none: bool = False) -> Rule:
    return (lambda v: isinstance(v, bool) or (none and v is None),
            "true or false" + (" or null" if none else ""))


def points() -> Rule:
    return (lambda v: isinstance(v, list) and len(v) <= MAX_POINTS and all(
        isinstance(p, list) and len(p) == 2 and all(map(_is_num, p)) for p in v),
        f"a list of at most {MAX_POINTS} [step, loss] pairs")


SPEC: dict[str, Rule] = {
    "impl": one_of(*IMPLEMENTATIONS), "cell": one_of(*CELLS),
    "layers": integer(1, 8), "hidden": integer(1, 8192), "embed": integer(1, 8192),
    "dropout": number(0.0, 1.0, below=True),
    "embed_dropout": number(0.0, 1.0, below=True),
    "locked_dropout": number(0.0, 1.0, below=True),
    "weight_dropout": number(0.0, 1.0, below=True),
    "vocab": (lambda v: isinstance(v, list) and 2 <= len(v) <= MAX_VOCAB
              and all(isinstance(c, str) and len(c) == 1 for c in v),
              f"a list of 2 to {MAX_VOCAB} single characters"),
}
STATE: dict[str, Rule] = {
    "step": integer(), "epoch": integer(), "chunk": integer(), "chars_seen": integer(),
    "seconds": number(), "best_val": number(none=True), "last_val": number(none=True),
    "lr_scale": number(0.0, 1.0, above=True), "history": points(), "val_history": points(),
}
CONFIG: dict[str, Rule] = {
    "batch": integer(1, 65536), "seq": integer(1, 65536),
    "lr": number(0.0, 10.0, above=True, below=True, none=True),
    "optimizer": one_of(*OPTIMIZERS, none=True), "weight_decay": number(0.0, 10.0),
    "grad_clip": number(0.0, above=True), "schedule": one_of("constant", "cosine", "rsqrt"),
    "min_lr_ratio": number(0.0, 1.0), "epochs": number(0.0, above=True, none=True),
    "time_budget": number(0.0, above=True, none=True), "max_steps": integer(1, none=True),
    "device": text(64), "precision": one_of("auto", "bf16", "fp32"),
    "seed": integer(0, 2**63 - 1), "eval_every": number(0.0, above=True),
    "report_every": number(), "sample_every": number(), "sample_length": integer(0, 100_000),
    "gradflow_every": number(),
    "autosave_every": number(), "train_fraction": number(0.0, 1.0, above=True, below=True),
    "eval_batch": integer(1, 4096), "eval_seq": integer(1, 65536),
    # which torchrun run wrote the file, on how many ranks, and where that run began
    # (step, seconds, epoch position): an elastic restart continues its own run
    "run_id": text(256), "world_size": integer(1, 65536),
    "run_origin": (lambda v: isinstance(v, list) and len(v) == 3 and all(map(_is_num, v))
                   and all(x >= 0 for x in v), "three non-negative numbers"),
    "warmup_steps": integer(), "ema": number(0.0, 1.0, below=True),
    "patience": integer(none=True), "rsqrt_steps": integer(1),
}
CORPUS: dict[str, Rule] = {
    "name": text(), "source": text(), "sha256": text(64), "chars": integer(),
    "encoding": text(64),
}
OPTIMIZER: dict[str, Rule] = {
    "name": one_of(*OPTIMIZERS),
    "param_groups": (lambda v: isinstance(v, list) and len(v) <= 64
                     and all(isinstance(g, dict) for g in v), "a list of objects"),
    "scalars": (lambda v: isinstance(v, dict) and len(v) <= 1_000_000 and all(
        re.fullmatch(r"\d{1,6}\.[A-Za-z_]{1,32}", k) and _is_num(x) for k, x in v.items()),
        "a map of 'N.key' to finite numbers"),
}
PARAM_GROUP: dict[str, Rule] = {
    "params": (lambda v: isinstance(v, list) and len(v) <= 10_000
               and all(_is_int(i) and 0 <= i < 10_000 for i in v),
               "a list of parameter indices"),
    "lr": number(0.0, 10.0), "eps": number(0.0, 1.0), "weight_decay": number(0.0, 10.0),
    "momentum": number(0.0, 1.0), "dampening": number(0.0, 1.0), "alpha": number(0.0, 1.0),
    "lr_decay": number(0.0, 1.0), "initial_accumulator_value": number(0.0, 1e6),
    "betas": (lambda v: isinstance(v, list) and len(v) == 2
              and all(_is_num(b) and 0.0 <= b < 1.0 for b in v),
              "two numbers in [0, 1)"),
    "amsgrad": boolean(), "maximize": boolean(), "nesterov": boolean(), "centered": boolean(),
    "capturable": boolean(), "differentiable": boolean(), "foreach": boolean(none=True),
    "fused": boolean(none=True), "decoupled_weight_decay": boolean(),
}


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def check_object(value: object, rules: dict[str, Rule], where: str) -> dict:
    """The known keys of `value`, each checked against its rule; unknown keys dropped."""
    if not isinstance(value, dict):
        raise SchemaError(f"{where} must be a JSON object, not {_show(value)}")
    out = {}
    for key, (ok, expected) in rules.items():
        if key in value:
            if not ok(value[key]):
                raise SchemaError(f"{where}.{key} must be {expected}, not {_show(value[key])}")
            out[key] = value[key]
    return out


def check_optimizer(value: object) -> dict:
    out = check_object(value, OPTIMIZER, "optimizer")
    if "param_groups" in out:
        out["param_groups"] = [check_object(g, PARAM_GROUP, f"optimizer.param_groups[{i}]")
                               for i, g in enumerate(out["param_groups"])]
    return out
