"""The corpus files a user opened lately, kept in data_home/recent.json."""

from __future__ import annotations

import json
from pathlib import Path

from charrnn_tui.engine.paths import data_home
from charrnn_tui.engine.storage.atomic import write_atomic

LIMIT = 10


def _file(home: str | None) -> Path:
    return data_home(home) / "recent.json"


def recent_sources(home: str | None) -> list[str]:
    """Most recent first; a missing or damaged file just means no history."""
    try:
        items = json.loads(_file(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [s for s in items if isinstance(s, str)][:LIMIT] if isinstance(items, list) else []


def remember_source(home: str | None, source: str) -> list[str]:
    """Put `source` first and save; failures to write are not worth interrupting the user."""
    items = [source] + [s for s in recent_sources(home) if s != source]
    items = items[:LIMIT]
    try:
        write_atomic(_file(home), json.dumps(items, indent=1).encode("utf-8"))
    except OSError:
        pass
    return items
