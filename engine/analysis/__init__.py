"""Measurements about corpora, runs and models: reference entropies, loss curves, gradient flow."""
