"""What several commands' runs share: the command line's own refusal, and loading a model
while telling the user what the loader noticed."""

from __future__ import annotations

import sys
from pathlib import Path

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore


class UserError(CharRNNError):
    """A refusal of the command line's own; the engine's refusals are CharRNNErrors too."""


def load_checked(store: ModelStore, ref: str, *, arrays: bool = False):
    """A model by name or path, telling the user what the loader noticed (no checksum…);
    the built-ins ship inside the package, so there is nothing to tell about those.
    `arrays`: read it without torch (modelfile.load_arrays)."""
    path = store.resolve(ref)
    ckpt, meta = (modelfile.load_arrays if arrays else modelfile.load)(path)
    for notice in [] if path in store.read_only.values() else meta["notices"]:
        print(f"charrnn-tui: {notice}", file=sys.stderr)
    return ckpt


def check_writable(flag: str, dest: str) -> None:
    """Refuse an output path that is a folder or whose folder does not exist, before the
    work that would fill it."""
    path = Path(dest).expanduser()
    if path.is_dir():
        raise UserError(f"{flag} {dest}: is a folder; give a file name")
    if not path.absolute().parent.is_dir():
        raise UserError(f"{flag} {dest}: the folder {path.absolute().parent} does not exist")
