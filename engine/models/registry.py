"""The one place that maps an implementation's name to its family (models/family.py)."""

from __future__ import annotations

from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models.family import ModelFamily
from charrnn_tui.engine.models.library import LibraryFamily
from charrnn_tui.engine.models.numpy_rnn import NumpyFamily
from charrnn_tui.engine.models.scratch import ScratchFamily
from charrnn_tui.engine.models.spec import IMPLEMENTATIONS, ModelSpec

FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (LibraryFamily(), ScratchFamily(),
                                                        NumpyFamily())}


def family_of(what: ModelSpec | str) -> ModelFamily:
    """The family of a spec (or of an implementation's name); ConfigError if unknown."""
    impl = what.impl if isinstance(what, ModelSpec) else what
    if not isinstance(impl, str) or impl not in FAMILIES:
        raise ConfigError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}")
    return FAMILIES[impl]
