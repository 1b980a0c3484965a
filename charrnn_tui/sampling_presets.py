"""Named sampling settings, kept in data_home/sampling-presets.json for the Playground and
`sample --preset NAME`.

The file is treated as untrusted on the way back: size-limited, and each entry must make
valid SamplingParams; a bad entry is left out and named, a bad file refused in one line.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, fields
from pathlib import Path

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.sampler import SamplingParams
from charrnn_tui.engine.paths import data_home
from charrnn_tui.engine.storage.atomic import write_atomic

MAX_BYTES = 256 * 1024
MAX_PRESETS = 100
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}")
NAME_RULE = "1–32 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit"
_FIELDS = {f.name for f in fields(SamplingParams)}


class PresetError(ValueError):
    """The presets file or a preset cannot be used; the message says why in one line."""


def presets_path(home: str | None) -> Path:
    return data_home(home) / "sampling-presets.json"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise PresetError(f"bad preset name {name!r}: use {NAME_RULE}")
    return name


def _params(raw: object) -> SamplingParams:
    if not isinstance(raw, dict) or not set(raw) <= _FIELDS:
        raise ValueError("not a table of sampling settings")
    values = dict(raw)
    if "stop" in values:
        if not isinstance(values["stop"], list):
            raise ValueError("'stop' is not a list")
        values["stop"] = tuple(values["stop"])
    params = SamplingParams(**values)
    kinds = {f.name: type(getattr(SamplingParams(), f.name)) for f in fields(SamplingParams)}
    for name, kind in kinds.items():
        value = getattr(params, name)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(params, name, float(value))
        elif not isinstance(getattr(params, name), kind):
            raise ValueError(f"{name!r} is not a {kind.__name__}")
    if not all(isinstance(s, str) for s in params.stop) or not all(
            isinstance(k, str) and len(k) == 1 and isinstance(v, int | float)
            for k, v in params.bias.items()):
        raise ValueError("a stop string or a bias is malformed")
    try:
        return params.validate()
    except ConfigError as e:
        raise ValueError(str(e)) from None


def load_presets(home: str | None) -> tuple[dict[str, SamplingParams], list[str]]:
    """The saved presets by name, and one line for each entry that was left out.

    A missing file means none; an unreadable or malformed one raises PresetError.
    """
    path = presets_path(home)
    try:
        if not path.exists():
            return {}, []
        if not path.is_file():
            raise PresetError(f"{path} is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise PresetError(f"{path} is larger than {MAX_BYTES // 1024} KB")
        raw = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        if isinstance(e, PresetError):
            raise
        raise PresetError(f"cannot read the sampling presets {path}: {e}") from None
    if not isinstance(raw, dict):
        raise PresetError(f"{path} is not a table of presets")
    presets, skipped = {}, []
    for name, entry in list(raw.items())[:MAX_PRESETS]:
        try:
            presets[check_name(name)] = _params(entry)
        except (ValueError, TypeError) as e:
            skipped.append(f"preset {name!r} left out: {e}")
    return presets, skipped


def save_preset(home: str | None, name: str, params: SamplingParams) -> None:
    """Add or replace `name`, atomically; PresetError if the file cannot be used."""
    presets, _ = load_presets(home)
    presets[check_name(name)] = params
    if len(presets) > MAX_PRESETS:
        raise PresetError(f"at most {MAX_PRESETS} presets; delete some from "
                          f"{presets_path(home)} first")
    payload = {n: asdict(p) for n, p in sorted(presets.items())}
    try:
        write_atomic(presets_path(home), json.dumps(payload, ensure_ascii=False,
                                                    indent=1).encode("utf-8"))
    except OSError as e:
        raise PresetError(f"cannot save the preset: {e.strerror or e}") from None
