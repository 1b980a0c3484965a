"""Corpora: text files and built-ins, decoded and encoded, split and batched."""
