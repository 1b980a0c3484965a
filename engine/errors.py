"""The engine's user-facing refusals share one base, so callers can tell them from bugs.

A `CharRNNError` carries a one-line reason written for the user (the CLI prints it and
exits 2); any other exception is a bug and keeps its traceback. It is a ValueError, as
the refusals always were, so existing handlers keep working.
"""

from __future__ import annotations


class CharRNNError(ValueError):
    """A refusal with a one-line reason fit for the user."""


class ConfigError(CharRNNError):
    """A model architecture or training setting that cannot be used."""
