"""The Playground's typed settings: parse each box, say what is wrong in words, never guess.

Every box is read from its text on each change. A bad value is refused with a one-line
message shown next to it, and it blocks the actions it affects (`BLOCKS`) until fixed:
the last good value is never silently used in its place for a new stream.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.sampler import SamplingParams

MAX_LENGTH = 1_000_000
MAX_N = 16  # candidates shown side by side
MAX_BEAM = 16

# Field id → its name in messages.
NAMES = {"top_k": "top-k", "top_p": "top-p", "min_p": "min-p", "length": "length",
         "stop_at": "stop", "ban": "ban", "bias": "bias", "penalty": "repetition penalty",
         "window": "repetition window", "n": "N", "beam": "beam", "rng": "RNG seed"}
SAMPLING = ("top_k", "top_p", "min_p", "stop_at", "ban", "bias", "penalty", "window")
# Which fields each action needs; a bad one among them refuses the action.
BLOCKS = {"generate": (*SAMPLING, "length", "rng"),
          "compare": (*SAMPLING, "length", "n", "beam")}
MAX_RNG_SEED = 2**32 - 1


def unescape(text: str) -> str:
    r"""\n, \t, \s (space), \| and \\ as typed in a one-line box."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "t": "\t", "s": " "}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape(text: str, also: str = "") -> str:
    r"""The inverse of `unescape`: line breaks, tabs, backslashes and the characters in
    `also` (" " as \s, others after a backslash) as typed in a one-line box."""
    out = []
    for c in text:
        if c in "\\\n\t" or c in also:
            out.append({"\n": "\\n", "\t": "\\t", " ": "\\s"}.get(c, "\\" + c))
        else:
            out.append(c)
    return "".join(out)


def _number(value: float) -> str:
    """Short where that is exact (0.9, not 0.9000000000000000222)."""
    return f"{value:g}" if float(f"{value:g}") == value else repr(float(value))


def texts_of(params: SamplingParams) -> dict[str, str]:
    """The sampling boxes' texts that parse back to `params` (a preset shown in the boxes)."""
    return {"top_k": str(params.top_k), "top_p": _number(params.top_p),
            "min_p": _number(params.min_p),
            "stop_at": "|".join(escape(s, "|") for s in params.stop),
            "ban": escape(params.ban, " "),
            "bias": " ".join(f"{escape(c, ' =')}={_number(v)}" for c, v in params.bias.items()),
            "penalty": _number(params.repetition_penalty),
            "window": str(params.repetition_window)}


def _int(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text.strip()!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:,} and {high:,}, not {value:,}")
    return value


def _float(text: str, name: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {text.strip()!r}")
    return value


def _checked(**field: object) -> SamplingParams:
    """SamplingParams' own refusal for one field (the others at their defaults)."""
    try:
        return replace(SamplingParams(), **field).validate()
    except ConfigError as e:
        raise ValueError(str(e)) from None


def _stops(text: str) -> tuple[str, ...]:
    parts = [unescape(p) for p in re.split(r"(?<!\\)\|", text) if p]
    _checked(stop=tuple(parts))
    return tuple(parts)


def _bias(text: str) -> dict[str, float]:
    out = {}
    for item in text.split():
        char, sep, value = item.rpartition("=")
        char = unescape(char)
        if not sep or len(char) != 1:
            raise ValueError(f"bias items are CHAR=NUMBER (\\s for a space), not {item!r}")
        out[char] = _float(value, f"the bias of {char!r}")
    _checked(bias=out)
    return out


def parse(field: str, text: str) -> object:
    """The value of box `field`; ValueError with the message to show."""
    name = NAMES[field]
    if field == "top_k":
        return _checked(top_k=_int(text, name, -(10**9), 10**9)).top_k
    if field == "top_p":
        return _checked(top_p=_float(text, name)).top_p
    if field == "min_p":
        return _checked(min_p=_float(text, name)).min_p
    if field == "length":
        return _int(text, name, 1, MAX_LENGTH)
    if field == "stop_at":
        return _stops(text)
    if field == "ban":
        return unescape(text.replace(" ", ""))
    if field == "bias":
        return _bias(text)
    if field == "penalty":
        return _checked(repetition_penalty=_float(text, name)).repetition_penalty
    if field == "window":
        return _int(text, name, 1, 100_000)
    if field == "n":
        return _int(text, name, 1, MAX_N)
    if field == "rng":  # empty: fresh randomness on every Generate
        return _int(text, name, 0, MAX_RNG_SEED) if text.strip() else None
    if field == "beam":
        return _int(text, "beam width (0: sample instead)", 0, MAX_BEAM)
    raise KeyError(field)


# Field id → the SamplingParams attribute it sets (the others only steer actions).
PARAM_OF = {"top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "stop_at": "stop", "ban": "ban",
            "bias": "bias", "penalty": "repetition_penalty", "window": "repetition_window"}
