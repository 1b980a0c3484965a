"""Where the user left off: the last tab, model, corpus, settings and theme, kept between
runs.

The file lives in the user config dir ($CHARRNN_TUI_CONFIG overrides it, so tests never
touch the real one). It is written atomically and treated as untrusted on the way back:
a missing file means a fresh start; a corrupt, oversized, foreign or old one is ignored
with a one-line notice, never a crash.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs
from textual.widget import Widget
from textual.widgets import Input, Select, Switch
from textual.widgets.select import InvalidSelectValueError

from charrnn_tui.commands import TABS
from charrnn_tui.engine.storage.atomic import write_atomic
from charrnn_tui.widgets.temperature import TemperatureControl

ENV_CONFIG = "CHARRNN_TUI_CONFIG"
VERSION = 1
MAX_BYTES = 64 * 1024


@dataclass
class Session:
    tab: str = "corpus"
    model: str | None = None  # a store name, loaded into the Playground
    corpus: str | None = None  # a path or builtin:NAME, loaded into Corpus and Train
    playground: dict[str, str] = field(default_factory=dict)  # control id → value
    train: dict[str, str] = field(default_factory=dict)  # form field id → value
    theme: str | None = None  # picked in the command palette
    resume: str | None = None  # the store name Train's Start continues, if any
    insight: dict[str, str] = field(default_factory=dict)  # control id → value


def session_path() -> Path:
    folder = os.environ.get(ENV_CONFIG) or platformdirs.user_config_dir("charrnn-tui")
    return Path(folder).expanduser() / "session.json"


def _fields(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > 100 or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 4096
            for k, v in value.items()):
        raise ValueError(f"'{name}' is not a table of short texts")
    return dict(value)


def _text(value: object, name: str) -> str | None:
    if value is not None and not (isinstance(value, str) and 0 < len(value) <= 4096):
        raise ValueError(f"'{name}' is not a short text")
    return value


def load_session(path: Path | None = None) -> tuple[Session | None, str | None]:
    """The saved session, or None; and a notice when a file was there but unusable."""
    path = path or session_path()
    try:
        if not path.exists():
            return None, None
        if not path.is_file():
            raise ValueError("it is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ValueError(f"it is larger than {MAX_BYTES // 1024} KB")
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            raise ValueError("it was written by another version")
        if raw.get("tab") not in {tab for tab, _, _ in TABS}:
            raise ValueError("'tab' names no tab")
        return Session(raw["tab"], _text(raw.get("model"), "model"),
                       _text(raw.get("corpus"), "corpus"),
                       _fields(raw.get("playground", {}), "playground"),
                       _fields(raw.get("train", {}), "train"),
                       _text(raw.get("theme"), "theme"),
                       _text(raw.get("resume"), "resume"),
                       _fields(raw.get("insight", {}), "insight")), None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        return None, f"Starting fresh: the saved session ({path}) was ignored: {reason}"


def save_session(session: Session, path: Path | None = None) -> None:
    """Write atomically, as model files are: a crash leaves the old session or the new one."""
    payload = json.dumps({"version": VERSION, **asdict(session)}, ensure_ascii=False, indent=1)
    write_atomic(path or session_path(), payload.encode("utf-8"))


def read_controls(container: Widget, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """The values of the inputs, selects, switches and temperature inside `container`."""
    values = {}
    for w in container.query("Input, Select, Switch, TemperatureControl"):
        if not w.id or w.id in skip:
            continue
        if isinstance(w, Select):
            if not w.is_blank():
                values[w.id] = json.dumps(w.value)
        elif isinstance(w, Switch | TemperatureControl):
            values[w.id] = json.dumps(w.value)
        elif isinstance(w, Input):
            values[w.id] = w.value
    return values


def write_controls(container: Widget, values: dict[str, str], skip: tuple[str, ...] = ()
                   ) -> None:
    """Set the controls read by `read_controls`; values that no longer fit are left alone.

    Select changes are applied without their Changed message, so a restored preset does
    not overwrite the restored fields after it.
    """
    for w in container.query("Input, Select, Switch, TemperatureControl"):
        if not w.id or w.id in skip or w.id not in values:
            continue
        raw = values[w.id]
        try:
            if isinstance(w, Select):
                with w.prevent(Select.Changed):
                    w.value = json.loads(raw)
            elif isinstance(w, Switch):
                w.value = json.loads(raw) is True
            elif isinstance(w, TemperatureControl):
                value = json.loads(raw)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    w.value = float(value)
            elif isinstance(w, Input):
                w.value = raw
        except (ValueError, TypeError, InvalidSelectValueError):  # edited by hand, or an
            continue  # option that no longer exists: keep the control as it is
