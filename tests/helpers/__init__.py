"""Shared helpers for the engine, store and CLI tests (not collected as tests)."""
